"""Withdraw a loaded extract: a file sent under the wrong agency, test data, a file the agency takes back.

The extract's raw files move to ``retracted/<extract_id>/`` (out of every later build, kept), the ledger records
who retracted it, when and why, and its archived file stays in ``archive/``. Its content counts as never loaded:
the same file dropped again (say, in the right agency's folder) loads. The next build publishes each programme's
latest version among the extracts left, so a retracted correction brings back the version it replaced, and a
programme only the retracted extract held leaves the marts.
"""

from __future__ import annotations

import getpass
import logging
import socket
from dataclasses import dataclass
from pathlib import Path

from ingest.raw_zone import RAW_TABLES, withdraw_extract
from mainstream.home import Home
from mainstream.ledger import Ledger
from mainstream.pipeline import build_lock, ingest_lock

log = logging.getLogger(__name__)


class RetractionError(ValueError):
    """The extract cannot be retracted (unknown, not loaded, already retracted, or the only one left)."""


@dataclass
class Retraction:
    extract_id: str
    file_name: str
    agency_ref: str | None
    rows_loaded: int
    retracted_at: str
    reason: str
    moved_to: list[Path]


def retract_extract(home: Home, extract_id: str, reason: str) -> Retraction:
    """Withdraw one loaded extract from the raw zone and record it; the caller rebuilds to publish the change.

    Holds the ingest lock (no file loads meanwhile, so a re-drop of the same content cannot race the retraction)
    and the build lock (no build reads the raw zone while its files move).
    """
    if not reason.strip():
        raise RetractionError("say why the extract is retracted (--reason): the ledger keeps it for whoever asks")
    if not home.state_db.is_file():
        raise RetractionError(f"{home.root} has no ledger ({home.state_db}): check --home or MAINSTREAM_HOME")
    with ingest_lock(home), build_lock(home):
        ledger = Ledger(home.state_db)
        drop = ledger.drop(extract_id)
        if drop is None:
            raise RetractionError(
                f"no extract {extract_id!r} in the ledger; `mainstream status --json` lists each drop's extract_id"
            )
        left_in_raw = [home.raw / table / f"{extract_id}.parquet" for table in RAW_TABLES]
        if drop["retracted_at"] and any(path.exists() for path in left_in_raw):
            # Recorded, but the process stopped before every file moved: finish the move.
            log.warning("extract %s: finishing a retraction that stopped half way", extract_id)
            moved_to = withdraw_extract(home.raw, extract_id, home.retracted / extract_id)
            return _retraction(drop, drop["retracted_at"], drop["retraction_reason"], moved_to)
        if drop["retracted_at"]:
            raise RetractionError(
                f"extract {extract_id} ({drop['file_name']}) was already retracted at {drop['retracted_at']}: "
                f"{drop['retraction_reason']}"
            )
        if drop["state"] != "loaded":
            raise RetractionError(
                f"extract {extract_id} ({drop['file_name']}) was {drop['state']}, not loaded: nothing of it is in "
                "the warehouse to retract"
            )
        others = [
            path
            for path in (home.raw / "programmes").glob("*.parquet")
            if not path.name.startswith("_") and path.stem != extract_id
        ]
        if not others:
            raise RetractionError(
                f"extract {extract_id} ({drop['file_name']}) is the only extract left in {home.raw}: retracting it "
                "would leave nothing to build, and the publication would keep it. Load the corrected file first, "
                "then retract this one"
            )
        retracted_at = ledger.record_retraction(extract_id, reason.strip(), _who())
        moved_to = withdraw_extract(home.raw, extract_id, home.retracted / extract_id)
    log.info(
        "retracted extract %s (%s, %d programmes): %s; raw files now in %s",
        extract_id,
        drop["file_name"],
        drop["rows_loaded"],
        reason.strip(),
        home.retracted / extract_id,
    )
    return _retraction(drop, retracted_at, reason.strip(), moved_to)


def _retraction(drop: dict, retracted_at: str, reason: str, moved_to: list[Path]) -> Retraction:
    return Retraction(
        extract_id=drop["extract_id"],
        file_name=drop["file_name"],
        agency_ref=drop["agency_ref"],
        rows_loaded=drop["rows_loaded"],
        retracted_at=retracted_at,
        reason=reason,
        moved_to=moved_to,
    )


def _who() -> str:
    """``user@host`` of whoever runs the retraction (the ledger keeps it)."""
    try:
        user = getpass.getuser()
    except (KeyError, OSError):  # no user name for this uid (some containers)
        user = "unknown"
    return f"{user}@{socket.gethostname()}"
