"""``mainstream process``: exit code 4 and no rebuild when nothing new was loaded; ``--rebuild`` on purpose."""

from __future__ import annotations

import errno
import json
import shutil
from pathlib import Path

import pytest

from mainstream import pipeline, summary
from mainstream.cli import main
from mainstream.home import SAMPLE_DATA_DIR, Home
from mainstream.ledger import Ledger, RunRecord
from mainstream.pipeline import ingest_paths

CSV = SAMPLE_DATA_DIR / "csv" / "undp" / "programmes.csv"


@pytest.fixture
def builds(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Record build_audit_publish calls (trigger, and " --full-refresh" for a build from scratch) instead of running
    dbt."""
    calls: list[str] = []

    def fake_build_audit_publish(home: Home, trigger: str = "cli", full_refresh: bool = False) -> RunRecord:
        calls.append(trigger + (" --full-refresh" if full_refresh else ""))
        return RunRecord(run_id="fake", trigger=trigger, state="published")

    monkeypatch.setattr(pipeline, "build_audit_publish", fake_build_audit_publish)
    monkeypatch.setattr(summary, "publication_summary", lambda path: {"programmes": 12})
    return calls


def _loaded_and_published(home: Home, tmp_path: Path) -> Path:
    """A home whose only extract is in a finished build; return a copy of that extract (a duplicate)."""
    ingest_paths([CSV], home, agency="undp")
    Ledger(home.state_db).record_run(
        RunRecord(run_id="r1", trigger="cli", state="published", started_at="2999-01-01T00:00:00+00:00")
    )
    home.published_db.parent.mkdir(parents=True, exist_ok=True)
    home.published_db.write_bytes(b"")  # stands for r1's publication: only its presence is read here
    again = tmp_path / "again" / "undp" / "programmes.csv"
    again.parent.mkdir(parents=True)
    shutil.copyfile(CSV, again)
    return again


def test_only_duplicate_and_quarantined_files_exit_4_without_a_rebuild(
    home: Home, tmp_path: Path, builds: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    duplicate = _loaded_and_published(home, tmp_path)
    pdf = tmp_path / "again" / "undp" / "notes.pdf"
    pdf.write_text("not an extract")

    code = main(["--home", str(home.root), "process", "--json", str(duplicate), str(pdf)])

    assert code == 4
    assert builds == [], "nothing new loaded: nothing is rebuilt or republished"
    result = json.loads(capsys.readouterr().out)
    assert sorted(drop["state"] for drop in result["drops"]) == ["duplicate", "quarantined"]
    assert "nothing new loaded" in result["error"] and "--rebuild" in result["error"]
    assert [run["run_id"] for run in Ledger(home.state_db).recent_runs()] == ["r1"], "no run recorded"


def test_rebuild_rebuilds_and_republishes_on_purpose_without_paths(home: Home, tmp_path: Path, builds) -> None:
    _loaded_and_published(home, tmp_path)

    assert main(["--home", str(home.root), "process", "--json", "--rebuild"]) == 0
    assert builds == ["cli --full-refresh"], "--rebuild builds from scratch"


def test_rebuild_with_a_duplicate_rebuilds(home: Home, tmp_path: Path, builds) -> None:
    duplicate = _loaded_and_published(home, tmp_path)

    assert main(["--home", str(home.root), "process", "--json", "--rebuild", str(duplicate)]) == 0
    assert builds == ["cli --full-refresh"]


def test_earlier_loads_that_no_build_holds_are_built(home: Home, tmp_path: Path, builds) -> None:
    """E.g. an earlier `process` whose dbt build failed: processing the same file again builds it."""
    ingest_paths([CSV], home, agency="undp")
    Ledger(home.state_db).record_run(
        RunRecord(run_id="r1", trigger="cli", state="build_failed", started_at="2999-01-01T00:00:00+00:00")
    )

    assert main(["--home", str(home.root), "process", "--json", "--agency", "undp", str(CSV)]) == 0
    assert builds == ["cli"]


def test_no_paths_without_rebuild_is_a_usage_error(home: Home) -> None:
    with pytest.raises(SystemExit) as usage:
        main(["--home", str(home.root), "process"])
    assert usage.value.code == 2


def test_help_documents_the_exit_codes_and_rebuild(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["process", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    assert "--rebuild" in text
    assert "4 nothing new was loaded" in text
    assert "5 the machine could not hold a file" in text


def test_a_full_disk_exits_5_leaves_the_file_and_builds_nothing(
    home: Home, tmp_path: Path, builds, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from ingest import raw_zone

    def full_disk(*args: object, **kwargs: object) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(raw_zone.pq, "write_table", full_disk)
    landed = home.landing / "undp" / "programmes.csv"
    landed.parent.mkdir(parents=True)
    shutil.copy(CSV, landed)
    assert main(["--home", str(home.root), "process", "--json", str(landed)]) == 5
    assert "No space left on device" in json.loads(capsys.readouterr().out)["error"]
    assert landed.exists() and builds == []


def test_a_claimed_file_processed_by_hand_keeps_its_claimed_folders_agency(home: Home, builds) -> None:
    """`mainstream status` suggests `mainstream process PATH` for a file left in claimed/<agency>/: its folder
    names the agency, as landing/<agency>/ does, even for an agency not in ref_agencies."""
    claimed = home.claimed / "itc" / "0123456789ab__programmes.csv"
    claimed.parent.mkdir(parents=True)
    claimed.write_text("programme_id,title\nITC-1,Trade facilitation\n", encoding="utf-8")
    assert main(["--home", str(home.root), "process", "--json", str(claimed)]) == 0
    [drop] = Ledger(home.state_db).recent_drops()
    assert (drop["state"], drop["agency_ref"], drop["file_name"]) == ("loaded", "itc", "programmes.csv")
    assert not claimed.exists(), "moved to archive/"


def test_a_missing_path_leaves_a_mistyped_home_uncreated(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    typo = tmp_path / "typo-home"

    assert main(["--home", str(typo), "process", str(tmp_path / "nope.csv")]) == 1

    assert "nope.csv: no such file or folder" in capsys.readouterr().err
    assert not typo.exists(), "a mistyped --home must not become a home that `status` then reports as empty"


@pytest.mark.parametrize("folder", ["quarantine", "raw", "retracted", "state", "audit", "dbt"])
def test_the_pipeline_s_own_folders_are_not_ingested(
    home: Home, builds: list[str], capsys: pytest.CaptureFixture[str], folder: str
) -> None:
    kept = home.ensure().root / folder / "x"
    kept.mkdir(parents=True)
    (kept / "old.csv.reason.json").write_text('{"reason": "bad"}')

    assert main(["--home", str(home.root), "process", "--agency", "undp", str(kept)]) == 1

    assert f"{kept}: is in the home's own files ({home.root}), not a drop" in capsys.readouterr().err
    assert builds == [] and list(kept.iterdir()) == [kept / "old.csv.reason.json"]
    assert Ledger(home.state_db).recent_drops() == [], "nothing was recorded as a drop"


def test_a_home_that_is_a_file_is_reported_without_a_traceback(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    not_a_folder = tmp_path / "notes.txt"
    not_a_folder.write_text("a file, not a home")

    assert main(["--home", str(not_a_folder), "process", str(CSV)]) == 1

    error = capsys.readouterr().err
    assert "a folder was expected, not a file (check --home and the paths)" in error and str(not_a_folder) in error
    assert not_a_folder.read_text() == "a file, not a home"


def test_a_folder_with_no_file_to_load_says_so_in_a_home_with_nothing_published(
    home: Home, tmp_path: Path, builds: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    empty = tmp_path / "drops"
    empty.mkdir()
    (empty / ".hidden.csv").write_text("programme_id,title\nP-1,T\n")

    assert main(["--home", str(home.root), "process", "--agency", "undp", "--json", str(empty)]) == 4

    error = json.loads(capsys.readouterr().out)["error"]
    assert "no file found in the given paths; hidden, partial and temporary files are skipped" in error
    assert error.endswith("nothing is published yet") and builds == []


def test_a_file_named_on_its_own_and_inside_a_folder_is_ingested_once(home: Home, tmp_path: Path) -> None:
    folder = tmp_path / "drops"
    folder.mkdir()
    extract = folder / "programmes.csv"
    shutil.copyfile(CSV, extract)

    drops = ingest_paths([folder, extract, tmp_path / "drops" / ".." / "drops" / "programmes.csv"], home, agency="undp")

    assert [(drop.file_name, drop.state) for drop in drops] == [("programmes.csv", "loaded")]


def test_a_folder_that_holds_the_home_is_refused(
    tmp_path: Path, builds: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    home = Home(tmp_path / "drops" / "var").ensure()
    (tmp_path / "drops" / "undp").mkdir()
    shutil.copyfile(CSV, tmp_path / "drops" / "undp" / "programmes.csv")

    assert main(["--home", str(home.root), "process", "--agency", "undp", str(tmp_path / "drops")]) == 1

    assert f"holds the home {home.root}, whose own files are not drops" in capsys.readouterr().err
    assert builds == [] and not any(home.quarantine.iterdir()) and not any(home.archive.iterdir())


def test_landing_claimed_and_archive_may_be_ingested_from_the_home(home: Home) -> None:
    from mainstream.pipeline import bookkeeping_path_problem

    for folder in (home.landing / "undp", home.claimed, home.archive / "2026-11-30"):
        assert bookkeeping_path_problem(folder, home) is None
    assert bookkeeping_path_problem(home.root / "var-notes.csv", home) is not None
