"""Stopping an ``airflow standalone`` tree: the order of the signals and the escalation, on a stand-in process tree.

A real scheduler that ignores its first SIGTERM cannot be produced on demand (CI saw one once in 30 s), so these
tests run a small process tree whose components are named as Airflow's are (``.../airflow scheduler``) and behave
as the test needs; the real tree's stop is asserted by tests/e2e/test_standalone.py.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest

from mainstream.airflow_standalone import AirflowStandalone
from mainstream.home import Home

COMPONENT = textwrap.dedent(
    """
    import os, signal, sys, time
    from pathlib import Path

    name, behaviour, journal = sys.argv[1], sys.argv[2], Path(sys.argv[3])
    terms = []

    def on_term(signum, frame):
        terms.append(time.monotonic())
        alive = sorted(p.name for p in journal.parent.glob("*.pid") if _alive(_pid(p)))
        with journal.open("a") as out:
            out.write(f"{name} SIGTERM {len(terms)} while running: {' '.join(alive)}\\n")

    def _pid(path):
        try:
            return int(path.read_text())
        except (OSError, ValueError):  # removed by its component meanwhile
            return None

    def _alive(pid):
        if pid is None:
            return False
        try:
            os.kill(pid, 0)
        except OSError:
            return False
        return True

    signal.signal(signal.SIGTERM, on_term)
    partial = journal.parent / f".{name}.pid.tmp"
    partial.write_text(str(os.getpid()))
    partial.rename(journal.parent / f"{name}.pid")  # whole, for whoever reads it
    while True:
        if behaviour == "drains" and terms and time.monotonic() - terms[0] > 1.0:
            break  # a scheduler waiting a second for a running task to finish
        if behaviour == "prompt" and terms:
            break
        if behaviour == "needs-two" and len(terms) >= 2:
            break
        time.sleep(0.05)
    (journal.parent / f"{name}.pid").unlink()
    """
)

STANDALONE = textwrap.dedent(
    """
    import signal, subprocess, sys, time
    airflow, journal, behaviours = sys.argv[1], sys.argv[2], sys.argv[3:]
    children = [
        subprocess.Popen([sys.executable, airflow, *spec.split(":"), journal]) for spec in behaviours
    ]
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    while True:
        time.sleep(0.05)
    """
)


@pytest.fixture(autouse=True)
def _no_stand_in_left(tmp_path: Path) -> Iterator[None]:
    """Whatever a failing stop() leaves of a stand-in tree is killed: its components ignore SIGTERM on purpose."""
    yield
    for process in psutil.process_iter():
        try:
            if any(str(tmp_path) in argument for argument in process.cmdline()):
                process.kill()
        except psutil.Error:
            continue


def _start_tree(tmp_path: Path, behaviours: dict[str, str]) -> tuple[AirflowStandalone, Path]:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    airflow = bin_dir / "airflow"  # named like the real launcher, so components are told apart as in a real tree
    airflow.write_text(COMPONENT)
    standalone = tmp_path / "standalone.py"
    standalone.write_text(STANDALONE)
    journal = tmp_path / "run" / "journal.txt"
    journal.parent.mkdir()
    specs = [f"{name}:{behaviour}" for name, behaviour in behaviours.items()]
    instance = AirflowStandalone(Home(tmp_path / "home").ensure())
    instance.process = subprocess.Popen([sys.executable, str(standalone), str(airflow), str(journal), *specs])
    deadline = time.monotonic() + 30
    while len(list(journal.parent.glob("*.pid"))) < len(behaviours):
        assert time.monotonic() < deadline, "the stand-in components did not start"
        time.sleep(0.05)
    return instance, journal


def test_the_api_server_stops_after_the_scheduler_has_drained(tmp_path: Path) -> None:
    """Tasks finishing while the scheduler drains report their state through the api-server: it must still run."""
    instance, journal = _start_tree(
        tmp_path, {"api-server": "prompt", "scheduler": "drains", "triggerer": "prompt", "dag-processor": "prompt"}
    )
    root = instance.process.pid
    instance.stop(timeout=20)

    lines = journal.read_text().splitlines()
    assert lines[-1] == "api-server SIGTERM 1 while running: api-server.pid", lines
    assert "scheduler SIGTERM 1 while running: api-server.pid dag-processor.pid scheduler.pid triggerer.pid" in lines
    assert (instance.killed_on_stop, instance.signalled_twice_on_stop) == (0, 0)
    assert not psutil.pid_exists(root) or psutil.Process(root).status() == psutil.STATUS_ZOMBIE


def test_a_component_that_ignores_its_first_sigterm_is_signalled_again_not_killed(tmp_path: Path) -> None:
    instance, journal = _start_tree(tmp_path, {"api-server": "prompt", "scheduler": "needs-two"})
    scheduler = psutil.Process(int((journal.parent / "scheduler.pid").read_text()))
    started = time.monotonic()
    instance.stop(timeout=2, second_signal_wait=10)

    lines = journal.read_text().splitlines()
    assert [line.split(" while")[0] for line in lines] == [
        "scheduler SIGTERM 1",
        "api-server SIGTERM 1",
        "scheduler SIGTERM 2",
    ]
    assert (instance.killed_on_stop, instance.signalled_twice_on_stop) == (0, 1)
    assert time.monotonic() - started < 12
    assert not scheduler.is_running() or scheduler.status() == psutil.STATUS_ZOMBIE


def test_a_component_that_ignores_every_sigterm_is_killed_and_named(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    instance, journal = _start_tree(tmp_path, {"api-server": "prompt", "scheduler": "deaf"})
    scheduler_pid = int((journal.parent / "scheduler.pid").read_text())
    instance.stop(timeout=1, second_signal_wait=1)

    assert instance.killed_on_stop == 1
    assert "Killing 1 Airflow process(es)" in caplog.text
    assert f"{scheduler_pid} [scheduler] " in caplog.text
    assert not psutil.pid_exists(scheduler_pid) or psutil.Process(scheduler_pid).status() == psutil.STATUS_ZOMBIE
