"""``mainstream eval``: measure the latest publication against labels in the rubric's format."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import duckdb

from mainstream.seeds import seed_rows

BINARY_LABELS = ("peace", "development", "rights", "humanitarian")
PUBLISHED_COLUMNS = {
    "peace": "is_peace",
    "development": "is_development",
    "rights": "is_rights",
    "humanitarian": "is_humanitarian",
}
MARKER_LEVELS = (0, 1, 2, 3)


class LabelsError(ValueError):
    """The labels file is not in the rubric's format; the message names the line."""


def read_labels(path: Path) -> list[dict[str, Any]]:
    """Labels: one JSON object per line with id, peace, development, rights, humanitarian, hr_marker, groups."""
    if path.is_dir():
        raise LabelsError(f"{path}: is a folder; give a labels file (JSON lines, one record per line)")
    try:
        # utf-8-sig: a byte order mark, as some editors write, is not part of the first record.
        text = path.read_bytes().decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise LabelsError(
            f"{path.name}: not UTF-8 text (byte {error.start} of the file); save the labels as UTF-8 JSON lines"
        ) from error
    labels = []
    first_line_of: dict[str, int] = {}
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as error:
            raise LabelsError(f"{path.name}: line {number} is not JSON: {error.msg}") from error
        if not isinstance(record, dict):
            raise LabelsError(f"{path.name}: line {number} is not a JSON object")
        missing = [key for key in ("id", *BINARY_LABELS, "hr_marker") if key not in record]
        if missing:
            raise LabelsError(f"{path.name}: line {number} lacks {', '.join(missing)}")
        _check_label_values(record, f"{path.name}: line {number}")
        if record["id"] in first_line_of:
            raise LabelsError(
                f"{path.name}: line {number}: id {record['id']!r} is labelled again (first on line"
                f" {first_line_of[record['id']]}); each programme counts once"
            )
        first_line_of[record["id"]] = number
        labels.append(record)
    if not labels:
        raise LabelsError(f"{path.name}: holds no labels (one JSON object per line, in the rubric's format)")
    return labels


def _check_label_values(record: dict[str, Any], where: str) -> None:
    """Values a score would silently misread: a pillar of 2 counts as neither 0 nor 1, a string as a group list."""
    if not isinstance(record["id"], str) or not record["id"].strip():
        raise LabelsError(f"{where}: id must be a non-empty string, not {record['id']!r}")
    for key in BINARY_LABELS:
        # bool is an int: true and false are read as 1 and 0.
        if not isinstance(record[key], int) or record[key] not in (0, 1):
            raise LabelsError(f"{where}: {key} must be 0 or 1, not {record[key]!r}")
    if (
        not isinstance(record["hr_marker"], int)
        or isinstance(record["hr_marker"], bool)
        or (record["hr_marker"] not in MARKER_LEVELS)
    ):
        raise LabelsError(f"{where}: hr_marker must be 0-3, not {record['hr_marker']!r}")
    groups = record.get("groups", [])
    if not isinstance(groups, list) or not all(isinstance(group, str) for group in groups):
        raise LabelsError(f"{where}: groups must be a list of group codes (strings), not {groups!r}")


def read_publication(published_db: Path) -> dict[str, Any]:
    """Which publication was scored: its run and criteria version (older publications lack the version)."""
    with duckdb.connect(str(published_db), read_only=True) as connection:
        columns = [row[0] for row in connection.execute("select column_name from (describe publication)").fetchall()]
        wanted = [name for name in ("run_id", "published_at", "criteria_version") if name in columns]
        row = connection.execute(f"select {', '.join(wanted)} from publication").fetchone()
    return {name: str(value) for name, value in zip(wanted, row or (), strict=False)}


def read_predictions(published_db: Path, ids: list[str]) -> dict[str, dict[str, Any]]:
    """The published tags of the given programme ids."""
    if not published_db.exists():
        raise FileNotFoundError(f"{published_db}: nothing published yet; publish before evaluating")
    with duckdb.connect(str(published_db), read_only=True) as connection:
        connection.execute("create temp table wanted (programme_id varchar)")
        connection.executemany("insert into wanted values (?)", [[identifier] for identifier in ids])
        rows = connection.execute(
            """
            select p.programme_id, p.is_peace, p.is_development, p.is_rights, p.is_humanitarian, p.hr_marker,
                   p.marker_justification, p.agency_code,
                   coalesce(list(t.criterion_code order by t.criterion_code)
                            filter (where t.criterion_code is not null), []) as groups
            from dim_programme p
            join wanted using (programme_id)
            left join fct_programme_tag t
                on t.programme_id = p.programme_id and t.criterion_type = 'group'
            group by all
            """
        ).fetchall()
    return {
        row[0]: {
            "peace": row[1],
            "development": row[2],
            "rights": row[3],
            "humanitarian": row[4],
            "hr_marker": row[5],
            "marker_justification": row[6],
            "agency_code": row[7],
            "groups": list(row[8]),
        }
        for row in rows
    }


def _prf(true_positive: int, false_positive: int, false_negative: int) -> dict[str, float]:
    precision = true_positive / (true_positive + false_positive) if true_positive + false_positive else 0.0
    recall = true_positive / (true_positive + false_negative) if true_positive + false_negative else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {
        "precision": round(precision, 4),
        "recall": round(recall, 4),
        "f1": round(f1, 4),
        "support": true_positive + false_negative,
        "predicted": true_positive + false_positive,
    }


def disagreements(labels: list[dict[str, Any]], predictions: dict[str, dict[str, Any]]) -> list[dict[str, Any]]:
    """Every found record whose computed tags differ from its labels: what differs, the marker's justification
    (the evidence it cites) and the labeller's note, so a reviewer can tell a criteria gap from a judgement call."""
    records = []
    for label in labels:
        predicted = predictions.get(label["id"])
        if predicted is None:
            continue
        differences = {
            name: {"labelled": int(label[name]), "computed": int(predicted[name])}
            for name in (*BINARY_LABELS, "hr_marker")
            if int(label[name]) != int(predicted[name])
        }
        labelled_groups, computed_groups = set(label.get("groups", [])), set(predicted["groups"])
        if labelled_groups != computed_groups:
            differences["groups"] = {
                "missing": sorted(labelled_groups - computed_groups),
                "extra": sorted(computed_groups - labelled_groups),
            }
        if differences:
            records.append(
                {
                    "id": label["id"],
                    "differences": differences,
                    "marker_justification": predicted.get("marker_justification"),
                    "note": label.get("note"),
                }
            )
    return records


def evaluate(labels: list[dict[str, Any]], predictions: dict[str, dict[str, Any]]) -> dict[str, Any]:
    found = [label for label in labels if label["id"] in predictions]
    report: dict[str, Any] = {
        "labels": len(labels),
        "evaluated": len(found),
        "not_found": sorted(label["id"] for label in labels if label["id"] not in predictions),
    }
    for name in BINARY_LABELS:
        pairs = [(bool(label[name]), bool(predictions[label["id"]][name])) for label in found]
        report[name] = _prf(
            sum(gold and predicted for gold, predicted in pairs),
            sum(predicted and not gold for gold, predicted in pairs),
            sum(gold and not predicted for gold, predicted in pairs),
        )
    confusion = [[0] * len(MARKER_LEVELS) for _ in MARKER_LEVELS]
    for label in found:
        confusion[label["hr_marker"]][predictions[label["id"]]["hr_marker"]] += 1
    total = len(found) or 1
    report["hr_marker"] = {
        "exact": round(sum(confusion[level][level] for level in MARKER_LEVELS) / total, 4),
        "within_one": round(
            sum(confusion[g][p] for g in MARKER_LEVELS for p in MARKER_LEVELS if abs(g - p) <= 1) / total, 4
        ),
        "confusion": {"rows": "gold 0-3", "columns": "predicted 0-3", "matrix": confusion},
    }
    gold_pairs = {(label["id"], group) for label in found for group in label.get("groups", [])}
    predicted_pairs = {(label["id"], group) for label in found for group in predictions[label["id"]]["groups"]}
    report["groups"] = _prf(
        len(gold_pairs & predicted_pairs), len(predicted_pairs - gold_pairs), len(gold_pairs - predicted_pairs)
    )
    return report


def by_agency(labels: list[dict[str, Any]], predictions: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """The same measures for each publishing agency's programmes (largest first): where the criteria are weak
    shows by agency, and a label set drawn in another agency mix can be compared agency by agency."""
    labels_by_agency: dict[str, list[dict[str, Any]]] = {}
    for label in labels:
        if label["id"] in predictions:
            agency = predictions[label["id"]].get("agency_code") or "(no agency)"
            labels_by_agency.setdefault(agency, []).append(label)
    ordered = sorted(labels_by_agency.items(), key=lambda item: (-len(item[1]), item[0]))
    # Only found labels are grouped, so no agency has ids that were not found.
    return {
        agency: {key: value for key, value in evaluate(agency_labels, predictions).items() if key != "not_found"}
        for agency, agency_labels in ordered
    }


def criteria_group_codes() -> set[str]:
    """The rights-holder group codes the criteria know (the rubric's list, as seeded)."""
    return {row["group_code"] for row in seed_rows("criteria", "criteria_rights_holder_groups")}


def unknown_groups(labels: list[dict[str, Any]], known: set[str]) -> dict[str, int]:
    """Group codes the labels use that the criteria do not know, with how many labels use each: the criteria can
    never find them, so each counts as a miss (a typo such as "chidren", or another vocabulary)."""
    counts: dict[str, int] = {}
    for label in labels:
        for group in label.get("groups", []):
            if group not in known:
                counts[group] = counts.get(group, 0) + 1
    return dict(sorted(counts.items()))


def evaluate_publication(
    published_db: Path, labels_path: Path, with_disagreements: bool = False, with_agencies: bool = False
) -> dict[str, Any]:
    labels = read_labels(labels_path)
    predictions = read_predictions(published_db, [label["id"] for label in labels])
    report = evaluate(labels, predictions)
    report["unknown_groups"] = unknown_groups(labels, criteria_group_codes())
    report["published_db"] = str(published_db)
    report["publication"] = read_publication(published_db)
    if with_agencies:
        report["by_agency"] = by_agency(labels, predictions)
    if with_disagreements:
        report["disagreements"] = disagreements(labels, predictions)
    return report


def format_evaluation(report: dict[str, Any]) -> str:
    publication = report.get("publication", {})
    scored = ", ".join(f"{name} {publication[name]}" for name in ("run_id", "criteria_version") if name in publication)
    lines = [
        f"Evaluated {report['evaluated']} of {report['labels']} labelled programmes ({report['published_db']}"
        + (f"; {scored})" if scored else ")"),
        f"{'label':<14}{'precision':>10}{'recall':>8}{'F1':>8}{'support':>9}",
    ]
    for name in (*BINARY_LABELS, "groups"):
        scores = report[name]
        lines.append(
            f"{name:<14}{scores['precision']:>10.3f}{scores['recall']:>8.3f}{scores['f1']:>8.3f}{scores['support']:>9}"
        )
    marker = report["hr_marker"]
    lines.append(f"hr_marker exact {marker['exact']:.3f}, within one {marker['within_one']:.3f}")
    lines.append("confusion (rows gold 0-3, columns predicted 0-3):")
    lines.extend("  " + " ".join(f"{count:>4}" for count in row) for row in marker["confusion"]["matrix"])
    if "by_agency" in report:
        agency_width = max([12, *(len(agency) + 2 for agency in report["by_agency"])])
        lines.append("by agency (F1; marker exact):")
        lines.append(
            f"  {'agency':<{agency_width}}{'records':>8}"
            f"{'peace':>8}{'rights':>8}{'humanit.':>9}{'groups':>8}{'exact':>8}"
        )
        for agency, scores in report["by_agency"].items():
            lines.append(
                f"  {agency:<{agency_width}}{scores['evaluated']:>8}"
                + "".join(
                    _f1_cell(scores[name], width)
                    for name, width in (("peace", 8), ("rights", 8), ("humanitarian", 9), ("groups", 8))
                )
                + f"{scores['hr_marker']['exact']:>8.3f}"
            )
    if report.get("unknown_groups"):
        lines.append(
            "groups the criteria do not know, each scored as a miss: "
            + ", ".join(f"{group} ({count})" for group, count in report["unknown_groups"].items())
        )
    if report["not_found"]:
        lines.append(f"not found in the publication ({len(report['not_found'])}): " + ", ".join(report["not_found"]))
    if "disagreements" in report:
        lines.append(f"disagreements ({len(report['disagreements'])} programmes):")
        lines.extend(_format_disagreement(record) for record in report["disagreements"])
    return "\n".join(lines)


def _f1_cell(scores: dict[str, float], width: int) -> str:
    """An F1 score, or "-" where an agency's labels have no positive and the tagger found none either."""
    if not scores["support"] and not scores["predicted"]:
        return f"{'-':>{width}}"
    return f"{scores['f1']:>{width}.3f}"


def _format_disagreement(record: dict[str, Any]) -> str:
    differences = []
    for name, difference in record["differences"].items():
        if name == "groups":
            differences.append(f"groups missing {difference['missing']} extra {difference['extra']}")
        else:
            differences.append(f"{name} labelled {difference['labelled']} computed {difference['computed']}")
    return (
        f"- {record['id']}: "
        + "; ".join(differences)
        + f"\n    computed: {record['marker_justification']}"
        + (f"\n    label note: {record['note']}" if record.get("note") else "")
    )
