"""``mainstream status``: what happened to the last drops, the last audit and the last publication."""

from __future__ import annotations

from typing import Any

from mainstream.home import Home
from mainstream.ledger import Ledger


def collect_status(home: Home, limit: int = 10) -> dict[str, Any]:
    ledger = Ledger(home.state_db)
    runs = ledger.recent_runs(limit)
    audited = [run for run in runs if run["audit_success"] is not None]
    in_flight = (
        sorted(str(path) for path in home.claimed.glob("**/*") if path.is_file()) if home.claimed.exists() else []
    )
    waiting = sorted(str(path) for path in home.landing.glob("**/*") if path.is_file()) if home.landing.exists() else []
    return {
        "home": str(home.root),
        "drops": ledger.recent_drops(limit),
        "waiting_in_landing": waiting,
        "claimed_not_finished": in_flight,
        "runs": runs,
        "last_audit": audited[0] if audited else ledger.last_run_with_audit(),
        "last_publication": ledger.last_run("published"),
        "published_db": str(home.published_db) if home.published_db.exists() else None,
    }


def format_status(status: dict[str, Any]) -> str:
    lines = [f"MAINSTREAM_HOME {status['home']}", "", "Last drops:"]
    if not status["drops"]:
        lines.append("  (none yet)")
    for drop in status["drops"]:
        lines.append(
            f"  {drop['received_at']}  {drop['state']:<11} {drop['file_name']}  "
            f"agency={drop['agency_ref'] or '?'} loaded={drop['rows_loaded']} rejected={drop['rows_rejected']}"
        )
        if drop["reason"]:
            lines.append(f"      {drop['reason']}")
    if status["waiting_in_landing"]:
        lines.append(f"Waiting in landing/: {len(status['waiting_in_landing'])} file(s)")
    if status["claimed_not_finished"]:
        lines.append("Claimed but not finished (re-run with `mainstream process PATH`):")
        lines.extend(f"  {path}" for path in status["claimed_not_finished"])
    audit = status["last_audit"]
    lines.append("")
    if audit:
        verdict = "passed" if audit["audit_success"] else "FAILED (publication blocked)"
        lines.append(f"Last audit: run {audit['run_id']} {verdict}")
        lines.extend(f"  failed: {item}" for item in audit["failed_expectations"])
    else:
        lines.append("Last audit: none yet")
    publication = status["last_publication"]
    if publication:
        lines.append(
            f"Last publication: run {publication['run_id']} at {publication['finished_at']}: "
            f"{publication['programmes']} programmes, criteria {publication['criteria_version']}"
        )
        lines.append(f"  {publication['published_path']}")
    else:
        lines.append("Last publication: none yet")
    return "\n".join(lines)
