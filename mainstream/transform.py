"""Run the dbt project (seeds, models, data and unit tests) against the private build file."""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass, field

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
        "DBT_PARTIAL_PARSE": "False",
    }


def run_dbt(home: Home, *args: str) -> BuildResult:
    """Run one dbt command in-process (``build`` by default) and raise BuildFailedError on any failure."""
    from dbt.cli.main import dbtRunner  # imported here: dbt is heavy and not needed to parse DAGs

    home.ensure()
    os.environ.update(dbt_environment(home))
    command = list(args) or ["build"]
    log.info("dbt %s (project %s, build file %s)", " ".join(command), DBT_PROJECT_DIR, home.build_db)
    result = dbtRunner().invoke(
        [*command, "--project-dir", str(DBT_PROJECT_DIR), "--profiles-dir", str(DBT_PROJECT_DIR), "--quiet"]
    )
    if result.exception is not None:
        raise BuildFailedError([f"dbt could not run: {result.exception}"]) from result.exception
    node_results = list(getattr(result.result, "results", []) or [])
    failures = [
        f"{node.node.unique_id}: {node.status}" + (f" ({node.message})" if node.message else "")
        for node in node_results
        if str(node.status) in {"error", "fail", "runtime error"}
    ]
    if failures or not result.success:
        raise BuildFailedError(failures or ["dbt reported failure without node results"])
    return BuildResult(nodes_run=len(node_results))
