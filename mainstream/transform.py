"""Run the dbt project (seeds, models, data and unit tests) against the private build file."""

from __future__ import annotations

import json
import logging
import os
import shutil
import site
import subprocess
import sys
import sysconfig
from dataclasses import dataclass, field
from pathlib import Path

from mainstream.home import DBT_PROJECT_DIR, Home

log = logging.getLogger(__name__)


class BuildFailedError(RuntimeError):
    """dbt build failed: a model errored or a dbt test did not pass. Nothing is published."""

    def __init__(self, failures: list[str]) -> None:
        super().__init__("dbt build failed: " + "; ".join(failures))
        self.failures = failures


@dataclass
class BuildResult:
    nodes_run: int
    failures: list[str] = field(default_factory=list)


def dbt_environment(home: Home) -> dict[str, str]:
    """Environment the dbt project reads (paths under MAINSTREAM_HOME, telemetry off)."""
    return {
        "MAINSTREAM_HOME": str(home.root),
        "DBT_PROFILES_DIR": str(DBT_PROJECT_DIR),
        "DBT_TARGET_PATH": str(home.dbt_target),
        "DBT_LOG_PATH": str(home.dbt_logs),
        "DBT_SEND_ANONYMOUS_USAGE_STATS": "False",
        # Partial parsing (dbt's default) re-reads only changed files on later runs of the same home: a few
        # seconds off every drop-to-published run. dbt re-parses whatever a changed file or env var touches.
        "DBT_PARTIAL_PARSE": "True",
    }


def dbt_executable() -> Path:
    """dbt's console script: beside this Python (a venv), in the user scripts folder (a `pip install --user`, as in
    the official Airflow image), or on PATH. BuildFailedError says where it looked when none has it."""
    beside_python = Path(sys.executable).with_name("dbt")
    candidates = [beside_python]
    if user_scripts := _user_scripts_folder():
        candidates.append(user_scripts / "dbt")
    for candidate in candidates:
        if candidate.is_file() and os.access(candidate, os.X_OK):
            return candidate
    if on_path := shutil.which("dbt"):
        return Path(on_path)
    raise BuildFailedError(
        [
            f"dbt not found: not at {', nor at '.join(map(str, candidates))}, nor on PATH; install the project's "
            "dependencies (dbt-duckdb) into this Python"
        ]
    )


def _user_scripts_folder() -> Path | None:
    """Where `pip install --user` puts console scripts for this Python; None in a virtual environment (whose
    Python does not read the user site, so a dbt there belongs to another Python) or when it has none."""
    if sys.prefix != sys.base_prefix or not site.ENABLE_USER_SITE:
        return None
    try:
        return Path(sysconfig.get_path("scripts", sysconfig.get_preferred_scheme("user")))
    except (KeyError, ValueError):
        return None


def run_dbt(home: Home, *args: str) -> BuildResult:
    """Run one dbt command (``build`` by default) in a child process; raise BuildFailedError on any failure.

    A child process, not dbtRunner in this one: dbt-duckdb keeps its DuckDB instance open for the life of
    the process, which would stop the audit and publish steps from opening the build file read-only.
    """
    home.ensure()
    command = list(args) or ["build"]
    executable = dbt_executable()
    log.info("dbt %s (project %s, build file %s)", " ".join(command), DBT_PROJECT_DIR, home.build_db)
    # Interrupted (Ctrl-C, or SIGTERM raised as SystemExit by the CLI), subprocess.run kills dbt before going on:
    # an orphaned dbt would keep writing the build file without the build lock.
    completed = subprocess.run(
        [str(executable), *command, "--project-dir", str(DBT_PROJECT_DIR), "--profiles-dir", str(DBT_PROJECT_DIR)],
        env={**os.environ, **dbt_environment(home)},
        capture_output=True,
        text=True,
        check=False,
    )
    log.debug("dbt output:\n%s", completed.stdout)
    node_results = _read_run_results(home)
    failures = [
        f"{node['unique_id']}: {node['status']}" + (f" ({node['message']})" if node.get("message") else "")
        for node in node_results
        if node["status"] in {"error", "fail", "runtime error"}
    ]
    if completed.returncode != 0 or failures:
        detail = failures or [_last_lines(completed.stdout + completed.stderr)]
        raise BuildFailedError(detail)
    return BuildResult(nodes_run=len(node_results))


def _read_run_results(home: Home) -> list[dict]:
    path = home.dbt_target / "run_results.json"
    if not path.exists():
        return []
    return json.loads(path.read_text()).get("results", [])


def _last_lines(output: str, count: int = 15) -> str:
    return "\n".join(line for line in output.strip().splitlines()[-count:])
