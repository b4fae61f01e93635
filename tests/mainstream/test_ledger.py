"""The ledger: which loaded drops no finished build can hold yet, and ledgers written by earlier releases."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from mainstream.ledger import DropRecord, Ledger, RunRecord, utc_now_precise


def _loaded(extract_id: str, received_at: str) -> DropRecord:
    return DropRecord(
        extract_id=extract_id,
        file_name=f"{extract_id}.csv",
        original_path=f"/landing/undp/{extract_id}.csv",
        content_hash=extract_id,
        size_bytes=1,
        state="loaded",
        received_at=received_at,
        rows_loaded=1,
    )


def test_a_drop_written_after_a_build_began_waits_for_the_next_build(tmp_path: Path) -> None:
    """A file received before a build began but written to the raw zone after it may be missing from that build."""
    ledger = Ledger(tmp_path / "ledger.sqlite")
    ledger.record_run(RunRecord(run_id="r1", trigger="cli", state="published", started_at="2026-11-29T10:00:00+00:00"))
    ledger.record_drop(_loaded("early", "2026-11-29T09:00:00+00:00"))
    ledger.record_drop(_loaded("racing", "2026-11-29T09:59:59+00:00"))  # recorded now: after the build began
    with sqlite3.connect(tmp_path / "ledger.sqlite") as connection:
        connection.execute("update drops set recorded_at = '2026-11-29T09:30:00+00:00' where extract_id = 'early'")
    assert [row["extract_id"] for row in ledger.loaded_drops_not_built()] == ["racing"]


def test_a_build_begun_in_the_second_a_drop_was_recorded_holds_it(tmp_path: Path) -> None:
    """`process` records a drop and starts its build within milliseconds; at one-second resolution the drop
    looked unbuilt, so the next duplicate-only drop rebuilt everything and exited 0 instead of 4."""
    ledger = Ledger(tmp_path / "ledger.sqlite")
    ledger.record_drop(_loaded("a", "2026-11-29T09:00:00+00:00"))
    ledger.record_run(RunRecord(run_id="r1", trigger="cli", state="published", started_at=utc_now_precise()))
    assert ledger.loaded_drops_not_built() == []
    ledger.record_drop(_loaded("b", "2026-11-29T09:00:01+00:00"))  # recorded after the build began
    assert [row["extract_id"] for row in ledger.loaded_drops_not_built()] == ["b"]


def test_a_ledger_from_before_recorded_at_gains_the_column_and_keeps_its_rows(tmp_path: Path) -> None:
    path = tmp_path / "ledger.sqlite"
    with sqlite3.connect(path) as connection:
        connection.execute(
            "create table drops (extract_id text primary key, file_name text not null, original_path text not null,"
            " agency_ref text, source_format text, content_hash text not null, size_bytes integer not null,"
            " received_at text not null, state text not null, rows_loaded integer not null default 0,"
            " rows_rejected integer not null default 0, reason text, stored_path text)"
        )
        connection.execute(
            "insert into drops (extract_id, file_name, original_path, content_hash, size_bytes, received_at, state,"
            " rows_loaded) values ('old', 'old.csv', '/x/old.csv', 'h', 1, '2026-11-28T09:00:00+00:00', 'loaded', 3)"
        )
    ledger = Ledger(path)
    [row] = ledger.loaded_drops_not_built()
    assert (row["extract_id"], row["recorded_at"]) == ("old", None)
    ledger.record_drop(_loaded("new", "2026-11-29T09:00:00+00:00"))
    assert {row["extract_id"] for row in ledger.loaded_drops_not_built()} == {"old", "new"}


def test_a_retried_airflow_build_closes_the_run_its_stopped_try_left_running(tmp_path: Path) -> None:
    """Airflow restarted mid-build retries the task, which opens a new run; the earlier try's run stayed
    "running" for ever. Only runs of the same Airflow run are closed: another run's may really be running."""
    ledger = Ledger(tmp_path / "state.db")
    for run_id, trigger in (("r1", "airflow:manual__1"), ("r2", "airflow:manual__1"), ("r3", "airflow:manual__2")):
        ledger.record_run(RunRecord(run_id=run_id, trigger=trigger, state="running"))
    ledger.record_run(RunRecord(run_id="r0", trigger="airflow:manual__1", state="published"))
    assert ledger.close_interrupted_runs("airflow:manual__1", keep_run_id="r2") == ["r1"]
    states = {run["run_id"]: (run["state"], bool(run["finished_at"])) for run in ledger.recent_runs()}
    assert states == {
        "r0": ("published", False),
        "r1": ("interrupted", True),
        "r2": ("running", False),
        "r3": ("running", False),
    }


def test_many_ingests_opening_a_new_ledger_at_once_all_open_it(tmp_path: Path) -> None:
    """Switching a new ledger to WAL answered "database is locked" at once (no busy wait) to a second process
    opening it at that moment: two `process` commands on a fresh home, or a worker beside the CLI, lost a drop."""
    import threading

    errors: list[BaseException] = []
    for attempt in range(40):
        path = tmp_path / f"ledger-{attempt}.sqlite"
        start = threading.Barrier(6)

        def open_and_record(number: int, path: Path = path, start: threading.Barrier = start) -> None:
            start.wait()
            try:
                Ledger(path).record_drop(_loaded(f"d{number}", "2026-11-29T09:00:00+00:00"))
            except BaseException as error:  # collected and asserted below
                errors.append(error)

        threads = [threading.Thread(target=open_and_record, args=(number,)) for number in range(6)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert errors == [], f"attempt {attempt}: {errors}"
        assert len(Ledger(path).recent_drops()) == 6
        with sqlite3.connect(path) as connection:
            assert connection.execute("pragma journal_mode").fetchone()[0] == "wal"
