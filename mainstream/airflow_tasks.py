"""What the Airflow tasks do, kept out of ``dags/`` so the DAG files stay thin and cheap to parse.

Each function takes the task's Airflow context and calls the same pipeline functions the CLI uses. Airflow
is imported lazily (only the exceptions), so this module is importable without a configured Airflow.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mainstream.home import Home
from mainstream.ledger import Ledger, RunRecord, utc_now

log = logging.getLogger("mainstream.airflow")


@dataclass(frozen=True)
class DropRequest:
    """One path to ingest, the agency to attribute it to, and where the request came from."""

    path: Path
    agency: str | None
    source: str  # "event" (watcher or REST-posted asset event), "params" (manual trigger) or "claimed" (sweep)


def requests_from_events(triggering_asset_events: Mapping[Any, Iterable[Any]] | None) -> list[DropRequest]:
    """Paths named by every triggering asset event.

    The watcher's payload is under ``extra["payload"]``; events posted through the REST API
    (``POST /api/v2/assets/events``) carry their keys at the top level of ``extra``. Either may name one
    ``path`` or a list of ``paths``, with an optional ``agency``.
    """
    from ingest.drops import normalise_agency

    requests: list[DropRequest] = []
    seen: set[int] = set()
    for events in (triggering_asset_events or {}).values():
        for event in events:
            if id(event) in seen:  # an event reached through an alias is listed twice
                continue
            seen.add(id(event))
            extra = dict(getattr(event, "extra", None) or {})
            payload = extra.get("payload") if isinstance(extra.get("payload"), dict) else extra
            agency = normalise_agency(payload.get("agency"))
            paths = list(payload.get("paths") or [])
            if payload.get("path"):
                paths.insert(0, payload["path"])
            if not paths:
                log.warning("asset event without a path ignored: %s", extra)
            requests.extend(DropRequest(Path(path), agency, "event") for path in paths)
    return requests


def requests_from_params(params: Mapping[str, Any] | None) -> list[DropRequest]:
    from ingest.drops import normalise_agency

    params = params or {}
    agency = normalise_agency(params.get("agency"))
    return [DropRequest(Path(path), agency, "params") for path in params.get("paths") or []]


def requests_from_claimed(home: Home) -> list[DropRequest]:
    """Every claimed file waiting in ``claimed/[<agency>/]``, oldest claim first.

    Airflow 3.3 folds asset events that arrive while a run of an asset-scheduled DAG is pending into that
    run's queue entry but hands the run only the events up to the first one; the others are attached to no
    run until another event arrives (apache/airflow#56050). Their files were claimed before the run was
    created, so sweeping ``claimed/`` when the task starts picks them up. Safe because ``mainstream_ingest``
    runs one at a time.
    """
    from ingest.drops import is_candidate, normalise_agency

    if not home.claimed.is_dir():
        return []
    files = []
    for path in home.claimed.rglob("*"):
        try:
            if is_candidate(path):
                files.append((path.stat().st_mtime_ns, str(path), path))
        except OSError:  # gone meanwhile
            continue
    return [
        DropRequest(path, normalise_agency(path.parent.name) if path.parent != home.claimed else None, "claimed")
        for _, _, path in sorted(files)
    ]


def merge_requests(*groups: Iterable[DropRequest]) -> list[DropRequest]:
    """One request per path (the first wins: an event's agency over a sweep's folder name)."""
    merged: dict[Path, DropRequest] = {}
    for group in groups:
        for request in group:
            merged.setdefault(request.path.absolute(), request)
    return list(merged.values())


def ingest_from_context(context: Mapping[str, Any]) -> dict[str, Any]:
    """The ``ingest_drops`` task: ingest every requested path; skip (no asset event) when nothing is new."""
    from airflow.sdk.exceptions import AirflowFailException, AirflowSkipException

    from mainstream.pipeline import ingest_paths

    home = Home.from_env()
    given = requests_from_events(context.get("triggering_asset_events")) + requests_from_params(context.get("params"))
    # A path given by hand that does not exist is a typo: fail at once, without retries. (On a retry, files
    # under landing/ or claimed/ that the first try archived are gone, and are skipped below.)
    if getattr(context.get("ti"), "try_number", 1) <= 1:
        missing = [str(request.path) for request in given if request.source == "params" and not request.path.exists()]
        if missing:
            raise AirflowFailException("no such file or folder: " + ", ".join(missing))
    requests = merge_requests(given, requests_from_claimed(home))
    swept = [request for request in requests if request.source == "claimed"]
    if swept:
        log.info(
            "%d file(s) waiting in claimed/ without an event in this run (events the scheduler folded into an "
            "earlier run, or files left by a failed run): %s",
            len(swept),
            ", ".join(str(request.path.relative_to(home.claimed)) for request in swept),
        )

    drops: list[dict[str, Any]] = []
    failures: list[str] = []
    for request in requests:
        if not request.path.exists():
            # An earlier run's sweep of claimed/ or an earlier try of this task already archived or quarantined
            # it (files under landing/ and claimed/ are moved, not copied): the ledger has its row.
            log.info("%s: no longer there (ingested by an earlier run or try); skipping", request.path)
            continue
        try:
            records = ingest_paths([request.path], home, agency=request.agency)
        except Exception as error:  # keep going with the other drops; the task fails (and retries) at the end
            log.exception("%s: ingest failed", request.path)
            failures.append(f"{request.path}: {error}")
            continue
        for record in records:
            log.info(
                "drop %s (agency %s): %s, %d rows loaded, %d rejected%s",
                record.file_name,
                record.agency_ref or "?",
                record.state,
                record.rows_loaded,
                record.rows_rejected,
                f" - {record.reason}" if record.reason else "",
            )
            drops.append(
                {
                    "file": record.file_name,
                    "extract_id": record.extract_id,
                    "agency": record.agency_ref,
                    "state": record.state,
                    "rows_loaded": record.rows_loaded,
                    "rows_rejected": record.rows_rejected,
                    "reason": record.reason,
                    "stored_path": record.stored_path,
                }
            )
    if failures:
        raise RuntimeError(f"{len(failures)} drop(s) could not be ingested: " + "; ".join(failures))
    rows_loaded = sum(drop["rows_loaded"] for drop in drops if drop["state"] == "loaded")
    summary = {"files": len(drops), "rows_loaded": rows_loaded, "drops": drops}
    if not requests:
        message = "nothing to ingest: no path in the triggering asset events or params.paths, none in claimed/"
    elif rows_loaded == 0:
        message = f"no new programme rows loaded from {len(drops)} file(s) (duplicates or quarantined)"
    else:
        log.info("loaded %d programme rows from %d file(s); emitting raw_extracts", rows_loaded, len(drops))
        return summary
    log.info("%s; skipping so that no raw_extracts event is emitted and nothing is rebuilt", message)
    raise AirflowSkipException(message)


def build_from_context(context: Mapping[str, Any]) -> str:
    """The ``build`` task: open a ledger run and dbt-build it under the build lock; return the run id."""
    from airflow.sdk.exceptions import AirflowFailException, AirflowSkipException

    from mainstream.pipeline import NothingToBuildError, build, build_lock, start_run
    from mainstream.transform import BuildFailedError

    home = Home.from_env()
    run, ledger = start_run(home, trigger=f"airflow:{context['dag_run'].run_id}")
    log.info("run %s: building %s", run.run_id, home.build_db)
    try:
        with build_lock(home):
            build(home, run, ledger)
    except NothingToBuildError as error:
        _finish(run, ledger, "nothing_to_build", str(error))
        raise AirflowSkipException(str(error)) from error
    except BuildFailedError as error:  # recorded by build(); dbt failures do not go away on retry
        raise AirflowFailException(f"run {run.run_id}: {error}") from error
    except BaseException as error:
        _finish(run, ledger, "build_failed", f"{type(error).__name__}: {error}")
        raise
    log.info("run %s built: %s programmes, %s tags", run.run_id, run.programmes, run.tags)
    return run.run_id


def audit_run(run_id: str) -> str:
    """The ``audit`` task: the GX gate. A blocked audit fails the task for good (it is not retried)."""
    from airflow.sdk.exceptions import AirflowFailException

    from mainstream.pipeline import AuditBlockedError, BuildChangedError, audit, build_lock

    home = Home.from_env()
    ledger = Ledger(home.state_db)
    run = ledger.get_run(run_id)
    try:
        with build_lock(home):
            audit(home, run, ledger)
    except (AuditBlockedError, BuildChangedError) as error:  # recorded by audit(); a retry would change nothing
        log.error("%s", error)
        raise AirflowFailException(str(error)) from error
    except BaseException as error:
        _finish(run, ledger, "audit_error", f"{type(error).__name__}: {error}")
        raise
    log.info("run %s passed its audit", run_id)
    return run_id


def publish_audited_run(run_id: str) -> dict[str, Any]:
    """The ``publish`` task: publish the audited build atomically and log what was published."""
    from airflow.sdk.exceptions import AirflowFailException

    from mainstream.pipeline import BuildChangedError, build_lock, publish_run
    from mainstream.summary import format_summary, publication_summary

    home = Home.from_env()
    ledger = Ledger(home.state_db)
    run = ledger.get_run(run_id)
    try:
        with build_lock(home):
            publish_run(home, run, ledger)
    except BuildChangedError as error:  # recorded by publish_run(): another run rebuilt the file since the audit
        log.error("%s", error)
        raise AirflowFailException(str(error)) from error
    except BaseException as error:
        _finish(run, ledger, "publish_error", f"{type(error).__name__}: {error}")
        raise
    summary = publication_summary(home.published_db)
    for line in format_summary(summary).splitlines():
        log.info("%s", line)
    return {
        "run_id": run_id,
        "programmes": summary["programmes"],
        "published_db": summary["published_db"],
        "published_at": summary["published_at"],
    }


def _finish(run: RunRecord, ledger: Ledger, state: str, message: str) -> None:
    run.state = state
    run.message = message
    run.finished_at = utc_now()
    ledger.record_run(run)
