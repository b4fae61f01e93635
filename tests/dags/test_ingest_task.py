"""The ``ingest_drops`` task itself (``ingest_from_context``), called with the context Airflow gives it."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import pytest
from airflow.sdk.exceptions import AirflowFailException, AirflowSkipException

from ingest import drops
from mainstream.airflow_tasks import ingest_from_context
from mainstream.home import Home
from mainstream.ledger import Ledger, RunRecord

CSV = "programme_id,title\nP-1,Schools for children\nP-2,Legal aid for women\n"


def _context(
    events: list[dict] | None = None, paths: list[str] | None = None, try_number: int = 1, max_tries: int = 2
) -> dict:
    return {
        "triggering_asset_events": {"asset": [SimpleNamespace(extra=extra) for extra in events or []]},
        "params": {"paths": paths or [], "agency": None},
        "ti": SimpleNamespace(try_number=try_number, max_tries=max_tries),
    }


def _claim(home: Home, name: str, content: str, agency: str = "undp") -> Path:
    path = home.claimed / agency / f"0123456789ab__{name}"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(content, encoding="utf-8")
    return path


def _finished_build(home: Home, state: str = "published") -> None:
    """A run whose build started after every drop so far (the ledger's times have one-second resolution)."""
    Ledger(home.state_db).record_run(
        RunRecord(run_id=f"r-{state}", trigger="test", state=state, started_at="2999-01-01T00:00:00+00:00")
    )


def _unreadable(monkeypatch: pytest.MonkeyPatch, name: str):
    """Make the claimed file ending in ``name`` unreadable (permission denied); return the real hash function."""
    real_hash = drops._hash_file

    def hash_or_deny(path: Path):
        if path.name.endswith(name):
            raise PermissionError(13, "Permission denied", str(path))
        return real_hash(path)

    monkeypatch.setattr(drops, "_hash_file", hash_or_deny)
    return real_hash


# --------------------------------------------------------------------- loaded rows left by a failed try (defect 1)


def test_a_retry_that_loads_nothing_new_still_emits_for_rows_an_earlier_try_loaded(home: Home, monkeypatch) -> None:
    _claim(home, "a_good.csv", CSV)
    bad = _claim(home, "b_bad.csv", "programme_id,colour\nP-9,red\n")  # no title column
    real_hash = _unreadable(monkeypatch, "b_bad.csv")
    with pytest.raises(RuntimeError, match="1 drop"):
        ingest_from_context(_context(try_number=1))
    assert [row["state"] for row in Ledger(home.state_db).recent_drops()] == ["loaded"]
    monkeypatch.setattr(drops, "_hash_file", real_hash)

    # The retry: a_good.csv is archived already; b_bad.csv is quarantined. Nothing new, but a_good's rows were
    # never built: the task must succeed (emitting raw_extracts) instead of skipping.
    summary = ingest_from_context(_context(try_number=2))

    assert not bad.exists()
    assert summary["rows_loaded"] == 0
    assert [drop["file"] for drop in summary["waiting_for_build"]] == ["a_good.csv"]


def test_a_file_that_keeps_failing_does_not_hold_back_the_others_publication(home: Home, monkeypatch) -> None:
    """Before the last try a failure fails the task (Airflow retries); on the last try what did load is published
    (raw_extracts is emitted) and the failing file stays in claimed/, where every later sweep would meet it."""
    _claim(home, "a_good.csv", CSV)
    stuck = _claim(home, "b_stuck.csv", CSV.replace("P-", "Q-"))
    _unreadable(monkeypatch, "b_stuck.csv")
    with pytest.raises(RuntimeError, match=r"b_stuck\.csv"):
        ingest_from_context(_context(try_number=2, max_tries=2))
    summary = ingest_from_context(_context(try_number=3, max_tries=2))
    assert [drop["file"] for drop in summary["waiting_for_build"]] == ["a_good.csv"]
    assert len(summary["failed"]) == 1 and "b_stuck.csv" in summary["failed"][0]
    assert stuck.exists()


def test_a_last_try_with_nothing_to_publish_still_fails(home: Home, monkeypatch) -> None:
    _claim(home, "b_stuck.csv", CSV)
    monkeypatch.setattr(drops, "_hash_file", lambda path: (_ for _ in ()).throw(PermissionError(13, "denied")))
    with pytest.raises(RuntimeError, match="nothing else waits for a build"):
        ingest_from_context(_context(try_number=3, max_tries=2))


def test_a_run_that_loads_nothing_skips_when_every_load_is_in_a_finished_build(home: Home) -> None:
    _claim(home, "programmes.csv", CSV)
    assert ingest_from_context(_context())["rows_loaded"] == 2
    _finished_build(home, "audit_failed")  # its build read the rows, even though its audit failed
    _claim(home, "again.csv", CSV)  # a duplicate

    with pytest.raises(AirflowSkipException, match="no new programme rows"):
        ingest_from_context(_context())
    with pytest.raises(AirflowSkipException, match="nothing to ingest"):
        ingest_from_context(_context())


def test_a_run_with_nothing_to_ingest_emits_while_loaded_rows_wait_for_a_build(home: Home) -> None:
    _claim(home, "programmes.csv", CSV)
    ingest_from_context(_context())
    Ledger(home.state_db).record_run(
        RunRecord(run_id="failed", trigger="test", state="build_failed", started_at="2999-01-01T00:00:00+00:00")
    )

    summary = ingest_from_context(_context())  # e.g. triggered by hand after the build was fixed

    assert summary["files"] == 0 and len(summary["waiting_for_build"]) == 1


# ------------------------------------------------------------------------- missing paths in asset events (defect 3)


def test_a_rest_posted_event_naming_a_missing_path_fails_naming_it(home: Home, tmp_path: Path) -> None:
    typo = home.landing / "undp" / "programmes_TYPO.csv"

    with pytest.raises(AirflowFailException, match=r"programmes_TYPO\.csv \(named by an asset event\)"):
        ingest_from_context(_context(events=[{"from_rest_api": True, "path": str(typo), "agency": "undp"}]))
    with pytest.raises(AirflowFailException, match=r"nowhere\.xml \(named by an asset event\)"):
        ingest_from_context(_context(events=[{"paths": [str(tmp_path / "nowhere.xml")]}]))
    # A relative path is resolved wherever the worker runs: the message says paths must be absolute.
    with pytest.raises(
        AirflowFailException, match=r"relative/q4\.csv \(named by params\.paths; paths must be absolute"
    ):
        ingest_from_context(_context(paths=["relative/q4.csv"]))


def test_a_watcher_event_whose_file_an_earlier_run_swept_is_not_an_error(home: Home) -> None:
    """apache/airflow#56050: a stranded event reaches a run after another run's sweep of claimed/ took its file."""
    claimed = _claim(home, "programmes.csv", CSV)
    ingest_from_context(_context())  # the sweep
    _finished_build(home)
    event = {"from_trigger": True, "payload": {"path": str(claimed), "agency": "undp", "original_path": "/x/a.csv"}}

    with pytest.raises(AirflowSkipException):
        ingest_from_context(_context(events=[event]))


def test_a_rest_posted_event_for_a_file_the_ledger_has_is_skipped_not_failed(home: Home) -> None:
    claimed = _claim(home, "programmes.csv", CSV)
    ingest_from_context(_context())
    _finished_build(home)

    with pytest.raises(AirflowSkipException):
        ingest_from_context(_context(events=[{"path": str(claimed), "agency": "undp"}]))


def test_a_missing_path_on_a_retry_was_moved_by_the_earlier_try(home: Home) -> None:
    gone = home.claimed / "undp" / "0123456789ab__programmes.csv"

    with pytest.raises(AirflowSkipException):
        ingest_from_context(_context(events=[{"path": str(gone)}], try_number=2))


# ------------------------------------------------------------------------- where the file was dropped (defect 7)


def test_the_ledger_records_the_landing_path_the_watcher_claimed_the_file_from(home: Home) -> None:
    landing_path = home.landing / "UNDP" / "programmes.csv"
    claimed = _claim(home, "programmes.csv", CSV)
    event = {
        "from_trigger": True,
        "payload": {"path": str(claimed), "original_path": str(landing_path), "agency": "undp"},
    }

    ingest_from_context(_context(events=[event]))

    [drop] = Ledger(home.state_db).recent_drops()
    assert drop["original_path"] == str(landing_path)
    assert Path(drop["stored_path"]).name == f"{drop['extract_id']}__programmes.csv"


def test_a_file_swept_without_its_event_records_its_claimed_path(home: Home) -> None:
    claimed = _claim(home, "programmes.csv", CSV)

    ingest_from_context(_context())

    [drop] = Ledger(home.state_db).recent_drops()
    assert drop["original_path"] == str(claimed)


def test_a_path_in_the_home_s_own_files_fails_at_once_without_retries(home: Home) -> None:
    reason_file = home.quarantine / "x__extract.csv.reason.json"
    reason_file.parent.mkdir(parents=True, exist_ok=True)
    reason_file.write_text('{"reason": "bad"}')

    with pytest.raises(AirflowFailException, match="is in the home's own files"):
        ingest_from_context(_context(paths=[str(reason_file)], try_number=2))

    assert Ledger(home.state_db).recent_drops() == [] and reason_file.exists()
