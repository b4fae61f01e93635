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
    #: "watcher" (the landing watcher's event), "event" (an asset event posted through the REST API), "params"
    #: (a manual trigger) or "claimed" (the sweep of claimed/)
    source: str
    #: where the agency dropped the file, when the watcher moved it from there (its event's ``original_path``)
    original_path: Path | None = None


def requests_from_events(triggering_asset_events: Mapping[Any, Iterable[Any]] | None) -> list[DropRequest]:
    """Paths named by every triggering asset event.

    The watcher's payload is under ``extra["payload"]`` (source ``watcher``); events posted through the REST API
    (``POST /api/v2/assets/events``) carry their keys at the top level of ``extra`` (source ``event``). Either may
    name one ``path`` or a list of ``paths``, with an optional ``agency``; ``original_path`` (the watcher's: the
    file's path in ``landing/`` before it was claimed) goes with ``path``.
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
            from_watcher = isinstance(extra.get("payload"), dict)
            payload = extra["payload"] if from_watcher else extra
            source = "watcher" if from_watcher else "event"
            agency = normalise_agency(payload.get("agency"))
            if payload.get("path"):
                original = payload.get("original_path")
                requests.append(
                    DropRequest(Path(payload["path"]), agency, source, Path(original) if original else None)
                )
            requests.extend(DropRequest(Path(path), agency, source) for path in payload.get("paths") or [])
            if not payload.get("path") and not payload.get("paths"):
                log.warning("asset event without a path ignored: %s", extra)
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
    from ingest.drops import iter_candidates, normalise_agency

    if not home.claimed.is_dir():
        return []
    files = []
    for path in iter_candidates(home.claimed):
        try:
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


def missing_paths(home: Home, ledger: Ledger, requests: Iterable[DropRequest]) -> list[str]:
    """Paths given by hand (``params.paths``) or by a REST-posted asset event that do not exist and never did.

    A watcher's event is never a typo: its file may be gone because an earlier run's sweep of ``claimed/`` took
    it (apache/airflow#56050). Nor is a path the ledger has ingested a drop from, nor a ``landing/`` file that
    the watcher has claimed meanwhile (this run's sweep of ``claimed/`` ingests it).
    """
    from ingest.drops import CLAIM_PREFIX, iter_candidates

    missing = []
    for request in requests:
        if request.source not in ("params", "event") or request.path.exists():
            continue
        if ledger.has_drop_from(str(request.path)):
            continue
        if request.path.is_relative_to(home.landing) and any(
            CLAIM_PREFIX.match(claimed.name) and CLAIM_PREFIX.sub("", claimed.name) == request.path.name
            for claimed in iter_candidates(home.claimed)
        ):
            continue
        named_by = "params.paths" if request.source == "params" else "an asset event"
        hint = "" if request.path.is_absolute() else "; paths must be absolute, as the Airflow workers see them"
        missing.append(f"{request.path} (named by {named_by}{hint})")
    return missing


def ingest_from_context(context: Mapping[str, Any]) -> dict[str, Any]:
    """The ``ingest_drops`` task: ingest every requested path; skip (no asset event) when nothing waits for a build.

    The task succeeds, so that its ``raw_extracts`` event makes ``mainstream_publish`` rebuild, when it loaded
    programme rows, or when rows loaded earlier are in no finished build yet (e.g. an earlier try of this task
    loaded one file and then failed on another: its retry finds that file archived and loads nothing new).
    """
    from airflow.sdk.exceptions import AirflowFailException, AirflowSkipException

    from mainstream.pipeline import bookkeeping_path_problem, changes_not_built, ingest_paths

    home = Home.from_env()
    ledger = Ledger(home.state_db)
    given = requests_from_events(context.get("triggering_asset_events")) + requests_from_params(context.get("params"))
    # A path given by hand or by a posted asset event that does not exist is a typo: fail at once, without
    # retries. (On a retry, files under landing/ or claimed/ that an earlier try archived are gone, and are
    # skipped below.)
    if getattr(context.get("ti"), "try_number", 1) <= 1:
        missing = missing_paths(home, ledger, given)
        if missing:
            raise AirflowFailException("no such file or folder: " + ", ".join(missing))
    # A path in the home's own files (quarantine/, raw/ ...) is never a drop: fail at once, without retries.
    if refused := [problem for request in given if (problem := bookkeeping_path_problem(request.path, home))]:
        raise AirflowFailException("; ".join(refused))
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
            records = ingest_paths([request.path], home, agency=request.agency, original_path=_original_path(request))
        except Exception as error:  # keep going with the other drops; the task fails (and retries) at the end
            log.exception("%s: ingest failed", request.path)
            failures.append(f"{request.path}: {error}")
            continue
        for record in records:
            # The ingest logged the outcome with its reason; this line adds the agency, for the task's summary.
            log.info(
                "drop %s (agency %s): %s, %d rows loaded, %d rejected",
                record.file_name,
                record.agency_ref or "?",
                record.state,
                record.rows_loaded,
                record.rows_rejected,
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
    rows_loaded = sum(drop["rows_loaded"] for drop in drops if drop["state"] == "loaded")
    summary = {"files": len(drops), "rows_loaded": rows_loaded, "drops": drops, "waiting_for_build": [], "failed": []}
    if failures:
        failed = f"{len(failures)} drop(s) could not be ingested: " + "; ".join(failures)
        ti = context.get("ti")
        max_tries = getattr(ti, "max_tries", None)
        if max_tries is None or getattr(ti, "try_number", 1) <= max_tries:
            raise RuntimeError(failed)  # Airflow retries the task; what loaded is built after the retry
        # The last try: a file that keeps failing must not hold back the others' publication forever (every later
        # run's sweep of claimed/ would meet it again). Publish what loaded; the file stays in claimed/.
        log.error(
            "%s; this was the last try, so what did load is published, and the failed file(s) stay in claimed/ "
            "(see docs/operations.md, 'Recovering a claimed file')",
            failed,
        )
        summary["failed"] = failures
    if rows_loaded:
        log.info("loaded %d programme rows from %d file(s); emitting raw_extracts", rows_loaded, len(drops))
        return summary
    if not requests:
        message = "nothing to ingest: no path in the triggering asset events or params.paths, none in claimed/"
    else:
        message = f"no new programme rows loaded from {len(drops)} file(s) (duplicates or quarantined)"
    waiting = changes_not_built(ledger)
    if waiting:
        summary["waiting_for_build"] = [
            {"file": row["file_name"], "extract_id": row["extract_id"], "retracted": True}
            if row.get("retracted_at")
            else {"file": row["file_name"], "extract_id": row["extract_id"], "rows_loaded": row["rows_loaded"]}
            for row in waiting
        ]
        log.info(
            "%s, but %d file(s) loaded or retracted earlier are in no finished build yet (%s): emitting raw_extracts",
            message,
            len(waiting),
            ", ".join(f"{row['file_name']} ({row['extract_id']})" for row in waiting[:10])
            + (f" and {len(waiting) - 10} more" if len(waiting) > 10 else ""),
        )
        return summary
    if failures:
        raise RuntimeError(f"{len(failures)} drop(s) could not be ingested, and nothing else waits for a build")
    log.info("%s; skipping so that no raw_extracts event is emitted and nothing is rebuilt", message)
    raise AirflowSkipException(message)


def _original_path(request: DropRequest) -> Path | None:
    """Where the agency dropped the file, when that is known and not the path ingested."""
    if request.original_path is None or request.original_path == request.path or not request.path.is_file():
        return None
    return request.original_path


def build_from_context(context: Mapping[str, Any]) -> str:
    """The ``build`` task: open a ledger run and dbt-build it under the build lock; return the run id.

    With the DAG param ``full_refresh`` the build starts from scratch (every programme text scanned again).
    """
    from airflow.sdk.exceptions import AirflowFailException, AirflowSkipException

    from mainstream.pipeline import NothingToBuildError, build, build_lock, start_run
    from mainstream.transform import BuildFailedError

    home = Home.from_env()
    run, ledger = start_run(home, trigger=f"airflow:{context['dag_run'].run_id}")
    if interrupted := ledger.close_interrupted_runs(run.trigger, keep_run_id=run.run_id):
        # An earlier try of this task was stopped mid-build (a restart): its run can no longer be running.
        log.warning("run(s) %s of an earlier try marked interrupted", ", ".join(interrupted))
    full_refresh = bool(context.get("params", {}).get("full_refresh", False))
    log.info("run %s: building %s%s", run.run_id, home.build_db, " from scratch (full refresh)" if full_refresh else "")
    try:
        with build_lock(home):
            build(home, run, ledger, full_refresh=full_refresh)
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
