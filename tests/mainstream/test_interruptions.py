"""A stopped or failing run is always closed in the ledger, and never leaves dbt running on its own."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest

from mainstream import audit as audit_module
from mainstream import pipeline
from mainstream.cli import main
from mainstream.home import SAMPLE_DATA_DIR, Home
from mainstream.ledger import Ledger, RunRecord, this_process

CSV = SAMPLE_DATA_DIR / "csv" / "undp" / "programmes.csv"


def _dead_pid() -> int:
    finished = subprocess.Popen([sys.executable, "-c", "pass"])
    finished.wait()
    return finished.pid


def test_a_run_whose_process_ended_is_closed_by_the_next_build(tmp_path: Path) -> None:
    """A process killed outright (SIGKILL, out of memory) cannot close its run; the next build does."""
    ledger = Ledger(tmp_path / "ledger.sqlite")
    host = this_process().rpartition(":")[0]
    dead = f"{host}:{_dead_pid()}"
    runs = {
        "killed_while_building": ("running", "airflow:manual__1", dead),
        "killed_cli_while_auditing": ("built", "cli", dead),
        "airflow_build_waiting_for_its_audit_task": ("built", "airflow:manual__2", dead),
        "alive": ("running", "cli", this_process()),
        "on_another_host": ("running", "cli", "another-host:1"),
        "from_an_older_ledger": ("running", "cli", None),
        "finished": ("published", "cli", dead),
    }
    for run_id, (state, trigger, owner) in runs.items():
        ledger.record_run(RunRecord(run_id=run_id, trigger=trigger, state=state, owner=owner))
    assert sorted(ledger.close_orphaned_runs(keep_run_id="new")) == [
        "killed_cli_while_auditing",
        "killed_while_building",
    ]
    states = {run["run_id"]: run["state"] for run in ledger.recent_runs(limit=20)}
    assert states["killed_while_building"] == states["killed_cli_while_auditing"] == "interrupted"
    assert states["alive"] == states["on_another_host"] == states["from_an_older_ledger"] == "running"
    assert states["airflow_build_waiting_for_its_audit_task"] == "built"


def test_an_audit_that_cannot_run_is_recorded_and_exits_6(home: Home, monkeypatch: pytest.MonkeyPatch) -> None:
    """Not a blocked audit (exit 2): the audit itself failed. The run says audit_error, not 'built' for ever."""

    def fake_build(home: Home, run: RunRecord, ledger: Ledger, full_refresh: bool = False) -> None:
        pipeline._write_stamp(home, run.run_id)
        run.state = "built"
        ledger.record_run(run)

    def broken_audit(*args: object, **kwargs: object) -> None:
        raise ValueError("expectation suite coverage_nexus_audit.json is not valid JSON")

    monkeypatch.setattr(pipeline, "build", fake_build)
    monkeypatch.setattr(audit_module, "audit_marts", broken_audit)
    assert main(["--home", str(home.root), "process", "--agency", "undp", str(CSV)]) == 6
    [run] = Ledger(home.state_db).recent_runs(limit=1)
    assert run["state"] == "audit_error"
    assert "not valid JSON" in run["message"]


def _dbt_children(process: psutil.Process) -> list[psutil.Process]:
    found = []
    for child in process.children(recursive=True):
        try:
            if any(part.endswith("dbt") for part in child.cmdline()[:2]):
                found.append(child)
        except psutil.Error:
            continue
    return found


@pytest.mark.xdist_group("pipeline")
def test_a_stopped_process_stops_its_dbt_and_closes_its_run(tmp_path: Path) -> None:
    """SIGTERM to `mainstream process` (a supervisor, a CI timeout): dbt stops with it, the run is closed as
    interrupted, and the next build works (an orphaned dbt used to hold the build file's lock). The home's path
    has a space and an apostrophe, which the raw zone's SQL used to break on."""
    home = Home(tmp_path / "agency's home").ensure()
    pipeline.ingest_paths([CSV], home, agency="undp")
    command = [sys.executable, "-m", "mainstream.cli", "--home", str(home.root), "process", "--rebuild"]
    cli = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=os.environ.copy())
    deadline = time.monotonic() + 120
    dbt: list[psutil.Process] = []
    while not dbt:
        assert cli.poll() is None, f"the build ended before it could be stopped: {cli.stderr.read()}"
        assert time.monotonic() < deadline, "dbt never started"
        dbt = _dbt_children(psutil.Process(cli.pid))
        time.sleep(0.2)
    time.sleep(2)  # into the build
    cli.send_signal(signal.SIGTERM)
    assert cli.wait(timeout=60) == 128 + signal.SIGTERM
    _, alive = psutil.wait_procs(dbt, timeout=5)
    assert alive == [], "dbt outlived the command that started it"
    [run] = Ledger(home.state_db).recent_runs(limit=1)
    assert (run["state"], run["message"]) == ("interrupted", "stopped (Ctrl-C or SIGTERM) in state running")
    assert pipeline.build_audit_publish(home).state == "published"


def test_two_ingests_of_one_home_take_each_file_once(home: Home, tmp_path: Path, monkeypatch) -> None:
    """Two `process` commands (or one beside Airflow) on the same files: the same outside file loads once (the
    other ingest finds it a duplicate), and a landing/ file the other ingest moved is left to it, not an error."""
    import threading

    from ingest import drops

    real_read = drops._read

    def slow_read(*args: object, **kwargs: object):
        time.sleep(0.3)  # widen the window between the duplicate check and the record
        return real_read(*args, **kwargs)

    monkeypatch.setattr(drops, "_read", slow_read)
    outside = tmp_path / "share" / "programmes.csv"
    outside.parent.mkdir()
    outside.write_bytes(CSV.read_bytes())
    landing = home.landing / "undp" / "drop.csv"
    landing.parent.mkdir(parents=True)
    landing.write_text("programme_id,title\nL-1,Legal aid\n", encoding="utf-8")
    results: list[list[str]] = []
    errors: list[BaseException] = []
    start = threading.Barrier(2)

    def ingest() -> None:
        start.wait()
        try:
            results.append([drop.state for drop in pipeline.ingest_paths([outside, landing], home, agency="undp")])
        except BaseException as error:
            errors.append(error)

    threads = [threading.Thread(target=ingest) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert sorted(state for states in results for state in states) == ["duplicate", "loaded", "loaded"]
    states = sorted(drop["state"] for drop in Ledger(home.state_db).recent_drops())
    assert states == ["duplicate", "loaded", "loaded"]
