"""Regression floors on the project's own labelled check sets (not gold: see tests/fixtures/README.md).

The dev-set test holds issue 3's targets on the records the criteria were calibrated on; these sets are larger,
random (project_check, project_check_calibrated) or peace-heavy (project_check_peace), and were labelled blind by
the project. The floors
sit a few records below what the criteria score now, so a criteria or matching change that quietly costs
several labels elsewhere fails here.
"""

from __future__ import annotations

import json

import duckdb
import pytest

from mainstream.cli import main
from mainstream.home import Home
from mainstream.pipeline import build_audit_publish, ingest_paths
from tests.helpers import FIXTURES

pytestmark = pytest.mark.xdist_group("check_sets")

FLOORS: dict[str, dict[str, float]] = {
    # measured 2026-11-29, third session's criteria (300 records): peace 0.769, rights 0.894, humanitarian 0.920,
    # groups 0.892, exact 0.857, within one 0.997
    "project_check": {
        "peace": 0.73,
        "rights": 0.83,
        "humanitarian": 0.89,
        "groups": 0.86,
        "exact": 0.81,
        "within_one": 0.96,
    },
    # measured 2026-11-29, third session: peace 1.000, rights 0.857, humanitarian 0.923, groups 0.884, exact 0.850,
    # within 0.975
    "project_check_peace": {
        "peace": 0.90,
        "rights": 0.83,
        "humanitarian": 0.88,
        "groups": 0.85,
        "exact": 0.80,
        "within_one": 0.95,
    },
    # measured 2026-11-29, fourth session's criteria (278 records in the gold dev set's agency mix, 16 of them peace):
    # peace 0.828, rights 0.855, humanitarian 0.901, groups 0.855, exact 0.856, within one 1.000
    "project_check_devmix": {
        "peace": 0.75,
        "rights": 0.82,
        "humanitarian": 0.88,
        "groups": 0.82,
        "exact": 0.83,
        "within_one": 0.97,
    },
    # measured 2026-11-29, fourth session's criteria (992 records, 39 of them peace): peace 0.744, rights 0.849,
    # humanitarian 0.916, groups 0.867, exact 0.851, within one 0.994
    "project_check_calibrated": {
        "peace": 0.72,
        "rights": 0.82,
        "humanitarian": 0.90,
        "groups": 0.84,
        "exact": 0.81,
        "within_one": 0.97,
    },
}


@pytest.fixture(scope="module")
def check_home(tmp_path_factory: pytest.TempPathFactory) -> Home:
    home = Home(tmp_path_factory.mktemp("check_sets") / "home").ensure()
    ingest_paths([FIXTURES / "iati" / f"{name}.xml" for name in FLOORS], home)
    build_audit_publish(home)
    return home


@pytest.mark.parametrize("name", sorted(FLOORS))
def test_check_set_stays_above_its_floors(name: str, check_home: Home, capsys: pytest.CaptureFixture[str]) -> None:
    labels = FIXTURES / "gold" / f"{name}.jsonl"
    code = main(
        ["--home", str(check_home.root), "eval", "--labels", str(labels), "--json", "--disagreements", "--by-agency"]
    )
    report = json.loads(capsys.readouterr().out)
    assert code == 0
    assert report["not_found"] == [] and report["evaluated"] == len(labels.read_text().splitlines())
    # The report names the publication it scored, so runs before and after a criteria change can be told apart.
    [(run_id, criteria_version)] = (
        duckdb.connect(str(check_home.published_db), read_only=True)
        .execute(
            "select run_id, publication.criteria_version from publication"
            " where criteria_version = (select any_value(criteria_version) from dim_programme)"
        )
        .fetchall()
    )
    assert (report["publication"]["run_id"], report["publication"]["criteria_version"]) == (run_id, criteria_version)
    scores = {label: report[label]["f1"] for label in ("peace", "rights", "humanitarian", "groups")}
    scores |= {"exact": report["hr_marker"]["exact"], "within_one": report["hr_marker"]["within_one"]}
    below = {measure: round(scores[measure], 3) for measure, floor in FLOORS[name].items() if scores[measure] < floor}
    assert not below, f"{name}: below the floors {FLOORS[name]}: {below}"
    # Scored agency by agency, the records add up to the whole, and so do the labelled rights.
    agencies = report["by_agency"]
    assert len(agencies) > 1 and sum(scores["evaluated"] for scores in agencies.values()) == report["evaluated"]
    assert sum(scores["rights"]["support"] for scores in agencies.values()) == report["rights"]["support"]
    # Every listed disagreement says what differs and cites the published justification; the marker ones add up
    # to the confusion matrix's off-diagonal.
    listed = report["disagreements"]
    assert listed and all(record["differences"] for record in listed)
    assert all(record["marker_justification"].startswith("Marker ") for record in listed)
    matrix = report["hr_marker"]["confusion"]["matrix"]
    off_diagonal = sum(matrix[g][p] for g in range(4) for p in range(4) if g != p)
    assert sum("hr_marker" in record["differences"] for record in listed) == off_diagonal


# What a load stamps on its rows (which extract, when, from which stored file) differs between two loads of the
# same files; everything else the marts publish must not.
LOAD_COLUMNS = {"extract_id", "loaded_at", "source_file", "run_id", "published_at", "audit_summary"}


def test_the_same_extracts_loaded_in_another_order_publish_the_same_tags(
    check_home: Home, tmp_path_factory: pytest.TempPathFactory
) -> None:
    """Issue 3: same input and criteria version, same tags. The check sets are loaded again into a new home in
    the opposite order (so every table is laid out differently and DuckDB's threads meet the rows in another
    order), and in two builds, the second of which scans only the texts the first did not (int_text_spans keeps
    what it found): every published table must hold the same rows, apart from what identifies the load."""
    other = Home(tmp_path_factory.mktemp("check_sets_again") / "home").ensure()
    files = [FIXTURES / "iati" / f"{name}.xml" for name in reversed(list(FLOORS))]
    ingest_paths(files[:2], other)
    build_audit_publish(other)
    with duckdb.connect(str(other.build_db), read_only=True) as connection:
        [(texts_first_build,)] = connection.execute(
            "select count(distinct text_key) from intermediate.int_text_spans"
        ).fetchall()
    ingest_paths(files[2:], other)
    build_audit_publish(other)
    with duckdb.connect(str(other.build_db), read_only=True) as connection:
        [(texts, versions)] = connection.execute(
            "select count(distinct text_key), count(distinct scan_version) from intermediate.int_text_spans"
        ).fetchall()
    assert texts > texts_first_build > 0 and versions == 1

    with duckdb.connect() as connection:
        connection.execute(f"attach '{check_home.published_db}' as first (read_only)")
        connection.execute(f"attach '{other.published_db}' as second (read_only)")
        tables = connection.execute(
            "select schema_name, table_name from duckdb_tables() where database_name = 'first' order by 1, 2"
        ).fetchall()
        assert {("main", "dim_programme"), ("main", "fct_programme_tag"), ("main", "bridge_programme_right")} <= set(
            tables
        )
        differing = {}
        for schema, name in tables:
            columns = [
                row[0]
                for row in connection.execute(
                    "select column_name from duckdb_columns() where database_name = 'first' and schema_name = ? "
                    "and table_name = ? order by column_index",
                    [schema, name],
                ).fetchall()
                if row[0] not in LOAD_COLUMNS
            ]
            if not columns:  # the publication record itself: which run, when, what the audit said
                continue
            table = f"{schema}.{name}"
            selected = ", ".join(f'"{column}"' for column in columns)
            only_first, only_second = connection.execute(
                f"select (select count(*) from (select {selected} from first.{table} "
                f"except all select {selected} from second.{table})), "
                f"(select count(*) from (select {selected} from second.{table} "
                f"except all select {selected} from first.{table}))"
            ).fetchone()
            if only_first or only_second:
                rows = connection.execute(f"select count(*) from first.{table}").fetchone()[0]
                differing[table] = (rows, only_first, only_second)
        assert connection.execute("select count(*) from first.main.fct_programme_tag").fetchone()[0] > 10_000
    assert not differing, f"tables whose rows differ between the two loads (rows, only first, only second): {differing}"
