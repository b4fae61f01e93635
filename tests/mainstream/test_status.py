"""``mainstream status``: the latest run whatever its state, what the watcher would claim, and a mistyped home."""

from __future__ import annotations

import json
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from mainstream.cli import main
from mainstream.home import Home
from mainstream.ledger import RUN_STATES, DropRecord, Ledger, RunRecord
from mainstream.status import RUN_STATE_DESCRIPTIONS, collect_status, format_status


def _runs(home: Home, *runs: RunRecord) -> None:
    ledger = Ledger(home.state_db)
    for run in runs:
        ledger.record_run(run)


def _published(run_id: str = "r1", hour: int = 10) -> RunRecord:
    return RunRecord(
        run_id=run_id,
        trigger="airflow:a",
        state="published",
        audit_success=True,
        started_at=f"2026-11-29T{hour:02}:00:00+00:00",
        finished_at=f"2026-11-29T{hour:02}:01:00+00:00",
        programmes=12,
        criteria_version="crit-1",
        published_path="/h/published/mainstream.duckdb",
        message="32 tables published",
    )


def _build_failed(finished_at: str | None = None) -> RunRecord:
    return RunRecord(
        run_id="r2",
        trigger="airflow:b",
        state="build_failed",
        message="dbt build failed: model.x: error",
        started_at="2026-11-29T11:00:00+00:00",
        finished_at=finished_at,
    )


def test_the_latest_run_is_shown_whatever_its_state_with_the_last_publication(home: Home) -> None:
    _runs(
        home,
        _published("r1", 10),
        _build_failed(),
        RunRecord(run_id="r3", trigger="airflow:c", state="built", started_at="2026-11-29T12:00:00+00:00"),
    )

    status = collect_status(home)
    text = format_status(status)

    assert status["last_run"]["run_id"] == "r3"
    assert status["last_publication"]["run_id"] == "r1"
    assert "Last run: r3" in text and "built" in text
    assert "Last audit: run r1 passed" not in text
    assert "Last publication: run r1" in text


def test_a_failed_latest_run_shows_its_state_and_message(home: Home) -> None:
    _runs(
        home,
        _published("r1", 10),
        _build_failed(finished_at="2026-11-29T11:02:00+00:00"),
    )

    text = format_status(collect_status(home))

    assert "Last run: r2" in text
    assert "build_failed" in text and "dbt build failed: model.x: error" in text
    assert "Last publication: run r1" in text


def test_an_audit_failure_lists_its_failed_expectations(home: Home) -> None:
    _runs(
        home,
        RunRecord(
            run_id="r1",
            trigger="cli",
            state="audit_failed",
            audit_success=False,
            failed_expectations=["dim_programme.hr_marker: expect_column_values_to_be_in_set"],
            message="publication blocked; previous publication kept",
        ),
    )

    text = format_status(collect_status(home))

    assert "audit_failed" in text and "expect_column_values_to_be_in_set" in text
    assert "Last publication: none yet" in text


def test_every_ledger_run_state_has_a_description() -> None:
    assert set(RUN_STATE_DESCRIPTIONS) == set(RUN_STATES)
    assert {"superseded", "audit_error", "publish_error", "running", "nothing_to_build"} <= set(RUN_STATES)


@pytest.mark.parametrize("state", RUN_STATES)
def test_every_run_state_is_described(home: Home, state: str) -> None:
    _runs(home, RunRecord(run_id="r1", trigger="cli", state=state, message=f"message of {state}"))

    text = format_status(collect_status(home))

    [line] = [line for line in text.splitlines() if line.startswith("Last run:")]
    assert state in line
    assert "unknown state" not in line
    assert f"message of {state}" in text


def test_waiting_in_landing_counts_only_files_the_watcher_would_claim(home: Home) -> None:
    for name in ["undp/programmes.csv", "top.xml", "undp/a.csv.part", "undp/~$book.xlsx", "undp/.x.csv"]:
        path = home.landing / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("x")
    (home.landing / ".staging").mkdir()
    (home.landing / ".staging" / "b.csv").write_text("x")
    Ledger(home.state_db)

    status = collect_status(home)

    assert sorted(Path(path).name for path in status["waiting_in_landing"]) == ["programmes.csv", "top.xml"]
    assert "Waiting in landing/: 2 file(s)" in format_status(status)


def test_a_mistyped_home_is_reported_and_left_uncreated(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    typo = tmp_path / "typo-home"

    assert main(["--home", str(typo), "status"]) != 0

    assert not (typo / "state" / "ledger.sqlite").exists()
    assert not typo.exists()
    captured = capsys.readouterr()
    assert "no ledger" in captured.err and str(typo) in captured.err
    assert "(none yet)" not in captured.out


def test_a_new_home_with_files_waiting_in_landing_shows_them_before_any_ledger(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Before the first ingest (Airflow paused, or not started yet) "is my drop seen?" gets the files waiting, not an
    error. A home without even a landing/ folder is still a mistyped one."""
    new_home = Home(tmp_path / "new-home")
    (new_home.landing / "undp").mkdir(parents=True)
    (new_home.landing / "undp" / "programmes.csv").write_text("programme_id,title\nP-1,Legal aid\n")

    assert main(["--home", str(new_home.root), "status"]) == 0

    assert "Waiting in landing/: 1 file(s)" in capsys.readouterr().out
    assert not new_home.state_db.exists(), "status creates nothing"


def test_status_json_has_the_last_run(home: Home, capsys: pytest.CaptureFixture[str]) -> None:
    _runs(home, _published("r1", 10), RunRecord(run_id="r2", trigger="cli", state="superseded", message="m"))

    assert main(["--home", str(home.root), "status", "--json"]) == 0

    status = json.loads(capsys.readouterr().out)
    assert status["last_run"]["state"] == "superseded"
    assert status["last_publication"]["run_id"] == "r1"


def test_drops_show_the_agency_code_the_marts_use(home: Home) -> None:
    """An IATI drop records its reporting-org ref; status shows the agency the marts know it by beside it."""
    ledger = Ledger(home.state_db)
    for extract_id, agency_ref in (("e1", "XM-DAC-41140"), ("e2", "undp"), ("e3", "XM-UNKNOWN-1")):
        ledger.record_drop(
            DropRecord(extract_id, f"{extract_id}.xml", f"/{extract_id}.xml", extract_id, 1, "loaded", agency_ref)
        )
    text = format_status(collect_status(home))
    assert "agency=wfp (XM-DAC-41140)" in text
    assert "agency=undp loaded" in text
    assert "agency=xm-unknown-1 (XM-UNKNOWN-1)" in text


def test_a_home_the_user_may_only_read_shows_its_status_and_stays_unchanged(home: Home) -> None:
    if shutil.which("chattr") is None:
        pytest.skip("chattr (e2fsprogs) makes files read-only even for root; not installed")
    _runs(home, _published("r1", 10), _build_failed())
    state = home.state_db.parent
    before = sorted((path.name, path.stat().st_mtime_ns, path.stat().st_size) for path in state.iterdir())
    frozen = [state, *state.iterdir()]
    if subprocess.run(["chattr", "+i", *map(str, frozen)], capture_output=True).returncode != 0:
        pytest.skip("this filesystem has no immutable attribute")
    try:
        with pytest.raises(sqlite3.OperationalError):
            Ledger(home.state_db)  # what status did before: open the ledger for writing
        status = collect_status(home)
    finally:
        subprocess.run(["chattr", "-i", *map(str, frozen)], check=True)
    assert status["last_run"]["run_id"] == "r2" and status["last_publication"]["run_id"] == "r1"
    assert sorted((path.name, path.stat().st_mtime_ns, path.stat().st_size) for path in state.iterdir()) == before


def test_a_limit_that_is_not_a_number_is_a_usage_error_naming_it(
    home: Home, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as usage:
        main(["--home", str(home.root), "status", "--limit", "abc"])
    assert usage.value.code == 2
    assert "argument --limit: must be a whole number of at least 1, not 'abc'" in capsys.readouterr().err


def test_a_read_only_home_s_status_shows_what_a_live_writer_committed(home: Home) -> None:
    """The pipeline writes the ledger while an operator who may only read it asks for the status: commits still in
    the write-ahead log count (an immutable read of the main file alone would show the run before)."""
    if shutil.which("chattr") is None:
        pytest.skip("chattr (e2fsprogs) makes files read-only even for root; not installed")
    _runs(home, _published("r1", 10))
    writer = sqlite3.connect(home.state_db)  # an open connection keeps the log from being folded into the file
    writer.execute("select count(*) from sqlite_master").fetchone()
    _runs(home, _build_failed())
    state = home.state_db.parent
    assert (state / "ledger.sqlite-wal").stat().st_size > 0
    frozen = [state, *state.iterdir()]
    if subprocess.run(["chattr", "+i", *map(str, frozen)], capture_output=True).returncode != 0:
        writer.close()
        pytest.skip("this filesystem has no immutable attribute")
    try:
        script = (
            "import json, sys; from pathlib import Path; from mainstream.home import Home; from mainstream.status import collect_status; "
            "print(json.dumps(collect_status(Home(Path(sys.argv[1])))['last_run']['run_id']))"
        )
        shown = subprocess.run([sys.executable, "-c", script, str(home.root)], capture_output=True, text=True)
    finally:
        subprocess.run(["chattr", "-i", *map(str, frozen)], check=True)
        writer.close()
    assert shown.returncode == 0, shown.stderr
    assert json.loads(shown.stdout) == "r2"


def test_a_file_name_holding_a_line_break_stays_on_its_status_line(home: Home) -> None:
    name = "extract\nrow\u2028\x0b\x1b[2J 2.csv"
    Ledger(home.state_db).record_drop(DropRecord("e1", name, f"/landing/undp/{name}", "h1", 10, "loaded", "undp"))

    text = format_status(collect_status(home))

    [line] = [line for line in text.splitlines() if "extract" in line and "loaded" in line]
    assert "extract\\nrow\\u2028\\x0b\\x1b[2J 2.csv  agency=undp" in line
