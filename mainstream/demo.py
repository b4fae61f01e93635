"""``mainstream demo``: real Airflow on 127.0.0.1, the sample extracts dropped into landing/, wait, summary.

1. start ``airflow standalone`` for this home (``mainstream.airflow_standalone``);
2. drop the bundled sample extracts the way an agency would: ``sample_data/iati/<agency>.xml`` into
   ``landing/<agency>/`` and ``sample_data/<format>/<agency>/*`` (e.g. ``csv/undp/programmes.csv``) into
   ``landing/<agency>/``, each written under a hidden name and renamed, so the watcher never sees half a file;
3. wait (bounded) until the ledger shows a final state for every dropped file and a publication that holds
   every extract loaded from them;
4. print the publication summary, the seconds from drop to publication and the total wall time; stop Airflow.

Exit codes: 0 published (or nothing new, and a publication exists), 1 timeout, 2 a DAG run or the audit failed
(or nothing new and nothing published),
3 Airflow did not start.
"""

from __future__ import annotations

import hashlib
import logging
import os
import shutil
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from mainstream.home import SAMPLE_DATA_DIR, Home
from mainstream.ledger import Ledger
from mainstream.signals import sigterm_raises_system_exit

log = logging.getLogger(__name__)

POLL_SECONDS = 1.0
FAILED_RUN_STATES = {"build_failed", "audit_failed"}


@dataclass(frozen=True)
class SampleDrop:
    source: Path
    agency: str
    content_hash: str

    @property
    def name(self) -> str:
        return self.source.name


@dataclass
class Progress:
    """What the ledger (and Airflow) showed at the last poll."""

    drops: dict[str, dict[str, Any]] = field(default_factory=dict)  # sample file name -> ledger row
    pending: list[str] = field(default_factory=list)
    loaded_extracts: list[str] = field(default_factory=list)
    published_run: dict[str, Any] | None = None
    failed_run: dict[str, Any] | None = None
    failed_dag_runs: list[str] = field(default_factory=list)

    @property
    def all_final(self) -> bool:
        return not self.pending


def sample_drops(sample_dir: Path = SAMPLE_DATA_DIR) -> list[SampleDrop]:
    """The bundled extracts and the agency folder each is dropped into."""
    drops = [SampleDrop(path, path.stem.lower(), _sha256(path)) for path in sorted((sample_dir / "iati").glob("*.xml"))]
    for format_dir in sorted(path for path in sample_dir.iterdir() if path.is_dir() and path.name != "iati"):
        for agency_dir in sorted(path for path in format_dir.iterdir() if path.is_dir()):
            for path in sorted(agency_dir.iterdir()):
                if path.is_file() and not path.name.startswith((".", "_")) and path.name != "README.md":
                    drops.append(SampleDrop(path, agency_dir.name.lower(), _sha256(path)))
    return drops


def drop_file(source: Path, landing: Path, agency: str) -> Path:
    """Copy ``source`` into ``landing/<agency>/`` under a hidden name, then rename it into place (atomic)."""
    folder = landing / agency
    folder.mkdir(parents=True, exist_ok=True)
    hidden = folder / f".{source.name}.{uuid.uuid4().hex[:8]}.part"
    shutil.copyfile(source, hidden)
    target = folder / source.name
    os.rename(hidden, target)
    return target


def run_demo(home: Home, timeout: float, port: int) -> int:
    wall_started = time.monotonic()
    drops = sample_drops()
    if not drops:
        log.error("no sample extracts under %s", SAMPLE_DATA_DIR)
        return 1
    home.ensure()
    with sigterm_raises_system_exit():
        return _run_demo(home, timeout, port, drops, wall_started)


def _run_demo(home: Home, timeout: float, port: int, drops: list[SampleDrop], wall_started: float) -> int:
    from mainstream.airflow_standalone import AirflowStandalone, AirflowStartError

    standalone = AirflowStandalone(home, port=port)
    try:
        try:
            standalone.start()
        except AirflowStartError as error:
            log.error("%s", error)
            return 3
        log.info("Airflow UI: %s (user admin, password in %s)", standalone.base_url, standalone.password_file)
        dropped_at = datetime.now(UTC).replace(microsecond=0)
        for drop in drops:
            target = drop_file(drop.source, home.landing, drop.agency)
            log.info("dropped %s", target.relative_to(home.root))
        drop_clock = time.monotonic()
        log.info(
            "dropped %d files into %s; waiting up to %.0f s for the publication", len(drops), home.landing, timeout
        )
        progress = _wait(home, standalone, drops, dropped_at, drop_clock + timeout)
        drop_to_published = time.monotonic() - drop_clock
        code = _report(home, standalone, progress, drop_to_published, timeout)
    finally:
        standalone.stop()
    print(f"Total wall time (start Airflow, drop, publish, stop): {time.monotonic() - wall_started:.1f} s")
    return code


def _wait(home: Home, standalone: Any, drops: list[SampleDrop], since: datetime, deadline: float) -> Progress:
    ledger = Ledger(home.state_db)
    last_line = ""
    last_airflow_check = 0.0
    progress = Progress()
    while True:
        progress = _poll(home, ledger, drops, since)
        if time.monotonic() - last_airflow_check >= 5:
            last_airflow_check = time.monotonic()
            progress.failed_dag_runs = _failed_dag_runs(standalone, since)
        line = (
            f"{len(drops) - len(progress.pending)}/{len(drops)} drops final, "
            f"{len(progress.loaded_extracts)} loaded; "
            + ("published" if progress.published_run else "not published yet")
        )
        if line != last_line:
            log.info("%s", line)
            last_line = line
        if progress.published_run or progress.failed_run or progress.failed_dag_runs:
            return progress
        if progress.all_final and not progress.loaded_extracts:
            return progress  # nothing new loaded (e.g. the demo ran before on this home): nothing to publish
        if time.monotonic() + POLL_SECONDS > deadline:
            return progress
        time.sleep(POLL_SECONDS)


def _poll(home: Home, ledger: Ledger, drops: list[SampleDrop], since: datetime) -> Progress:
    since_text = since.isoformat(timespec="seconds")
    rows = [row for row in ledger.recent_drops(limit=len(drops) + 200) if row["received_at"] >= since_text]
    by_hash: dict[str, list[dict[str, Any]]] = {}
    for row in sorted(rows, key=lambda row: row["received_at"]):
        by_hash.setdefault(row["content_hash"], []).append(row)
    progress = Progress()
    for drop in drops:
        matches = by_hash.get(drop.content_hash) or []
        if matches:
            row = matches.pop(0)
            progress.drops[drop.name] = row
            if row["state"] == "loaded":
                progress.loaded_extracts.append(row["extract_id"])
        else:
            progress.pending.append(drop.name)
    if not progress.all_final or not progress.loaded_extracts:
        return progress
    last_loaded = max(progress.drops[name]["received_at"] for name in progress.drops)
    runs = [run for run in ledger.recent_runs(limit=50) if run["started_at"] >= since_text]
    published = [run for run in runs if run["state"] == "published"]
    if published and _publication_holds(home.published_db, progress.loaded_extracts):
        progress.published_run = published[0]
    elif runs and runs[0]["state"] in FAILED_RUN_STATES and runs[0]["started_at"] >= last_loaded:
        progress.failed_run = runs[0]  # the latest run started after the last drop was loaded, and failed
    return progress


def _publication_holds(published_db: Path, extract_ids: list[str]) -> bool:
    """Whether the published file holds programmes from every extract this demo loaded."""
    import duckdb

    if not published_db.exists():
        return False
    try:
        with duckdb.connect(str(published_db), read_only=True) as connection:
            found = connection.execute(
                "select count(distinct extract_id) from dim_programme where list_contains(?, extract_id)",
                [extract_ids],
            ).fetchone()[0]
    except duckdb.Error as error:
        log.debug("published file not readable yet: %s", error)
        return False
    return found == len(set(extract_ids))


def _failed_dag_runs(standalone: Any, since: datetime) -> list[str]:
    from mainstream.airflow_standalone import DAG_IDS

    failed = []
    for dag_id in DAG_IDS:
        try:
            runs = standalone.dag_runs(dag_id, state="failed", start_date_gte=since.isoformat())
        except Exception as error:  # the REST API is only a shortcut to fail fast; the ledger decides
            log.debug("could not list failed runs of %s: %s", dag_id, error)
            continue
        failed.extend(f"{dag_id} {run['dag_run_id']}" for run in runs)
    return failed


def _report(home: Home, standalone: Any, progress: Progress, seconds: float, timeout: float) -> int:
    from mainstream.summary import format_summary, publication_summary

    if progress.published_run:
        print(format_summary(publication_summary(home.published_db)))
        print(
            f"Drop to published: {seconds:.1f} s ({len(progress.drops)} files, run {progress.published_run['run_id']})"
        )
        _report_drops(progress, only_problems=True)
        return 0
    if progress.all_final and not progress.loaded_extracts and not progress.failed_dag_runs:
        print("Nothing new was loaded (every sample file was a duplicate of one loaded earlier or was quarantined).")
        _report_drops(progress, only_problems=False)
        if home.published_db.exists():
            print(format_summary(publication_summary(home.published_db)))
            return 0
        return 2
    if progress.failed_run or progress.failed_dag_runs:
        print("FAILED: the pipeline did not publish.")
        code = 2
    else:
        print(f"TIMEOUT: nothing published within {timeout:.0f} s of the drop.")
        code = 1
    _report_drops(progress, only_problems=False)
    for name in progress.pending:
        print(f"  {name}: no final state in the ledger yet")
    for path in sorted(p for folder in (home.landing, home.claimed) for p in folder.rglob("*") if p.is_file()):
        print(f"  still in {path.relative_to(home.root)}")
    for description in progress.failed_dag_runs:
        print(f"  failed DAG run: {description}")
    last = progress.failed_run or Ledger(home.state_db).last_run()
    if last:
        print(f"Last pipeline run {last['run_id']}: {last['state']} - {last['message'] or ''}")
        for item in last["failed_expectations"]:
            print(f"  failed expectation: {item}")
    print(f"Airflow log: {standalone.log_path} (task logs under {standalone.airflow_home / 'logs'})")
    return code


def _report_drops(progress: Progress, only_problems: bool) -> None:
    states = Counter(row["state"] for row in progress.drops.values())
    print("Drops: " + ", ".join(f"{count} {state}" for state, count in sorted(states.items())))
    for name, row in progress.drops.items():
        if only_problems and row["state"] == "loaded" and not row["rows_rejected"]:
            continue
        print(
            f"  {name}: {row['state']}, {row['rows_loaded']} loaded, {row['rows_rejected']} rejected"
            + (f" - {row['reason']}" if row["reason"] else "")
        )


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()
