"""The ledger: a small SQLite file recording every drop, build, audit and publication.

SQLite (not DuckDB) because several processes (Airflow tasks, the CLI, ``mainstream status``) read and write
it at once, and SQLite's locking lets them.
"""

from __future__ import annotations

import json
import os
import socket
import sqlite3
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psutil

SCHEMA = """
create table if not exists drops (
    extract_id text primary key,
    file_name text not null,
    original_path text not null,
    agency_ref text,
    source_format text,
    content_hash text not null,
    size_bytes integer not null,
    received_at text not null,
    state text not null check (state in ('loaded', 'duplicate', 'quarantined')),
    rows_loaded integer not null default 0,
    rows_rejected integer not null default 0,
    reason text,
    stored_path text,
    recorded_at text
);
create index if not exists drops_by_hash on drops (content_hash, state);
-- An extract withdrawn after it was loaded: its raw files moved out of the raw zone, its drop row kept as it was.
create table if not exists retractions (
    extract_id text primary key references drops (extract_id),
    retracted_at text not null,
    reason text not null,
    retracted_by text not null
);
create table if not exists pipeline_runs (
    run_id text primary key,
    started_at text not null,
    finished_at text,
    trigger text not null,
    state text not null,
    criteria_version text,
    programmes integer,
    tags integer,
    audit_success integer,
    failed_expectations text,
    published_path text,
    message text,
    owner text
);
"""


#: Every state a pipeline run can be in (``pipeline_runs.state``).
RUN_STATES = (
    "running",  # opened; building (or the process building it died)
    "built",  # dbt build done; audit pending
    "audited",  # audit passed; publication pending
    "published",
    "nothing_to_build",  # no extract loaded (none yet, or every one retracted)
    "build_failed",
    "audit_failed",  # the audit blocked publication
    "audit_error",  # the audit could not run (an error, not failed expectations)
    "publish_error",  # publishing failed after a passed audit
    "superseded",  # another run rebuilt the build file before this one was audited or published
    "interrupted",  # its process was stopped while it was running (Ctrl-C, SIGTERM, a killed or retried task)
)
#: States of runs whose dbt build finished: the build read every extract in the raw zone when the run started.
BUILT_RUN_STATES = ("built", "audited", "published", "audit_failed", "audit_error", "publish_error", "superseded")


def utc_now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def utc_now_precise() -> str:
    """Now, to the microsecond: for the two times that decide whether a build holds a drop (a drop's
    ``recorded_at``, a build's ``started_at``), which are often in the same second."""
    return datetime.now(UTC).isoformat(timespec="microseconds")


def this_process() -> str:
    """``host:pid`` of this process."""
    return f"{socket.gethostname()}:{os.getpid()}"


def _process_is_gone(owner: str) -> bool:
    """Whether the ``host:pid`` process has ended; False for a process on another host (it cannot be checked)."""
    host, _, pid = owner.rpartition(":")
    if host != socket.gethostname() or not pid.isdigit():
        return False
    try:
        return psutil.Process(int(pid)).status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True
    except psutil.Error:
        return False


@dataclass
class DropRecord:
    """What happened to one dropped file."""

    extract_id: str
    file_name: str
    #: Where the file was dropped: ``landing/<agency>/<file>`` for a file the watcher claimed and an ingest run
    #: took through its asset event; otherwise the path it was ingested from (its ``claimed/`` path for a file
    #: found by the sweep of ``claimed/`` or processed there by hand, the given path for a backfill).
    original_path: str
    content_hash: str
    size_bytes: int
    state: str
    agency_ref: str | None = None
    source_format: str | None = None
    received_at: str = field(default_factory=utc_now)
    rows_loaded: int = 0
    rows_rejected: int = 0
    reason: str | None = None
    stored_path: str | None = None
    #: When the drop was recorded: for a loaded file, after its raw Parquet was written (a build that started
    #: before this moment may not have read it).
    recorded_at: str | None = None


@dataclass
class RunRecord:
    """One build → audit → publish run."""

    run_id: str
    trigger: str
    state: str
    #: When the run opened; once it holds the build lock, when its dbt build began reading the raw zone.
    started_at: str = field(default_factory=utc_now)
    finished_at: str | None = None
    criteria_version: str | None = None
    programmes: int | None = None
    tags: int | None = None
    audit_success: bool | None = None
    failed_expectations: list[str] = field(default_factory=list)
    published_path: str | None = None
    message: str | None = None
    #: ``host:pid`` of the process that opened the run: a later build closes a run left ``running`` by a
    #: process that no longer exists (killed with SIGKILL, out of memory).
    owner: str | None = field(default_factory=this_process)


#: How long a ledger write waits for another process's write to finish.
BUSY_TIMEOUT_SECONDS = 60.0

#: (table, column) added after the first release; SCHEMA has them, older ledgers gain them on open.
_ADDED_COLUMNS = (("drops", "recorded_at"), ("pipeline_runs", "owner"))


class Ledger:
    """Read and write the ledger at ``path`` (created on first use)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._read_only = False
        path.parent.mkdir(parents=True, exist_ok=True)
        with self._connect() as connection:
            _use_wal(connection)
            connection.executescript(SCHEMA)
            # Ledgers written by earlier releases gain the columns added since (their rows keep them null: a null
            # owner is never closed as an orphan).
            for table, column in _ADDED_COLUMNS:
                columns = {row["name"] for row in connection.execute(f"pragma table_info({table})")}
                if column not in columns:
                    connection.execute(f"alter table {table} add column {column} text")

    @classmethod
    def read_only(cls, path: Path) -> Ledger:
        """The ledger at ``path`` for reading only, as it is: no schema, no migration, nothing written (a home the
        user may read but not write, e.g. an operator's view of a service's home)."""
        ledger = cls.__new__(cls)
        ledger.path = path
        ledger._read_only = True
        return ledger

    def _read_only_connection(self) -> sqlite3.Connection:
        """A read-only connection that sees what writers committed (their WAL included); when SQLite cannot open
        one (a WAL ledger without its -shm file, in a folder it may not write), the file as it is (immutable: no
        locks, no WAL, so the last commits of a live writer may not show yet)."""
        uri = self.path.resolve().as_uri()
        connection = sqlite3.connect(f"{uri}?mode=ro", uri=True, timeout=BUSY_TIMEOUT_SECONDS)
        try:
            connection.execute("select count(*) from sqlite_master").fetchone()
            return connection
        except sqlite3.OperationalError:
            connection.close()
            return sqlite3.connect(f"{uri}?immutable=1", uri=True)

    @contextmanager
    def _connect(self) -> Iterator[sqlite3.Connection]:
        if self._read_only:
            connection = self._read_only_connection()
        else:
            connection = sqlite3.connect(self.path, timeout=BUSY_TIMEOUT_SECONDS)
        connection.row_factory = sqlite3.Row
        try:
            with connection:
                yield connection
        finally:
            connection.close()

    def loaded_extract_with_hash(self, content_hash: str) -> str | None:
        """The latest extract that loaded a file with this content and is not retracted (ids sort by load time)."""
        with self._connect() as connection:
            row = connection.execute(
                "select extract_id from drops where content_hash = ? and state = 'loaded'"
                " and extract_id not in (select extract_id from retractions)"
                " order by extract_id desc limit 1",
                (content_hash,),
            ).fetchone()
        return row["extract_id"] if row else None

    def has_drop_from(self, path: str) -> bool:
        """Whether a drop was ingested from ``path`` (its ``original_path``: where it was dropped or ingested from)."""
        with self._connect() as connection:
            row = connection.execute("select 1 from drops where original_path = ? limit 1", (path,)).fetchone()
        return row is not None

    def agency_of_extract(self, extract_id: str) -> str | None:
        """The agency a loaded extract was recorded under (reporting-org ref or landing folder)."""
        with self._connect() as connection:
            row = connection.execute("select agency_ref from drops where extract_id = ?", (extract_id,)).fetchone()
        return row["agency_ref"] if row else None

    def loaded_drops_not_built(self) -> list[dict[str, Any]]:
        """Loaded drops that no finished build can hold yet, oldest first.

        A build reads the whole raw zone, so a drop is in every build that began after it was loaded; those
        recorded (after their Parquet was written) at or after the moment the latest finished build began (any
        state in :data:`BUILT_RUN_STATES`) are not known to be in one (both times are written to the microsecond;
        in ledgers from before, to the second, a drop recorded in the second a build began counts as not built).
        All loaded drops when no build ever finished.
        """
        with self._connect() as connection:
            since = _latest_build_start(connection)
            query = (
                "select * from drops where state = 'loaded' and extract_id not in (select extract_id from retractions)"
            )
            parameters: tuple[str, ...] = ()
            if since:
                # Recorded after its Parquet was written (older rows: received, before it was read).
                query += " and coalesce(recorded_at, received_at) >= ?"
                parameters = (since,)
            rows = connection.execute(query + " order by received_at, rowid", parameters).fetchall()
        return [dict(row) for row in rows]

    def retractions_not_built(self) -> list[dict[str, Any]]:
        """Retracted drops that no publication reflects yet (the publication still holds them), oldest first.

        A retraction moves its raw files under the build lock, so every build that began after it was recorded
        leaves the extract out; one recorded at or after the moment the latest *published* run began waits (a
        build that then failed its audit or publication published nothing, so the extract is still out there).
        """
        with self._connect() as connection:
            since = _latest_build_start(connection, states=("published",))
            condition = "where retractions.retracted_at >= ?" if since else "where retractions.retracted_at is not null"
            rows = connection.execute(
                _DROPS_WITH_RETRACTIONS + f" {condition} order by retractions.retracted_at",
                (since,) if since else (),
            ).fetchall()
        return [dict(row) for row in rows]

    def retracted_extract_with_hash(self, content_hash: str) -> dict[str, Any] | None:
        """The latest retracted extract that had loaded this content, if any (with its retraction)."""
        found = self._drops(
            "where drops.content_hash = ? and retractions.retracted_at is not null"
            " order by drops.extract_id desc limit 1",
            (content_hash,),
        )
        return found[0] if found else None

    def drops_with_hash(self, content_hash: str) -> list[dict[str, Any]]:
        """Every drop of this content (loaded, duplicates, retracted), oldest first."""
        return self._drops("where drops.content_hash = ? order by drops.extract_id", (content_hash,))

    def move_stored_file(self, extract_id: str, stored_path: str) -> None:
        """Record where a drop's file is kept now (a retraction moves the archived file next to its raw files)."""
        with self._connect() as connection:
            connection.execute("update drops set stored_path = ? where extract_id = ?", (stored_path, extract_id))

    def record_drop(self, drop: DropRecord) -> None:
        drop.recorded_at = utc_now_precise()
        values = asdict(drop)
        columns = ", ".join(values)
        placeholders = ", ".join(f":{name}" for name in values)
        with self._connect() as connection:
            connection.execute(f"insert or replace into drops ({columns}) values ({placeholders})", values)

    def record_run(self, run: RunRecord) -> None:
        values = asdict(run)
        values["failed_expectations"] = json.dumps(run.failed_expectations)
        values["audit_success"] = None if run.audit_success is None else int(run.audit_success)
        columns = ", ".join(values)
        placeholders = ", ".join(f":{name}" for name in values)
        with self._connect() as connection:
            connection.execute(f"insert or replace into pipeline_runs ({columns}) values ({placeholders})", values)

    def close_interrupted_runs(self, trigger: str, keep_run_id: str) -> list[str]:
        """Mark ``interrupted`` every run of ``trigger`` but ``keep_run_id`` still ``running``; return their ids.

        An Airflow task retried after its process was stopped (a restart, a killed worker) opens a new run: the
        earlier try's run can no longer be running, but nothing else would ever close it.
        """
        with self._connect() as connection:
            rows = connection.execute(
                "select run_id from pipeline_runs where trigger = ? and state = 'running' and run_id != ?",
                (trigger, keep_run_id),
            ).fetchall()
            ids = [row[0] for row in rows]
            _mark_interrupted(connection, ids, f"its process stopped; run {keep_run_id} (a retry) took over")
        return ids

    def close_orphaned_runs(self, keep_run_id: str) -> list[str]:
        """Mark ``interrupted`` every unfinished run whose process has ended; return their ids.

        Unfinished: ``running`` (opened, waiting for the build lock or building), or ``built``/``audited`` for a
        CLI run, whose one process builds, audits and publishes. A process stopped by SIGTERM or Ctrl-C closes
        its own run; this closes those killed outright (SIGKILL, out of memory), checked by the ``host:pid`` that
        opened them. Runs from other hosts, and runs from ledgers written before owners were recorded, are left.
        """
        with self._connect() as connection:
            rows = connection.execute(
                "select run_id, owner from pipeline_runs where run_id != ? and owner is not null"
                " and (state = 'running' or (state in ('built', 'audited') and trigger = 'cli'))",
                (keep_run_id,),
            ).fetchall()
            ids = [row["run_id"] for row in rows if _process_is_gone(row["owner"])]
            _mark_interrupted(
                connection, ids, f"its process ended before the run finished; closed by run {keep_run_id}"
            )
        return ids

    def recent_drops(self, limit: int = 20) -> list[dict[str, Any]]:
        """The latest drops, newest first, with ``retracted_at``, ``retraction_reason`` and ``retracted_by``."""
        return self._drops("order by drops.received_at desc, drops.rowid desc limit ?", (limit,))

    def drop(self, extract_id: str) -> dict[str, Any] | None:
        """One drop's row (with its retraction, as in :meth:`recent_drops`), or None for an unknown extract id."""
        found = self._drops("where extract_id = ?", (extract_id,))
        return found[0] if found else None

    def _drops(self, condition: str, parameters: tuple[Any, ...]) -> list[dict[str, Any]]:
        with self._connect() as connection:
            rows = connection.execute(f"{_DROPS_WITH_RETRACTIONS} {condition}", parameters).fetchall()
        return [dict(row) for row in rows]

    def record_retraction(self, extract_id: str, reason: str, retracted_by: str) -> str:
        """Record that a loaded extract is withdrawn; return when (its drop row stays as it was)."""
        retracted_at = utc_now_precise()
        with self._connect() as connection:
            connection.execute(
                "insert into retractions (extract_id, retracted_at, reason, retracted_by) values (?, ?, ?, ?)",
                (extract_id, retracted_at, reason, retracted_by),
            )
        return retracted_at

    def recent_runs(self, limit: int = 10) -> list[dict[str, Any]]:
        with self._connect() as connection:
            rows = connection.execute(
                "select * from pipeline_runs order by started_at desc, rowid desc limit ?", (limit,)
            ).fetchall()
        return [_decode_run(dict(row)) for row in rows]

    def get_run(self, run_id: str) -> RunRecord:
        """The run with this id (for pipeline steps that run in separate processes, e.g. Airflow tasks)."""
        with self._connect() as connection:
            row = connection.execute("select * from pipeline_runs where run_id = ?", (run_id,)).fetchone()
        if row is None:
            raise KeyError(f"no pipeline run {run_id!r} in {self.path}")
        values = _decode_run(dict(row))
        return RunRecord(**values)

    def last_run_with_audit(self) -> dict[str, Any] | None:
        with self._connect() as connection:
            row = connection.execute(
                "select * from pipeline_runs where audit_success is not null "
                "order by started_at desc, rowid desc limit 1"
            ).fetchone()
        return _decode_run(dict(row)) if row else None

    def last_run(self, state: str | None = None) -> dict[str, Any] | None:
        query = "select * from pipeline_runs"
        params: tuple[str, ...] = ()
        if state:
            query += " where state = ?"
            params = (state,)
        query += " order by started_at desc, rowid desc limit 1"
        with self._connect() as connection:
            row = connection.execute(query, params).fetchone()
        return _decode_run(dict(row)) if row else None


#: Drops with their retraction, if any (``retracted_at``, ``retraction_reason``, ``retracted_by`` null otherwise).
_DROPS_WITH_RETRACTIONS = (
    "select drops.*, retractions.retracted_at, retractions.reason as retraction_reason, retractions.retracted_by"
    " from drops left join retractions using (extract_id)"
)


def _latest_build_start(connection: sqlite3.Connection, states: tuple[str, ...] = BUILT_RUN_STATES) -> str | None:
    """When the latest run in one of ``states`` (by default, any whose build finished) began, or None."""
    placeholders = ", ".join("?" for _ in states)
    return connection.execute(
        f"select max(started_at) from pipeline_runs where state in ({placeholders})", states
    ).fetchone()[0]


def _mark_interrupted(connection: sqlite3.Connection, run_ids: list[str], message: str) -> None:
    connection.executemany(
        "update pipeline_runs set state = 'interrupted', finished_at = ?, message = ? where run_id = ?",
        [(utc_now(), message, run_id) for run_id in run_ids],
    )


def _decode_run(row: dict[str, Any]) -> dict[str, Any]:
    row["failed_expectations"] = json.loads(row["failed_expectations"] or "[]")
    if row["audit_success"] is not None:
        row["audit_success"] = bool(row["audit_success"])
    return row


def _use_wal(connection: sqlite3.Connection) -> None:
    """Put the ledger in WAL mode (readers never wait for a writer); the mode stays with the file.

    Switching a new file to WAL takes an exclusive lock and SQLite answers "database is locked" at once, without its
    busy timeout, when another process opens the same new ledger at that moment: so wait here instead.
    """
    deadline = time.monotonic() + BUSY_TIMEOUT_SECONDS
    while True:
        try:
            connection.execute("pragma journal_mode=wal")
            return
        except sqlite3.OperationalError as error:
            if "locked" not in str(error) or time.monotonic() > deadline:
                raise
            time.sleep(0.05)
