"""Run a real ``airflow standalone`` (api-server, scheduler, dag-processor, triggerer) for one home.

Used by ``mainstream demo`` and the end-to-end test::

    with AirflowStandalone(home) as airflow:   # db migrate, start, wait for the API and both DAGs
        ...                                    # drop files into home.landing
    # every process it started is gone here, even after an exception or Ctrl-C

Everything Airflow writes stays in ``home.airflow_home`` (its SQLite database, ``airflow.cfg``, the generated
admin password, task logs and ``standalone.log``). The API server listens on 127.0.0.1 only, on a free port
unless one is given. Settings come from this module alone: ``AIRFLOW__*`` variables of the calling
environment are not passed on (so a test's or a user's Airflow configuration cannot leak into the demo).

Caveat: Airflow's log-serving sidecars (``airflow serve-logs`` started by the scheduler and the triggerer) bind
every interface, and ``airflow standalone`` gives no option to skip them; they get free ports here and only
serve log files to requests signed with this home's JWT secret. Nothing talks to them in this setup (the API
server reads task logs from local files).
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path
from types import TracebackType
from typing import Any

import psutil
import requests

from mainstream.home import DAGS_DIR, Home

log = logging.getLogger(__name__)

#: The DAGs the demo needs registered (and unpaused) before it drops files.
DAG_IDS = ("mainstream_ingest", "mainstream_publish")
#: Environment variable set in every process we start, to find them (and their orphans) when stopping.
INSTANCE_VARIABLE = "MAINSTREAM_AIRFLOW_INSTANCE"
_HEALTH_COMPONENTS = ("metadatabase", "scheduler", "triggerer", "dag_processor")


class AirflowStartError(RuntimeError):
    """Airflow did not come up (the message says what was seen and where the log is)."""


def _describe(process: psutil.Process) -> str:
    """``pid [component] command line`` of a process, shortened, for a log line (or ``pid (gone)``)."""
    try:
        arguments = process.cmdline()
        command = " ".join(arguments) or process.name()
    except psutil.Error:
        return f"{process.pid} (gone)"
    component = _component_of(arguments)
    return f"{process.pid} [{component}] {command[:120]}" if component else f"{process.pid} {command[:120]}"


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class AirflowStandalone:
    """One ``airflow standalone`` process tree bound to 127.0.0.1, with its home under ``home.airflow_home``."""

    def __init__(
        self,
        home: Home,
        port: int = 0,
        *,
        dags_folder: Path = DAGS_DIR,
        start_timeout: float = 240.0,
        extra_env: dict[str, str] | None = None,
    ) -> None:
        self.home = home
        self.port = port or free_port()
        self.dags_folder = Path(dags_folder)
        self.start_timeout = start_timeout
        self.extra_env = dict(extra_env or {})
        self.instance_id = uuid.uuid4().hex
        self.airflow_home = home.airflow_home
        self.log_path = self.airflow_home / "standalone.log"
        self.process: subprocess.Popen[bytes] | None = None
        self._token: str | None = None
        self._known_pids: set[int] = set()
        #: How many processes the last stop() had to SIGKILL (0 when every component shut down on its own).
        self.killed_on_stop = 0
        #: How many components the last stop() had to SIGTERM a second time after the grace period.
        self.signalled_twice_on_stop = 0

    # ------------------------------------------------------------------ configuration

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def password_file(self) -> Path:
        """Where the simple auth manager writes the generated ``admin`` password (JSON ``{user: password}``)."""
        return self.airflow_home / "simple_auth_manager_passwords.json.generated"

    def environment(self) -> dict[str, str]:
        """The environment of every Airflow process: our settings only, telemetry off, this venv first on PATH."""
        inherited = {
            name: value
            for name, value in os.environ.items()
            if not name.startswith("AIRFLOW__") and name not in {"AIRFLOW_HOME", "AIRFLOW_CONFIG"}
        }
        venv_bin = str(Path(sys.executable).parent)
        env = {
            **inherited,
            "PATH": venv_bin + os.pathsep + inherited.get("PATH", ""),
            "AIRFLOW_HOME": str(self.airflow_home),
            "MAINSTREAM_HOME": str(self.home.root),
            INSTANCE_VARIABLE: self.instance_id,
            "AIRFLOW__CORE__DAGS_FOLDER": str(self.dags_folder),
            "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
            "AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION": "False",
            "AIRFLOW__CORE__EXECUTOR": "LocalExecutor",
            "AIRFLOW__CORE__PARALLELISM": "4",
            "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"{self.base_url}/execution/",
            "AIRFLOW__API__HOST": "127.0.0.1",
            "AIRFLOW__API__PORT": str(self.port),
            "AIRFLOW__API__BASE_URL": self.base_url,
            "AIRFLOW__API__WORKERS": "1",
            "AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT": str(free_port()),
            "AIRFLOW__LOGGING__TRIGGER_LOG_SERVER_PORT": str(free_port()),
            "AIRFLOW__SCHEDULER__ENABLE_HEALTH_CHECK": "False",
            # New and changed DAG files show up within seconds instead of minutes.
            "AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL": "5",
            "AIRFLOW__DAG_PROCESSOR__MIN_FILE_PROCESS_INTERVAL": "10",
            # Offline: no telemetry, no update checks.
            "AIRFLOW__USAGE_DATA_COLLECTION__ENABLED": "False",
            "DBT_SEND_ANONYMOUS_USAGE_STATS": "False",
            "GX_ANALYTICS_ENABLED": "False",
            "NO_COLOR": "1",
            "PYTHONUNBUFFERED": "1",
        }
        env.update(self.extra_env)
        return env

    # ------------------------------------------------------------------ life cycle

    def __enter__(self) -> AirflowStandalone:
        return self.start()

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, traceback: TracebackType | None
    ) -> None:
        self.stop()

    def start(self) -> AirflowStandalone:
        """``airflow db migrate``, then ``airflow standalone``; return once the API answers and both DAGs exist."""
        if self.process is not None:
            raise RuntimeError("this AirflowStandalone is already started")
        self.airflow_home.mkdir(parents=True, exist_ok=True)
        self.home.ensure()
        env = self.environment()
        started = time.monotonic()
        try:
            self._migrate(env)
            with self.log_path.open("ab") as output:
                self.process = subprocess.Popen(
                    ["airflow", "standalone"],
                    cwd=self.airflow_home,
                    env=env,
                    stdin=subprocess.DEVNULL,
                    stdout=output,
                    stderr=subprocess.STDOUT,
                    start_new_session=True,  # its own process group, away from the terminal's Ctrl-C
                )
            log.info("airflow standalone started (pid %d), log: %s", self.process.pid, self.log_path)
            self._wait_until_ready(started)
        except BaseException:
            self.stop()
            raise
        log.info("Airflow ready in %.0f s at %s", time.monotonic() - started, self.base_url)
        return self

    def _migrate(self, env: dict[str, str]) -> None:
        with self.log_path.open("ab") as output:
            output.write(f"\n==== airflow db migrate ({time.strftime('%Y-%m-%d %H:%M:%S')})\n".encode())
            output.flush()
            migrate = subprocess.Popen(
                ["airflow", "db", "migrate"],
                cwd=self.airflow_home,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=output,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
            try:
                code = migrate.wait(timeout=self.start_timeout)
            except BaseException:
                _kill_group(migrate.pid, signal.SIGKILL)
                migrate.wait()
                raise
        if code != 0:
            raise AirflowStartError(f"`airflow db migrate` failed (exit {code}); see {self.log_path}")

    def _wait_until_ready(self, started: float) -> None:
        deadline = started + self.start_timeout
        seen = "nothing yet"
        # 1. the API server answers and every component heartbeats
        while True:
            self._check_alive()
            try:
                response = requests.get(f"{self.base_url}/api/v2/monitor/health", timeout=5)
                if response.ok:
                    health = response.json()
                    states = {name: (health.get(name) or {}).get("status") for name in _HEALTH_COMPONENTS}
                    seen = ", ".join(f"{name} {state}" for name, state in states.items())
                    if all(state == "healthy" for state in states.values()):
                        break
                else:
                    seen = f"health endpoint answered {response.status_code}"
            except requests.RequestException as error:
                seen = f"API server not answering yet ({type(error).__name__})"
            self._sleep_or_fail(deadline, 1.0, seen)
        log.info("Airflow components healthy after %.0f s", time.monotonic() - started)
        # 2. both DAGs parsed, registered and unpaused
        while True:
            self._check_alive()
            try:
                errors = self.import_errors()
                if errors:
                    raise AirflowStartError(
                        "DAG import errors:\n" + "\n".join(f"{e['filename']}:\n{e['stack_trace']}" for e in errors)
                    )
                dags = {dag["dag_id"]: dag for dag in self.api("GET", "/api/v2/dags", params={"limit": 100})["dags"]}
                missing = [dag_id for dag_id in DAG_IDS if dag_id not in dags]
                paused = [dag_id for dag_id in DAG_IDS if dag_id in dags and dags[dag_id]["is_paused"]]
                for dag_id in paused:  # e.g. an existing home where someone paused it by hand
                    log.warning("unpausing %s", dag_id)
                    self.api("PATCH", f"/api/v2/dags/{dag_id}", json={"is_paused": False})
                if not missing and not paused:
                    return
                seen = f"DAGs not registered yet: {', '.join(missing)}" if missing else "unpausing DAGs"
            except (requests.RequestException, KeyError, ValueError) as error:
                seen = f"API not ready for DAG listing ({type(error).__name__}: {error})"
            self._sleep_or_fail(deadline, 1.0, seen)

    def _check_alive(self) -> None:
        if self.process is not None and self.process.poll() is not None:
            raise AirflowStartError(
                f"airflow standalone exited with code {self.process.returncode}; last lines of {self.log_path}:\n"
                + self.log_tail()
            )

    def _sleep_or_fail(self, deadline: float, seconds: float, seen: str) -> None:
        if time.monotonic() + seconds > deadline:
            raise AirflowStartError(
                f"Airflow not ready after {self.start_timeout:.0f} s ({seen}); last lines of {self.log_path}:\n"
                + self.log_tail()
            )
        time.sleep(seconds)

    def stop(self, timeout: float = 30.0, second_signal_wait: float = 10.0) -> None:
        """Stop every process this instance started, in Airflow's order, and kill only what will not stop.

        1. The scheduler, dag-processor and triggerer get one SIGTERM each; the scheduler's LocalExecutor waits for
           running tasks to finish.
        2. The api-server goes once they have stopped (or after ``timeout``): a task finishing during the
           scheduler's drain reports its state through it.
        3. A component still running after ``timeout`` gets the second SIGTERM Airflow asks for ("Signal again if
           you don't want to wait") and ``second_signal_wait`` seconds; the standalone, which only relays output,
           goes last.
        4. Whatever is left is SIGKILLed, and named in the log with its last log lines.
        """
        if self.process is None:
            return
        process, self.process = self.process, None
        started = time.monotonic()
        targets = self._processes(process.pid)
        signalled_twice: list[psutil.Process] = []
        interrupted: BaseException | None = None
        try:
            components = _children(process.pid)
            if process.poll() is None and components:
                # One SIGTERM per component: a SIGTERM to every process at once reached the scheduler twice, and the
                # second aborted its LocalExecutor shutdown half way, leaving idle workers waiting for good.
                servers = [component for component in components if _component_name(component) == "api-server"]
                others = [component for component in components if component not in servers]
                _terminate(others)
                still_running = _wait_until_stopped(others, timeout)
                _terminate(servers)
                still_running += _wait_until_stopped(servers, 5.0)
                if still_running:
                    signalled_twice = still_running
                    log.warning(
                        "Signalling again (Airflow's 'signal again if you don't want to wait'): %s still running "
                        "%.0f s after SIGTERM",
                        ", ".join(_component_name(component) or _describe(component) for component in still_running),
                        time.monotonic() - started,
                    )
                    _terminate(still_running)
                    _wait_until_stopped(still_running, second_signal_wait)
                process.terminate()
            else:  # starting up, or the standalone is gone: every process left gets its one SIGTERM from here
                _terminate(targets)
            alive = _wait_until_stopped(targets, max(2.0, timeout - (time.monotonic() - started)))
        except KeyboardInterrupt as error:  # a second Ctrl-C: stop waiting, kill now
            interrupted, alive = error, targets
        # Anything still there (or started while we were stopping) is killed.
        leftovers = {p.pid: p for p in [*alive, *self._processes(process.pid)] if _is_running(p)}
        if leftovers:
            log.warning(
                "Killing %d Airflow process(es) still running %.0f s after being asked to stop: %s\n"
                "last lines of %s:\n%s",
                len(leftovers),
                time.monotonic() - started,
                "; ".join(_describe(p) for p in leftovers.values()),
                self.log_path,
                self.log_tail(30),
            )
        _kill_group(process.pid, signal.SIGKILL)
        for target in leftovers.values():
            with contextlib.suppress(psutil.Error):
                target.kill()
        psutil.wait_procs(list(leftovers.values()), timeout=10)
        self.killed_on_stop = len(leftovers)
        self.signalled_twice_on_stop = len(signalled_twice)
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(timeout=10)
        log.info(
            "Airflow stopped in %.1f s (%d processes, %d signalled twice, %d killed)",
            time.monotonic() - started,
            len(targets),
            len(signalled_twice),
            len(leftovers),
        )
        if interrupted is not None:
            raise interrupted

    def _processes(self, root_pid: int) -> list[psutil.Process]:
        """The standalone, its descendants, and any process carrying our instance marker (e.g. orphans)."""
        found: dict[int, psutil.Process] = {}
        with contextlib.suppress(psutil.Error):
            root = psutil.Process(root_pid)
            found[root.pid] = root
            for child in root.children(recursive=True):
                found[child.pid] = child
        for process in self.surviving_processes():
            found[process.pid] = process
        found.pop(os.getpid(), None)
        return list(found.values())

    def surviving_processes(self) -> list[psutil.Process]:
        """Live processes started by this instance (they carry its marker in their environment)."""
        survivors = []
        for process in psutil.process_iter():
            if process.pid == os.getpid():
                continue
            try:
                if process.environ().get(INSTANCE_VARIABLE) == self.instance_id and process.status() not in (
                    psutil.STATUS_ZOMBIE,
                    psutil.STATUS_DEAD,
                ):
                    survivors.append(process)
            except psutil.Error:
                continue
        return survivors

    # ------------------------------------------------------------------ REST API (simple auth manager)

    def admin_password(self) -> str:
        """The generated password of user ``admin`` (``airflow standalone`` writes it on first start)."""
        return json.loads(self.password_file.read_text())["admin"]

    def token(self) -> str:
        """A JWT for the REST API: ``POST /auth/token`` with the admin credentials."""
        if self._token is None:
            response = requests.post(
                f"{self.base_url}/auth/token",
                json={"username": "admin", "password": self.admin_password()},
                timeout=10,
            )
            response.raise_for_status()
            self._token = response.json()["access_token"]
        return self._token

    def api(self, method: str, path: str, **kwargs: Any) -> Any:
        """Call the REST API with the admin token; return the decoded JSON body."""
        response = requests.request(
            method,
            f"{self.base_url}{path}",
            headers={"Authorization": f"Bearer {self.token()}"},
            timeout=kwargs.pop("timeout", 15),
            **kwargs,
        )
        if response.status_code == 401:  # expired token: get a new one once
            self._token = None
            response = requests.request(
                method,
                f"{self.base_url}{path}",
                headers={"Authorization": f"Bearer {self.token()}"},
                timeout=15,
                **kwargs,
            )
        response.raise_for_status()
        return response.json() if response.content else None

    def import_errors(self) -> list[dict[str, Any]]:
        return list(self.api("GET", "/api/v2/importErrors")["import_errors"])

    def dag_runs(self, dag_id: str, **params: Any) -> list[dict[str, Any]]:
        return list(self.api("GET", f"/api/v2/dags/{dag_id}/dagRuns", params={"limit": 100, **params})["dag_runs"])

    def log_tail(self, lines: int = 40) -> str:
        try:
            text = self.log_path.read_text(errors="replace")
        except OSError:
            return "(no log)"
        return "\n".join(text.splitlines()[-lines:])


def _children(pid: int) -> list[psutil.Process]:
    """The direct children of a process (none when it is gone)."""
    try:
        return psutil.Process(pid).children(recursive=False)
    except psutil.Error:
        return []


def _component_name(process: psutil.Process) -> str | None:
    """``scheduler``, ``api-server``, ... for an ``airflow <component>`` process (None for anything else)."""
    try:
        return _component_of(process.cmdline())
    except psutil.Error:
        return None


def _component_of(arguments: list[str]) -> str | None:
    """The word after the ``airflow`` launcher in a command line (``scheduler``, ``api-server``, ...), or None."""
    for position, argument in enumerate(arguments[:-1]):
        if Path(argument).name == "airflow":
            return arguments[position + 1]
    return None


def _terminate(processes: list[psutil.Process]) -> None:
    """SIGTERM each process once; one that is already gone is skipped."""
    for process in processes:
        with contextlib.suppress(psutil.Error):
            process.terminate()


def _wait_until_stopped(processes: list[psutil.Process], timeout: float) -> list[psutil.Process]:
    """Wait until every process has exited, or ``timeout``; return those still running.

    A component that has exited stays a zombie until the standalone reaps it, and psutil waits for a process
    that is not our child until its pid is gone: so a zombie counts as stopped here.
    """
    deadline = time.monotonic() + timeout
    while True:
        running = [process for process in processes if _is_running(process)]
        if not running or time.monotonic() >= deadline:
            return running
        time.sleep(0.2)


def _is_running(process: psutil.Process) -> bool:
    try:
        return process.is_running() and process.status() != psutil.STATUS_ZOMBIE
    except psutil.Error:
        return False


def _kill_group(pgid: int, sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, sig)
