"""The evaluation arithmetic (the command itself runs against a real publication in test_pipeline)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from mainstream.cli import main
from mainstream.evaluate import (
    LabelsError,
    by_agency,
    criteria_group_codes,
    disagreements,
    evaluate,
    format_evaluation,
    read_labels,
    unknown_groups,
)


def _label(
    identifier: str, marker: int, peace: int = 0, humanitarian: int = 0, groups: list[str] | None = None
) -> dict:
    return {
        "id": identifier,
        "peace": peace,
        "development": 1,
        "rights": int(marker >= 2),
        "humanitarian": humanitarian,
        "hr_marker": marker,
        "groups": groups or [],
    }


def _prediction(marker: int, peace: bool = False, humanitarian: bool = False, groups: list[str] | None = None) -> dict:
    return {
        "peace": peace,
        "development": True,
        "rights": marker >= 2,
        "humanitarian": humanitarian,
        "hr_marker": marker,
        "groups": groups or [],
    }


def test_scores_confusion_and_missing_ids() -> None:
    labels = [
        _label("a", 3, peace=1, groups=["children", "women_girls"]),
        _label("b", 0, humanitarian=1),
        _label("c", 2, groups=["refugees_asylum_seekers"]),
        _label("missing", 1),
    ]
    predictions = {
        "a": _prediction(3, peace=True, groups=["children"]),
        "b": _prediction(2, peace=True, humanitarian=True),
        "c": _prediction(1, groups=["refugees_asylum_seekers", "migrants"]),
    }
    report = evaluate(labels, predictions)
    assert report["not_found"] == ["missing"]
    assert report["evaluated"] == 3
    assert report["peace"] == {"precision": 0.5, "recall": 1.0, "f1": 0.6667, "support": 1, "predicted": 2}
    assert report["humanitarian"]["f1"] == 1.0
    assert report["rights"] == {"precision": 0.5, "recall": 0.5, "f1": 0.5, "support": 2, "predicted": 2}
    assert report["hr_marker"]["exact"] == round(1 / 3, 4)
    assert report["hr_marker"]["within_one"] == round(2 / 3, 4)
    matrix = report["hr_marker"]["confusion"]["matrix"]
    assert matrix[3][3] == 1 and matrix[0][2] == 1 and matrix[2][1] == 1 and sum(map(sum, matrix)) == 3
    assert report["groups"] == {"precision": 0.6667, "recall": 0.6667, "f1": 0.6667, "support": 3, "predicted": 3}


def test_labels_file_errors_name_the_line(tmp_path: Path) -> None:
    path = tmp_path / "labels.jsonl"
    path.write_text(json.dumps(_label("a", 1)) + "\n" + '{"id": "b", "peace": 0}\n')
    with pytest.raises(LabelsError, match="line 2 lacks development, rights, humanitarian, hr_marker"):
        read_labels(path)
    path.write_text("not json\n")
    with pytest.raises(LabelsError, match="line 1 is not JSON"):
        read_labels(path)


@pytest.mark.parametrize(
    ("changed", "message"),
    [
        ({"peace": 2}, "line 2: peace must be 0 or 1, not 2"),
        ({"rights": "yes"}, "line 2: rights must be 0 or 1, not 'yes'"),
        ({"hr_marker": True}, "line 2: hr_marker must be 0-3, not True"),
        ({"hr_marker": 1.0}, "line 2: hr_marker must be 0-3, not 1.0"),
        ({"groups": "women_girls"}, "line 2: groups must be a list of group codes"),
        ({"id": ""}, "line 2: id must be a non-empty string"),
        ({"id": "a"}, "line 2: id 'a' is labelled again \\(first on line 1\\)"),
    ],
)
def test_label_values_a_score_would_misread_name_the_line_and_field(
    tmp_path: Path, changed: dict, message: str
) -> None:
    path = tmp_path / "labels.jsonl"
    path.write_text(json.dumps(_label("a", 1)) + "\n" + json.dumps({**_label("b", 2), **changed}) + "\n")
    with pytest.raises(LabelsError, match=f"labels.jsonl: {message}"):
        read_labels(path)


def test_true_and_false_read_as_1_and_0(tmp_path: Path) -> None:
    path = tmp_path / "labels.jsonl"
    path.write_text(json.dumps({**_label("a", 2), "peace": True, "humanitarian": False}) + "\n")
    (label,) = read_labels(path)
    assert evaluate([label], {"a": _prediction(2, peace=True)})["peace"]["f1"] == 1.0


def test_disagreements_name_what_differs_with_the_evidence_and_the_note() -> None:
    labels = [
        {**_label("agrees", 1), "note": "passing mention"},
        {**_label("differs", 2, groups=["children"]), "note": "rights-based approach"},
        _label("missing", 3),
    ]
    predictions = {
        "agrees": _prediction(1),
        "differs": {
            **_prediction(1, humanitarian=True, groups=["idps"]),
            "marker_justification": "Marker 1 (limited): x",
        },
    }
    records = disagreements(labels, predictions)
    assert records == [
        {
            "id": "differs",
            "differences": {
                "rights": {"labelled": 1, "computed": 0},
                "humanitarian": {"labelled": 0, "computed": 1},
                "hr_marker": {"labelled": 2, "computed": 1},
                "groups": {"missing": ["children"], "extra": ["idps"]},
            },
            "marker_justification": "Marker 1 (limited): x",
            "note": "rights-based approach",
        }
    ]
    report = {**evaluate(labels, predictions), "published_db": "p.duckdb", "disagreements": records}
    text = format_evaluation(report)
    assert "disagreements (1 programmes):" in text
    assert "- differs: rights labelled 1 computed 0; humanitarian labelled 0 computed 1; hr_marker labelled 2" in text
    assert "groups missing ['children'] extra ['idps']" in text
    assert "computed: Marker 1 (limited): x" in text and "label note: rights-based approach" in text


def test_scores_by_agency_split_the_records_and_mark_empty_classes() -> None:
    """Each agency is scored on its own programmes, largest first; an F1 with no labelled and no computed
    positive prints as "-", while false positives alone print as 0.000."""
    labels = [
        _label("u1", 2),
        _label("u2", 1),
        _label("u3", 0),
        _label("i1", 0, peace=0),
        _label("x1", 1),
        _label("gone", 2),
    ]
    predictions = {
        "u1": {**_prediction(2), "agency_code": "undp"},
        "u2": {**_prediction(2), "agency_code": "undp"},
        "u3": {**_prediction(0), "agency_code": "undp"},
        "i1": {**_prediction(0, peace=True), "agency_code": "iom"},
        "x1": {**_prediction(1), "agency_code": "un-disability-fund"},
    }
    agencies = by_agency(labels, predictions)
    assert list(agencies) == ["undp", "iom", "un-disability-fund"]
    assert agencies["undp"]["evaluated"] == 3 and agencies["iom"]["evaluated"] == 1
    assert agencies["undp"]["rights"] == {"precision": 0.5, "recall": 1.0, "f1": 0.6667, "support": 1, "predicted": 2}
    assert agencies["undp"]["hr_marker"]["exact"] == round(2 / 3, 4)
    assert agencies["iom"]["peace"] == {"precision": 0.0, "recall": 0.0, "f1": 0.0, "support": 0, "predicted": 1}

    report = {**evaluate(labels, predictions), "published_db": "p.duckdb", "by_agency": agencies}
    lines = format_evaluation(report).splitlines()
    table = lines[lines.index("by agency (F1; marker exact):") + 1 :][:4]
    # A long agency code widens the column instead of pushing its row out of line.
    assert len({len(line) for line in table}) == 1
    rows = {line.split()[0]: line.split() for line in table[1:]}
    # agency, records, peace, rights, humanitarian, groups, exact
    assert rows["undp"] == ["undp", "3", "-", "0.667", "-", "-", "0.667"]
    assert rows["iom"] == ["iom", "1", "0.000", "-", "-", "-", "1.000"]


def test_the_command_reports_a_bad_labels_file_without_a_traceback(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "labels.jsonl"
    path.write_text(json.dumps({**_label("a", 1), "peace": 2}) + "\n")

    assert main(["--home", str(tmp_path / "home"), "eval", "--labels", str(path)]) == 1

    captured = capsys.readouterr()
    assert "mainstream eval: labels.jsonl: line 1: peace must be 0 or 1, not 2" in captured.err
    assert "Traceback" not in captured.err and captured.out == ""


def test_a_labels_file_that_cannot_be_read_as_labels_says_why(tmp_path: Path) -> None:
    path = tmp_path / "labels.jsonl"
    path.write_text("\n  \n")
    with pytest.raises(LabelsError, match=r"labels\.jsonl: holds no labels"):
        read_labels(path)
    path.write_text(json.dumps(_label("a", 1)) + "\n", encoding="utf-16")
    with pytest.raises(LabelsError, match=r"labels\.jsonl: not UTF-8 text \(byte 0 of the file\)"):
        read_labels(path)
    with pytest.raises(LabelsError, match="is a folder"):
        read_labels(tmp_path)
    # A byte order mark, as some editors write, is not part of the first record.
    path.write_text(json.dumps(_label("a", 1)) + "\n", encoding="utf-8-sig")
    assert [label["id"] for label in read_labels(path)] == ["a"]


def test_group_codes_the_criteria_do_not_know_are_reported_with_their_count() -> None:
    rubric_groups = {
        "women_girls", "children", "youth", "persons_with_disabilities", "refugees_asylum_seekers", "migrants",
        "idps", "indigenous_peoples", "minorities", "older_persons", "lgbti", "hr_defenders",
        "persons_deprived_of_liberty",
    }  # fmt: skip
    assert criteria_group_codes() == rubric_groups
    labels = [_label("a", 1, groups=["chidren", "youth"]), _label("b", 1, groups=["chidren", "Women_girls"])]
    found = unknown_groups(labels, rubric_groups)
    assert found == {"Women_girls": 1, "chidren": 2}
    report = {
        **evaluate(labels, {"a": _prediction(1, groups=["children"])}),
        "published_db": "x",
        "unknown_groups": found,
    }
    assert "groups the criteria do not know, each scored as a miss: Women_girls (1), chidren (2)" in format_evaluation(
        report
    )
