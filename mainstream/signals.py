"""SIGTERM handled like Ctrl-C: a stopped command cleans up (stops Airflow, dbt, closes its ledger run)."""

from __future__ import annotations

import contextlib
import signal
from collections.abc import Iterator
from types import FrameType


@contextlib.contextmanager
def sigterm_raises_system_exit() -> Iterator[None]:
    """While inside, SIGTERM raises SystemExit(143) so ``finally`` blocks and ``except`` clauses run.

    Without it SIGTERM (a supervisor's stop, ``kill``, a CI timeout) ends the process on the spot and leaves what
    it started running. Only the main thread can set a handler; elsewhere this does nothing.
    """

    def handler(signum: int, frame: FrameType | None) -> None:
        raise SystemExit(128 + signum)

    try:
        previous = signal.signal(signal.SIGTERM, handler)
    except ValueError:  # not the main thread
        yield
        return
    try:
        yield
    finally:
        # TypeError: the previous handler was not set from Python.
        with contextlib.suppress(ValueError, TypeError):
            signal.signal(signal.SIGTERM, previous)
