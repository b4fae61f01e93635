"""Withdraw a loaded extract: a file sent under the wrong agency, test data, a file the agency takes back.

The extract's raw files and its archived file move to ``retracted/<extract_id>/`` (out of every later build and of
any backfill of ``archive/``, kept), and the ledger records who retracted it, when and why. Its content counts as
never loaded: the same file dropped again (say, in the right agency's folder) loads. The next build publishes each
programme's latest version among the extracts left, so a retracted correction brings back the version it replaced,
and a programme only the retracted extract held leaves the marts. Until a build finishes, the retraction waits
for one like an unbuilt load: `process` and the Airflow ingest build for it.
"""

from __future__ import annotations

import getpass
import logging
import os
import socket
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ingest.raw_zone import has_raw_files, withdraw_extract
from mainstream.home import Home
from mainstream.ledger import Ledger
from mainstream.pipeline import build_lock, forget_build, has_extracts, ingest_lock

log = logging.getLogger(__name__)


class RetractionError(ValueError):
    """The extract cannot be retracted (unknown, not loaded, already retracted and built, or no reason given)."""


@dataclass
class Retraction:
    extract_id: str
    file_name: str
    agency_ref: str | None
    rows_loaded: int
    retracted_at: str
    retracted_by: str
    reason: str
    moved_to: list[Path] = field(default_factory=list)
    #: Whether extracts are left to build; when none is, the publication keeps the extract until a file loads.
    extracts_left: bool = True
    #: Set when this call only finished an earlier retraction (moved what was left, or builds it again).
    resumed: bool = False


def retract_extract(home: Home, extract_id: str, reason: str) -> Retraction:
    """Withdraw one loaded extract from the raw zone and ``archive/``, and record it; the caller builds.

    Checks what can be checked at once, then holds the ingest lock (no file loads meanwhile, so a re-drop of the
    same content cannot race the retraction) and the build lock (no build reads the raw zone while its files
    move), and checks again. Running it again on a retraction that stopped half way (files not all moved, or
    its build not finished) finishes it.
    """
    reason = reason.strip()
    if not home.state_db.is_file():
        raise RetractionError(f"{home.root} has no ledger ({home.state_db}): check --home or MAINSTREAM_HOME")
    _check(home, Ledger(home.state_db), extract_id, reason)
    waiting = f"waiting for the ingest or build in progress in {home.root} before retracting {extract_id}"
    with ingest_lock(home, waiting), build_lock(home, waiting):
        ledger = Ledger(home.state_db)
        drop = _check(home, ledger, extract_id, reason)
        if drop["retracted_at"]:
            if reason and reason != drop["retraction_reason"]:
                log.warning("extract %s: the reason recorded first stands: %s", extract_id, drop["retraction_reason"])
            log.warning("extract %s was retracted at %s; finishing that retraction", extract_id, drop["retracted_at"])
            retraction = _retraction(drop, drop["retracted_at"], drop["retracted_by"], drop["retraction_reason"])
            retraction.resumed = True
        else:
            retracted_by = _who()
            retracted_at = ledger.record_retraction(extract_id, reason, retracted_by)
            retraction = _retraction(drop, retracted_at, retracted_by, reason)
        retraction.moved_to = _move_files(home, ledger, drop)
        forget_build(home)  # a run between its build and its publication must not publish the extract
        retraction.extracts_left = has_extracts(home)
    log.info(
        "retracted extract %s (%s, %d programmes): %s; its files are in %s",
        extract_id,
        drop["file_name"],
        drop["rows_loaded"],
        retraction.reason,
        home.retracted / extract_id,
    )
    return retraction


def _check(home: Home, ledger: Ledger, extract_id: str, reason: str) -> dict[str, Any]:
    """The drop to retract, or RetractionError saying why it cannot be."""
    drop = ledger.drop(extract_id)
    if drop is None:
        raise RetractionError(
            f"no extract {extract_id!r} in the ledger; `mainstream status` shows each loaded drop's extract="
        )
    if drop["state"] != "loaded":
        raise RetractionError(
            f"extract {extract_id} ({drop['file_name']}) was {drop['state']}, not loaded: nothing of it is in the "
            "warehouse to retract"
        )
    if drop["retracted_at"]:
        pending = {row["extract_id"] for row in ledger.retractions_not_built()}
        if extract_id not in pending and not has_raw_files(home.raw, extract_id):
            raise RetractionError(
                f"extract {extract_id} ({drop['file_name']}) was already retracted at {drop['retracted_at']} by "
                f"{drop['retracted_by']} ({drop['retraction_reason']}), and a build since has left it out"
            )
    elif not reason:
        raise RetractionError("say why the extract is retracted (--reason): the ledger keeps it for whoever asks")
    return drop


def _move_files(home: Home, ledger: Ledger, drop: dict[str, Any]) -> list[Path]:
    """Move the raw files, the archived file and the archived copies of its duplicates (the same content dropped
    again) to ``retracted/<extract_id>/``: out of archive/, so that a backfill of archive/ does not load the
    content again unnoticed. What is already there stays."""
    target = home.retracted / drop["extract_id"]
    moved = withdraw_extract(home.raw, drop["extract_id"], target)
    for copy in ledger.drops_with_hash(drop["content_hash"]):
        stored = Path(copy["stored_path"]) if copy["stored_path"] else None
        if stored is None or copy["state"] == "quarantined":
            continue
        if stored.is_relative_to(home.archive) and stored.exists():
            kept = target / stored.name
            os.replace(stored, kept)
            ledger.move_stored_file(copy["extract_id"], str(kept))
            moved.append(kept)
        elif stored.parent == target and stored.exists():
            moved.append(stored)
    return moved


def _retraction(drop: dict[str, Any], retracted_at: str, retracted_by: str, reason: str) -> Retraction:
    return Retraction(
        extract_id=drop["extract_id"],
        file_name=drop["file_name"],
        agency_ref=drop["agency_ref"],
        rows_loaded=drop["rows_loaded"],
        retracted_at=retracted_at,
        retracted_by=retracted_by,
        reason=reason,
    )


def _who() -> str:
    """``user@host`` of whoever runs the retraction (the ledger keeps it)."""
    try:
        user = getpass.getuser()
    except (KeyError, OSError):  # no user name for this uid (some containers)
        user = "unknown"
    return f"{user}@{socket.gethostname()}"
