"""``mainstream status``: the last drops, files waiting or in flight, the latest run and the last publication."""

from __future__ import annotations

import os
import unicodedata
from typing import Any

from mainstream.home import Home
from mainstream.ledger import Ledger

#: What each run state means for an operator (one for every state in ``mainstream.ledger.RUN_STATES``).
RUN_STATE_DESCRIPTIONS = {
    "running": "building (if no build is in progress, the process building it was stopped)",
    "built": "built, not audited yet (audit pending, or the run was stopped)",
    "audited": "audit passed, not published yet (publication pending, or the run was stopped)",
    "published": "published",
    "nothing_to_build": "nothing to build: no extract loaded (none yet, or every one retracted)",
    "build_failed": "FAILED: dbt build failed",
    "audit_failed": "FAILED its audit: publication blocked",
    "audit_error": "FAILED: the audit could not run",
    "publish_error": "FAILED: publication failed after a passed audit",
    "superseded": "superseded: another run rebuilt the build file, or an extract was retracted, before this run was "
    "published",
    "interrupted": "interrupted: its process was stopped mid-run (for an Airflow task, its retry may have taken over)",
}


class NoLedgerError(FileNotFoundError):
    """The home has no ledger: a mistyped ``--home``/``MAINSTREAM_HOME``, or nothing ever ran there."""


def collect_status(home: Home, limit: int = 10) -> dict[str, Any]:
    """What ``mainstream status`` shows; :class:`NoLedgerError` (creating nothing) when the home has no ledger."""
    from ingest.drops import iter_candidates

    if not home.state_db.is_file():
        if not home.landing.is_dir():
            raise NoLedgerError(
                f"{home.root} has no ledger ({home.state_db} does not exist) and no landing/ folder: check --home or "
                "MAINSTREAM_HOME (nothing has been dropped, ingested or built in this home yet)"
            )
        # A home whose first drops wait for their first ingest (e.g. Airflow paused): show what waits.
        ledger = None
    elif os.access(home.state_db, os.W_OK) and os.access(home.state_db.parent, os.W_OK):
        ledger = Ledger(home.state_db)
    else:
        # A home this user may only read: show it without writing (no WAL switch, no migration).
        ledger = Ledger.read_only(home.state_db)
    runs = ledger.recent_runs(limit) if ledger else []
    audited = [run for run in runs if run["audit_success"] is not None]
    drops = ledger.recent_drops(limit) if ledger else []
    for drop in drops:
        if drop["retracted_at"]:
            drop["state"] = "retracted"  # loaded, then withdrawn with `mainstream retract`
    return {
        "home": str(home.root),
        "drops": drops,
        # Withdrawn since the latest published run began: the publication still holds them.
        "retractions_not_built": [
            {key: row[key] for key in ("extract_id", "file_name", "retracted_at", "retracted_by", "retraction_reason")}
            for row in (ledger.retractions_not_built() if ledger else [])
        ],
        # What the watcher would claim (hidden and partial names, and hidden folders, are not drops) and what the
        # ingest task's sweep of claimed/ would take.
        "waiting_in_landing": sorted(str(path) for path in iter_candidates(home.landing)),
        "claimed_not_finished": sorted(str(path) for path in iter_candidates(home.claimed)),
        "runs": runs,
        "last_run": runs[0] if runs else None,
        "last_audit": audited[0] if audited else (ledger.last_run_with_audit() if ledger else None),
        "last_publication": ledger.last_run("published") if ledger else None,
        "published_db": str(home.published_db) if home.published_db.exists() else None,
    }


def describe_run_state(state: str) -> str:
    return RUN_STATE_DESCRIPTIONS.get(state, f"unknown state {state!r}")


def _agency(agency_ref: str | None) -> str:
    """The agency code the marts use, with an IATI reporting-org ref beside it (``wfp (XM-DAC-41140)``)."""
    from ingest.drops import agency_code

    if not agency_ref:
        return "?"
    code = agency_code(agency_ref)
    return code if code == agency_ref else f"{code} ({agency_ref})"


def _one_line(name: str) -> str:
    """A file name on one status line: its control characters and line or paragraph separators (a name may hold
    them: line breaks, tabs, a terminal's escape codes) shown escaped, as Python writes them (``\\n``,
    ``\\x1b``, ``\\u2028``)."""
    return "".join(
        character.encode("unicode_escape").decode("ascii")
        if unicodedata.category(character) in ("Cc", "Zl", "Zp")
        else character
        for character in name
    )


def format_status(status: dict[str, Any]) -> str:
    lines = [f"MAINSTREAM_HOME {status['home']}", "", "Last drops:"]
    if not status["drops"]:
        lines.append("  (none yet)")
    for drop in status["drops"]:
        lines.append(
            f"  {drop['received_at']}  {drop['state']:<11} {_one_line(drop['file_name'])}  "
            f"agency={_agency(drop['agency_ref'])} loaded={drop['rows_loaded']} rejected={drop['rows_rejected']}"
            + (f"  extract={drop['extract_id']}" if drop["state"] in ("loaded", "retracted") else "")
        )
        if drop.get("retracted_at"):
            lines.append(
                f"      retracted at {drop['retracted_at']} by {drop['retracted_by']}: {drop['retraction_reason']}"
            )
        if drop["reason"]:
            lines.append(f"      {drop['reason']}")
    if status["retractions_not_built"]:
        lines.append("Retracted, waiting for a build (the publication may still hold them):")
        lines.extend(
            f"  {row['extract_id']}  {_one_line(row['file_name'])}  retracted at {row['retracted_at']}"
            for row in status["retractions_not_built"]
        )
    if status["waiting_in_landing"]:
        lines.append(f"Waiting in landing/: {len(status['waiting_in_landing'])} file(s)")
    if status["claimed_not_finished"]:
        lines.append("Claimed but not finished (re-run with `mainstream process PATH`):")
        lines.extend(f"  {_one_line(path)}" for path in status["claimed_not_finished"])
    lines.append("")
    run = status.get("last_run")
    if run:
        times = f"started {run['started_at']}" + (f", finished {run['finished_at']}" if run["finished_at"] else "")
        lines.append(
            f"Last run: {run['run_id']} ({run['trigger']}) {run['state']}: {describe_run_state(run['state'])}; {times}"
        )
        if run["message"]:
            lines.append(f"  {run['message']}")
        lines.extend(f"  failed: {item}" for item in run["failed_expectations"])
    else:
        lines.append("Last run: none yet")
    publication = status["last_publication"]
    if publication:
        lines.append(
            f"Last publication: run {publication['run_id']} at {publication['finished_at']}: "
            f"{publication['programmes']} programmes, criteria {publication['criteria_version']}"
        )
        lines.append(f"  {publication['published_path']}")
        if run and run["run_id"] != publication["run_id"]:
            lines.append("  (analysts still see this publication)")
    else:
        lines.append("Last publication: none yet")
    return "\n".join(lines)
