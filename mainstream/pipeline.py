"""The pipeline as plain functions: the CLI calls them synchronously, the Airflow tasks call the same ones."""

from __future__ import annotations

import fcntl
import logging
import uuid
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

from ingest.drops import (
    agency_from_landing_path,
    ingest_file,
    iter_drop_files,
    known_agency_codes,
    normalise_agency,
)
from mainstream.home import Home
from mainstream.ledger import DropRecord, Ledger, RunRecord, utc_now, utc_now_precise

log = logging.getLogger(__name__)


class AuditBlockedError(RuntimeError):
    """The audit failed: nothing was published and the previous publication stays."""

    def __init__(self, run: RunRecord) -> None:
        super().__init__(
            f"audit blocked publication of run {run.run_id}; failed expectations: " + "; ".join(run.failed_expectations)
        )
        self.run = run


class BookkeepingPathError(ValueError):
    """A path given to ingest lies in a folder the pipeline keeps for itself (archive, quarantine, raw ...)."""


class NothingToBuildError(RuntimeError):
    """No extract has been loaded yet."""


class PipelineStepError(RuntimeError):
    """A step failed with an unexpected error (not a dbt failure, not a blocked audit); the run records it."""

    def __init__(self, run: RunRecord, state: str, error: Exception) -> None:
        super().__init__(
            f"run {run.run_id}: {state} - {type(error).__name__}: {error} (the previous publication stays; "
            "the full traceback is in the log with --verbose)"
        )
        self.run = run
        self.state = state


class BuildChangedError(RuntimeError):
    """The build file is no longer the one this run built: another run rebuilt it (or is rebuilding it), or a
    retraction changed the raw zone under it."""

    def __init__(self, run: RunRecord, found: str | None) -> None:
        if found:
            now = f"run {found}'s build, not this run's; the run that rebuilt the file publishes its own build"
        else:
            now = (
                "no finished build (another build is running or failed, or an extract was retracted since this "
                "build); the next build publishes, which `mainstream status` says is waiting when a retraction "
                "caused it"
            )
        super().__init__(
            f"run {run.run_id}: the build file now holds {now}. Nothing of this run is audited or published (the "
            "previous publication stays)"
        )
        self.run = run


def new_run_id() -> str:
    return f"{datetime.now(UTC):%Y%m%dT%H%M%S}-{uuid.uuid4().hex[:6]}"


def ingest_paths(
    paths: Iterable[Path],
    home: Home,
    agency: str | None = None,
    progress: bool = False,
    original_path: Path | None = None,
) -> list[DropRecord]:
    """Ingest files and folders; a file's agency is ``agency``, or its ``landing/<agency>/`` or
    ``claimed/<agency>/`` folder (a claimed file processed by hand, as ``mainstream status`` suggests).

    ``original_path``, for a single file the watcher claimed, is where the agency dropped it (``landing/...``):
    the ledger records it as the drop's ``original_path``.
    """
    paths = list(paths)
    _refuse_bookkeeping_paths(paths, home)
    # A path that does not exist is reported before the home is touched (a mistyped --home stays uncreated).
    # A file named twice (on its own and inside a folder also given) is ingested once, where it first comes.
    files: list[Path] = []
    seen: set[Path] = set()
    for path in iter_drop_files(paths):
        if (resolved := path.resolve()) not in seen:
            seen.add(resolved)
            files.append(path)
    home.ensure()
    ledger = Ledger(home.state_db)
    if original_path is not None and (len(paths) != 1 or files != paths):
        raise ValueError("original_path names where one file was dropped: give that one file only")
    if progress:
        from tqdm import tqdm

        files = tqdm(files, desc="ingest", unit="file")
    drops = []
    for path in files:
        with ingest_lock(home):
            # Two ingests of one home (the CLI beside Airflow, two CLIs) take each file once: the hash check,
            # load and record of one file are one step, and a file the other took meanwhile is no longer here.
            if not path.exists():
                log.info("%s: no longer there: another ingest took it meanwhile (see mainstream status)", path)
                continue
            drops.append(_ingest_one(path, home, agency, ledger, original_path))
    return drops


def bookkeeping_path_problem(path: Path, home: Home) -> str | None:
    """Why ``path`` is not a drop, or None when it may be ingested.

    Inside the home only ``landing/``, ``claimed/`` and ``archive/`` hold drops (archive/ keeps them as they came,
    and a backfill of it loads them again). Everything else there is the pipeline's own bookkeeping (quarantined
    files with their reason files, the raw zone, retracted extracts, the build, the publication, the ledger, the
    audit results, dbt's and Airflow's files): ingesting it would load bookkeeping as extracts and quarantine
    copies of copies. A folder that holds the home would take all of that in too.
    """
    resolved, root = path.resolve(), home.root.resolve()
    if resolved == root or resolved in root.parents:
        return f"{path}: holds the home {home.root}, whose own files are not drops; give the agencies' files or folders"
    if root not in resolved.parents:
        return None
    if any(resolved == folder.resolve() or folder.resolve() in resolved.parents for folder in _drop_folders(home)):
        return None
    return (
        f"{path}: is in the home's own files ({home.root}), not a drop; a quarantined file fixed by hand is dropped "
        f"again into {home.landing}/<agency>/, and only landing/, claimed/ and archive/ may be ingested from the home"
    )


def _drop_folders(home: Home) -> tuple[Path, ...]:
    """The home's folders that hold drops: landing/, claimed/ and archive/."""
    return (home.landing, home.claimed, home.archive)


def _refuse_bookkeeping_paths(paths: list[Path], home: Home) -> None:
    for path in paths:
        if problem := bookkeeping_path_problem(path, home):
            raise BookkeepingPathError(problem)


def _ingest_one(path: Path, home: Home, agency: str | None, ledger: Ledger, original_path: Path | None) -> DropRecord:
    file_agency = (
        normalise_agency(agency)
        or agency_from_landing_path(path, home.landing)
        or agency_from_landing_path(path, home.claimed)
    )
    if file_agency is None and path.suffix.lower() != ".xml":
        file_agency = _agency_from_parent(path)
    return ingest_file(path, home, agency=file_agency, ledger=ledger, original_path=original_path)


def _agency_from_parent(path: Path) -> str | None:
    """Outside landing/, a tabular file's folder names its agency only when it is a known agency's code.

    A backfill folder is often named for anything but its agency (``2025``, ``share``, a date): guessing would load
    its programmes under that name for good. Without a known agency folder the file needs ``--agency``.
    """
    parent = normalise_agency(path.parent.name)
    return parent if parent in known_agency_codes() else None


@contextmanager
def _exclusive_lock(lock_file: Path, waiting_message: str | None = None) -> Iterator[None]:
    """Hold an exclusive flock on ``lock_file`` (any process, any thread opening it waits, saying
    ``waiting_message`` first when given and the lock is taken)."""
    with lock_file.open("w") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            if waiting_message:
                log.info("%s", waiting_message)
            fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


@contextmanager
def ingest_lock(home: Home, waiting_message: str | None = None) -> Iterator[None]:
    """One file ingested at a time per home, whichever process ingests it."""
    home.ensure()
    with _exclusive_lock(home.state_db.parent / "ingest.lock", waiting_message):
        yield


@contextmanager
def build_lock(home: Home, waiting_message: str | None = None) -> Iterator[None]:
    """One build at a time per home: DuckDB allows a single writer of the build file."""
    home.ensure()
    with _exclusive_lock(home.warehouse / "build.lock", waiting_message):
        yield


def changes_not_built(ledger: Ledger) -> list[dict]:
    """Drops loaded or retracted since the latest finished build began: the publication may not reflect them."""
    return [*ledger.loaded_drops_not_built(), *ledger.retractions_not_built()]


def forget_build(home: Home) -> None:
    """Mark the build file as holding no run's build (the caller holds the build lock): the raw zone changed under
    it, so a run between its build and its publication is superseded instead of publishing what it built."""
    _build_stamp(home).unlink(missing_ok=True)


def has_extracts(home: Home) -> bool:
    folder = home.raw / "programmes"
    return folder.is_dir() and any(not path.name.startswith("_") for path in folder.glob("*.parquet"))


def _build_stamp(home: Home) -> Path:
    """Names the run whose successful build the build file holds; absent while a build runs or after one failed."""
    return home.warehouse / "build.stamp"


def built_run_id(home: Home) -> str | None:
    """The run whose build the build file holds, or None when a build is running, failed or never ran."""
    stamp = _build_stamp(home)
    return stamp.read_text(encoding="utf-8").strip() or None if stamp.exists() else None


def require_own_build(home: Home, run: RunRecord) -> None:
    """Raise BuildChangedError unless the build file still holds ``run``'s build.

    The CLI builds, audits and publishes under one lock; Airflow's build, audit and publish are three tasks that
    each take it, and another run may rebuild the file between them: its build was not audited by this run.
    """
    found = built_run_id(home)
    if found != run.run_id:
        raise BuildChangedError(run, found)


def build(home: Home, run: RunRecord, ledger: Ledger, full_refresh: bool = False) -> None:
    """dbt build (seeds, models, tests) into the private build file (the caller holds the build lock).

    A build scans only programme texts the build file has not scanned with the current phrases
    (int_text_spans); ``full_refresh`` scans every text again (``dbt build --full-refresh``).
    """
    from mainstream.transform import BuildFailedError, run_dbt

    if orphans := ledger.close_orphaned_runs(keep_run_id=run.run_id):
        log.warning("run(s) %s left unfinished by a process that has ended: marked interrupted", ", ".join(orphans))
    if not has_extracts(home):
        raise NothingToBuildError(
            f"no extract loaded under {home.raw} (none yet, or every one retracted); drop or process a file first"
        )
    # From here until it succeeds the file holds no run's finished build.
    forget_build(home)
    # The build reads the raw zone from now on: drops recorded later may not be in it (loaded_drops_not_built).
    run.started_at = utc_now_precise()
    ledger.record_run(run)
    try:
        run_dbt(home, "build", *(["--full-refresh"] if full_refresh else []))
    except BuildFailedError as error:
        _finish(run, ledger, "build_failed", str(error))
        raise
    _write_stamp(home, run.run_id)
    _record_counts(home, run)
    run.state = "built"
    ledger.record_run(run)


def audit(home: Home, run: RunRecord, ledger: Ledger) -> None:
    """Run the GX gate over the built marts; raise AuditBlockedError (and record it) when it fails."""
    from mainstream.audit import audit_marts

    _stop_if_superseded(home, run, ledger)
    result = audit_marts(home.build_db, home.gx_results, run.run_id)
    run.audit_success = result.success
    run.failed_expectations = result.failed_expectations
    if not result.success:
        _finish(run, ledger, "audit_failed", "publication blocked; previous publication kept")
        raise AuditBlockedError(run)
    run.state = "audited"
    ledger.record_run(run)


def publish_run(home: Home, run: RunRecord, ledger: Ledger) -> RunRecord:
    """Publish an audited build atomically to ``published/``."""
    from mainstream.publish import publish

    if not run.audit_success:
        raise RuntimeError(f"run {run.run_id} has not passed its audit; refusing to publish")
    _stop_if_superseded(home, run, ledger)
    summary = {"success": True, "failed_expectations": run.failed_expectations}
    publication = publish(home.build_db, home.published_db, run.run_id, summary)
    run.published_path = str(publication.path)
    _finish(run, ledger, "published", f"{len(publication.tables)} tables published")
    return run


def audit_and_publish(home: Home, run: RunRecord, ledger: Ledger) -> RunRecord:
    """Audit the build; publish only when every expectation passes."""
    audit(home, run, ledger)
    return publish_run(home, run, ledger)


def start_run(home: Home, trigger: str) -> tuple[RunRecord, Ledger]:
    """Open a run in the ledger."""
    ledger = Ledger(home.state_db)
    run = RunRecord(run_id=new_run_id(), trigger=trigger, state="running")
    ledger.record_run(run)
    return run, ledger


#: What an unexpected error means for a run, by the step it was in (the state it last reached).
_ERROR_STATES = {"running": "build_failed", "built": "audit_error", "audited": "publish_error"}


def build_audit_publish(home: Home, trigger: str = "cli", full_refresh: bool = False) -> RunRecord:
    """Build, audit and publish in one go (holding the build lock throughout).

    The run is always closed: expected outcomes by the steps themselves; an unexpected error as ``build_failed``,
    ``audit_error`` or ``publish_error`` by the step it was in (raised as :class:`PipelineStepError`); Ctrl-C or
    SIGTERM (as SystemExit) as ``interrupted``.
    """
    from mainstream.transform import BuildFailedError

    run, ledger = start_run(home, trigger)
    try:
        with build_lock(home):
            try:
                build(home, run, ledger, full_refresh=full_refresh)
            except NothingToBuildError as error:
                _finish(run, ledger, "nothing_to_build", str(error))
                raise
            return audit_and_publish(home, run, ledger)
    except (NothingToBuildError, BuildFailedError, AuditBlockedError, BuildChangedError):
        raise  # recorded by the step
    except (KeyboardInterrupt, SystemExit):
        if run.state in _ERROR_STATES:
            _finish(run, ledger, "interrupted", f"stopped (Ctrl-C or SIGTERM) in state {run.state}")
        raise
    except Exception as error:
        if run.state not in _ERROR_STATES:
            raise
        state = _ERROR_STATES[run.state]
        _finish(run, ledger, state, f"{type(error).__name__}: {error}")
        raise PipelineStepError(run, state, error) from error


def _stop_if_superseded(home: Home, run: RunRecord, ledger: Ledger) -> None:
    try:
        require_own_build(home, run)
    except BuildChangedError as error:
        _finish(run, ledger, "superseded", str(error))
        raise


def _write_stamp(home: Home, run_id: str) -> None:
    stamp = _build_stamp(home)
    partial = stamp.with_name(stamp.name + ".tmp")
    partial.write_text(run_id + "\n", encoding="utf-8")
    partial.replace(stamp)


def _record_counts(home: Home, run: RunRecord) -> None:
    import duckdb

    with duckdb.connect(str(home.build_db), read_only=True) as connection:
        run.programmes, run.criteria_version = connection.execute(
            "select count(*), any_value(criteria_version) from marts.dim_programme"
        ).fetchone()
        run.tags = connection.execute("select count(*) from marts.fct_programme_tag").fetchone()[0]


def _finish(run: RunRecord, ledger: Ledger, state: str, message: str) -> None:
    run.state = state
    run.message = message
    run.finished_at = utc_now()
    ledger.record_run(run)
