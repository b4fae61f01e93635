"""``mainstream retract``: a loaded extract withdrawn from the warehouse, kept on disk, and loadable again."""

from __future__ import annotations

import json
from pathlib import Path

import duckdb
import pytest

from mainstream.cli import main
from mainstream.home import SAMPLE_DATA_DIR, Home
from mainstream.ledger import Ledger, RunRecord, utc_now_precise
from mainstream.pipeline import changes_not_built, ingest_paths
from mainstream.retraction import RetractionError, retract_extract
from mainstream.status import collect_status, format_status

CSV = SAMPLE_DATA_DIR / "csv" / "undp" / "programmes.csv"


def _csv(folder: Path, name: str, text: str) -> Path:
    path = folder / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def _published(home: Home, sql: str) -> list[tuple]:
    with duckdb.connect(str(home.published_db), read_only=True) as connection:
        return connection.execute(sql).fetchall()


def _sample_ids() -> set[str]:
    with duckdb.connect() as connection:
        return {row[0] for row in connection.execute("select programme_id from read_csv(?)", [str(CSV)]).fetchall()}


@pytest.mark.xdist_group("pipeline")
def test_a_wrong_agency_and_a_bad_correction_are_retracted_and_the_file_loads_again(
    home: Home, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """UNDP's file processed as UNICEF's, and a correction of L-1 that the agency takes back: both retracted.

    The published marts lose the wrongly attributed programmes and get L-1's earlier version back; the same file
    then loads under UNDP (it is no duplicate of a retracted extract); the raw files and the archived drops stay.
    """
    outside = tmp_path / "share"
    [first] = ingest_paths(
        [_csv(outside / "v1", "legal-aid.csv", "programme_id,title\nL-1,Legal aid clinics\n")], home, agency="undp"
    )
    [wrong] = ingest_paths([CSV], home, agency="unicef")
    [correction] = ingest_paths(
        [_csv(outside / "v2", "legal-aid.csv", "programme_id,title\nL-1,Typo title\n")], home, agency="undp"
    )
    assert (first.state, wrong.state, correction.state) == ("loaded", "loaded", "loaded")
    sample_ids = _sample_ids()

    assert (
        main(
            [
                "--home",
                str(home.root),
                "retract",
                correction.extract_id,
                "--reason",
                "agency took it back",
                "--no-build",
            ]
        )
        == 0
    )
    capsys.readouterr()
    code = main(
        ["--home", str(home.root), "retract", wrong.extract_id, "--reason", "UNDP's file sent as UNICEF's", "--json"]
    )

    assert code == 0
    result = json.loads(capsys.readouterr().out)
    assert result["run"]["state"] == "published" and result["run"]["trigger"] == "cli:retract"
    assert result["retraction"]["rows_loaded"] == len(sample_ids)
    assert _published(home, "select programme_id, agency_code, title from dim_programme") == [
        ("L-1", "undp", "Legal aid clinics")
    ]
    for extract in (wrong, correction):
        moved = {path.name for path in (home.retracted / extract.extract_id).iterdir()}
        archived_name = f"{extract.extract_id}__{extract.file_name}"
        assert (
            {"programmes.parquet", archived_name}
            <= moved
            <= {"programmes.parquet", "programme_codes.parquet", archived_name}
        )
        assert not (home.raw / "programmes" / f"{extract.extract_id}.parquet").exists()
        assert (
            Path(Ledger(home.state_db).drop(extract.extract_id)["stored_path"])
            == home.retracted / extract.extract_id / archived_name
        )

    [again] = ingest_paths([CSV], home, agency="undp")
    assert again.state == "loaded", again.reason
    assert main(["--home", str(home.root), "process", "--rebuild"]) == 0
    published = dict(_published(home, "select programme_id, agency_code from dim_programme"))
    assert published == {"L-1": "undp", **dict.fromkeys(sample_ids, "undp")}

    shown = format_status(collect_status(home))
    retraction = Ledger(home.state_db).drop(wrong.extract_id)
    assert (
        f"retracted at {retraction['retracted_at']} by {retraction['retracted_by']}: UNDP's file sent as UNICEF's"
        in shown
    )
    assert f"extract={again.extract_id}" in shown


@pytest.mark.xdist_group("pipeline")
def test_the_only_extract_is_retracted_and_replaced_by_the_corrected_file(
    home: Home, capsys: pytest.CaptureFixture[str]
) -> None:
    """The one file a new home ever loaded, under the wrong agency: retracting it leaves nothing to build, so the
    publication keeps it (exit 4) until the same file loads under the right agency, whose build leaves it out."""
    [wrong] = ingest_paths([CSV], home, agency="unicef")
    assert main(["--home", str(home.root), "process", "--rebuild"]) == 0
    capsys.readouterr()

    code = main(
        ["--home", str(home.root), "retract", wrong.extract_id, "--reason", "UNICEF folder by mistake", "--json"]
    )

    assert code == 4
    result = json.loads(capsys.readouterr().out)
    assert "no extract is left to build" in result["error"]
    assert {agency for (agency,) in _published(home, "select distinct agency_code from dim_programme")} == {"unicef"}
    status = collect_status(home)
    assert [row["extract_id"] for row in status["retractions_not_built"]] == [wrong.extract_id]
    [drop] = status["drops"]
    assert (drop["state"], drop["retraction_reason"]) == ("retracted", "UNICEF folder by mistake")
    assert "@" in drop["retracted_by"]
    assert "Retracted, waiting for a build" in format_status(status)

    assert main(["--home", str(home.root), "process", "--agency", "undp", str(CSV)]) == 0
    assert {agency for (agency,) in _published(home, "select distinct agency_code from dim_programme")} == {"undp"}
    latest = Ledger(home.state_db).recent_drops(1)[0]
    assert latest["state"] == "loaded" and f"identical to extract {wrong.extract_id}, retracted at" in latest["reason"]
    assert collect_status(home)["retractions_not_built"] == []


def test_what_cannot_be_retracted_says_why_and_changes_nothing(
    home: Home, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    [loaded] = ingest_paths([CSV], home, agency="undp")
    [duplicate] = ingest_paths(
        [_csv(tmp_path / "copy", "programmes.csv", CSV.read_text(encoding="utf-8"))], home, agency="undp"
    )
    files_before = sorted(str(path.relative_to(home.root)) for path in home.root.rglob("*") if path.is_file())

    cases = {
        "no-such-extract": "no extract 'no-such-extract' in the ledger",
        duplicate.extract_id: "was duplicate, not loaded",
    }
    for extract_id, expected in cases.items():
        with pytest.raises(RetractionError, match=expected):
            retract_extract(home, extract_id, "a reason")
    with pytest.raises(RetractionError, match="say why"):
        retract_extract(home, loaded.extract_id, "  ")
    capsys.readouterr()
    assert (
        main(["--home", str(home.root), "retract", loaded.extract_id, "--json"]) == 1
    )  # no --reason: not argparse's 2
    assert "say why" in json.loads(capsys.readouterr().out)["error"]

    files_after = sorted(str(path.relative_to(home.root)) for path in home.root.rglob("*") if path.is_file())
    assert files_after == files_before
    assert Ledger(home.state_db).drop(loaded.extract_id)["retracted_at"] is None


def test_a_retraction_stopped_half_way_is_finished_and_one_built_is_refused(home: Home, tmp_path: Path) -> None:
    [kept] = ingest_paths([_csv(tmp_path / "a", "a.csv", "programme_id,title\nA-1,Water\n")], home, agency="undp")
    [withdrawn] = ingest_paths([_csv(tmp_path / "b", "b.csv", "programme_id,title\nB-1,Food\n")], home, agency="undp")
    [copy] = ingest_paths([_csv(tmp_path / "c", "b.csv", "programme_id,title\nB-1,Food\n")], home, agency="undp")
    assert copy.state == "duplicate"  # its archived copy must leave archive/ with the retraction too
    archived = Path(Ledger(home.state_db).drop(withdrawn.extract_id)["stored_path"])
    (home.warehouse / "build.stamp").write_text("run-before\n", encoding="utf-8")
    # A retraction recorded by a process that stopped before it moved the files.
    Ledger(home.state_db).record_retraction(withdrawn.extract_id, "test data", "someone@host")

    finished = retract_extract(home, withdrawn.extract_id, "another reason")

    assert (finished.reason, finished.resumed) == ("test data", True), "the recorded retraction stands"
    assert not (home.raw / "programmes" / f"{withdrawn.extract_id}.parquet").exists()
    assert (home.retracted / withdrawn.extract_id / "programmes.parquet").is_file()
    kept_file = home.retracted / withdrawn.extract_id / archived.name
    assert kept_file.is_file() and not archived.exists(), "the archived file leaves archive/ (no backfill reloads it)"
    assert Ledger(home.state_db).drop(withdrawn.extract_id)["stored_path"] == str(kept_file)
    copy_file = Path(Ledger(home.state_db).drop(copy.extract_id)["stored_path"])
    assert copy_file.parent == home.retracted / withdrawn.extract_id and copy_file.is_file()
    assert not (home.warehouse / "build.stamp").exists(), "a run built before the retraction must not publish"
    assert [row["extract_id"] for row in changes_not_built(Ledger(home.state_db))] == [
        kept.extract_id,
        withdrawn.extract_id,
    ]
    # Stopped again before its build finished: running it again goes on to the build.
    assert retract_extract(home, withdrawn.extract_id, "").resumed
    # A build that then failed its publication published nothing: the retraction still waits.
    Ledger(home.state_db).record_run(
        RunRecord(run_id="r0", trigger="cli", state="publish_error", started_at=utc_now_precise())
    )
    assert [row["extract_id"] for row in changes_not_built(Ledger(home.state_db))] == [withdrawn.extract_id]
    assert retract_extract(home, withdrawn.extract_id, "").resumed
    # Once a publication has left it out, there is nothing left to finish.
    Ledger(home.state_db).record_run(
        RunRecord(run_id="r1", trigger="cli", state="published", started_at=utc_now_precise())
    )
    assert changes_not_built(Ledger(home.state_db)) == []
    with pytest.raises(RetractionError, match=r"already retracted at .* by someone@host \(test data\)"):
        retract_extract(home, withdrawn.extract_id, "again")
    backfill = ingest_paths([home.archive], home, agency="undp")
    assert [(drop.state, drop.content_hash) for drop in backfill] == [("duplicate", kept.content_hash)], (
        "a backfill of archive/ finds only what is still loaded"
    )


def test_retracting_the_last_extract_without_a_build_says_none_can_follow(
    home: Home, capsys: pytest.CaptureFixture[str]
) -> None:
    [only] = ingest_paths([CSV], home, agency="unicef")

    code = main(
        ["--home", str(home.root), "retract", only.extract_id, "--reason", "wrong folder", "--no-build", "--json"]
    )

    assert code == 4, "--no-build promises a later build, which cannot run with no extract left"
    assert "no extract is left to build" in json.loads(capsys.readouterr().out)["error"]
    assert Ledger(home.state_db).drop(only.extract_id)["retracted_at"] is not None
