"""The Airflow trigger that watches ``landing/`` and claims each finished drop.

It runs in the triggerer (which imports it by class path, so it lives in this installed package and not in
``dags/``). One run claims one file: it moves the file atomically from ``landing/<agency>/`` to ``claimed/``
(so neither this watcher nor a second triggerer can fire for it again) and yields one event whose payload
reaches the ``mainstream_ingest`` DAG as ``extra["payload"]`` of the ``landing_drops`` asset event. The
triggerer restarts the watcher after each event.

Claimed files go to ``claimed/<agency>/<uuid12>__<original name>`` (``claimed/<uuid12>__<name>`` for a file
dropped at the top of ``landing/``).

A file is only claimed once it has *settled*: its size and modification time have not changed for
``settle_seconds`` (by its mtime, or by what this watcher has observed), so a half-written upload stays put.
Hidden files and partial-upload names (``.part``, ``.tmp``, ...), and files under hidden or temporary folders,
are never claimed (``ingest.drops.iter_candidates``).
"""

from __future__ import annotations

import asyncio
import os
import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from airflow.triggers.base import BaseEventTrigger, TriggerEvent

CLASSPATH = "mainstream.watcher.LandingFileTrigger"


@dataclass(frozen=True)
class _Seen:
    """A file's signature and when (monotonic clock) this watcher first saw it with that signature."""

    size: int
    mtime_ns: int
    since: float


class LandingFileTrigger(BaseEventTrigger):
    """Poll ``landing_dir`` (recursively), claim one settled drop into ``claimed_dir``, fire once, return.

    :param landing_dir: the ingest bucket; agencies drop files into ``<landing_dir>/<agency>/``.
    :param claimed_dir: where claimed files are moved, as ``<agency>/<uuid12>__<original name>``; must be on the
        same filesystem as ``landing_dir`` (the claim is an ``os.rename``).
    :param poll_interval: seconds between directory scans.
    :param settle_seconds: a file whose size or mtime changed within this many seconds is left alone.
    """

    def __init__(
        self,
        landing_dir: str,
        claimed_dir: str,
        poll_interval: float = 2.0,
        settle_seconds: float = 1.0,
    ) -> None:
        super().__init__()
        self.landing_dir = str(landing_dir)
        self.claimed_dir = str(claimed_dir)
        self.poll_interval = float(poll_interval)
        self.settle_seconds = float(settle_seconds)
        self._seen: dict[str, _Seen] = {}

    def serialize(self) -> tuple[str, dict[str, Any]]:
        return (
            CLASSPATH,
            {
                "landing_dir": self.landing_dir,
                "claimed_dir": self.claimed_dir,
                "poll_interval": self.poll_interval,
                "settle_seconds": self.settle_seconds,
            },
        )

    async def run(self) -> AsyncIterator[TriggerEvent]:
        self.log.info(
            "watching %s for drops (poll %.1fs, settle %.1fs)",
            self.landing_dir,
            self.poll_interval,
            self.settle_seconds,
        )
        while True:
            for candidate in await asyncio.to_thread(self._settled_candidates):
                payload = await asyncio.to_thread(self._claim, candidate)
                if payload is not None:
                    self.log.info("claimed %s as %s (agency %s)", candidate, payload["path"], payload["agency"])
                    yield TriggerEvent(payload)
                    return
            await asyncio.sleep(self.poll_interval)

    def _settled_candidates(self) -> list[Path]:
        """Finished files under landing/, oldest first; remembers signatures to notice growing files."""
        from ingest.drops import iter_candidates

        landing = Path(self.landing_dir)
        if not landing.is_dir():
            self._seen.clear()
            return []
        now_wall = time.time()
        now = time.monotonic()
        seen: dict[str, _Seen] = {}
        ready: list[tuple[int, str, Path]] = []
        for path in iter_candidates(landing):  # skips hidden and temporary names, and folders
            try:
                stat = path.stat()
            except OSError:  # vanished between listing and stat (claimed elsewhere, or deleted)
                continue
            key = str(path)
            previous = self._seen.get(key)
            unchanged = previous is not None and (previous.size, previous.mtime_ns) == (
                stat.st_size,
                stat.st_mtime_ns,
            )
            entry = previous if unchanged else _Seen(stat.st_size, stat.st_mtime_ns, now)
            seen[key] = entry
            quiet_by_mtime = now_wall - stat.st_mtime_ns / 1e9 >= self.settle_seconds
            quiet_as_observed = now - entry.since >= self.settle_seconds
            if quiet_by_mtime or quiet_as_observed:
                ready.append((stat.st_mtime_ns, key, path))
            else:
                self.log.debug("%s is still changing; waiting for it to settle", path)
        self._seen = seen
        return [path for _, _, path in sorted(ready)]

    def _claim(self, path: Path) -> dict[str, Any] | None:
        """Move ``path`` into claimed/ atomically; None when it is gone (another triggerer took it)."""
        from ingest.drops import agency_from_landing_path

        agency = agency_from_landing_path(path, Path(self.landing_dir))
        # claimed/<agency>/ keeps the agency with the file: the ingest DAG also sweeps claimed/ for files whose
        # asset event the scheduler folded into an earlier run (apache/airflow#56050), and needs it for CSVs.
        folder = Path(self.claimed_dir) / agency if agency else Path(self.claimed_dir)
        folder.mkdir(parents=True, exist_ok=True)
        target = folder / f"{uuid.uuid4().hex[:12]}__{path.name}"
        try:
            os.rename(path, target)
        except FileNotFoundError:
            self.log.info("%s was claimed by someone else; continuing", path)
            return None
        except OSError:
            self.log.exception("could not claim %s into %s; leaving it in landing/", path, folder)
            return None
        finally:
            self._seen.pop(str(path), None)
        return {
            "path": str(target),
            "original_path": str(path),
            "agency": agency or None,
            "claimed_at": datetime.now(UTC).isoformat(timespec="seconds"),
        }
