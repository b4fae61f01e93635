"""Point Airflow at a throwaway home for this test process, before ``airflow`` is first imported.

Airflow reads its configuration once, when it is first imported, and creates ``$AIRFLOW_HOME/logs`` (by
default ``~/airflow``) while doing so. Tests that import Airflow call :func:`configure` first (the conftest of
``tests/dags`` at collection time, other tests in a fixture before their first Airflow import), so nothing is
written outside temporary directories and ``dag.test()`` uses its own SQLite database.
"""

from __future__ import annotations

import atexit
import os
import shutil
import subprocess
import sys
import tempfile
import warnings
from pathlib import Path

from mainstream.home import DAGS_DIR

_MARKER = "MAINSTREAM_TEST_AIRFLOW_HOME"
_OWNER = "MAINSTREAM_TEST_AIRFLOW_PID"


def configure() -> Path:
    """Create (once per process) a temporary AIRFLOW_HOME with a SQLite database path; return it."""
    # pytest-xdist workers inherit the controller's environment: each process needs its own home and database.
    if (existing := os.environ.get(_MARKER)) and os.environ.get(_OWNER) == str(os.getpid()):
        return Path(existing)
    if "airflow" in sys.modules:
        warnings.warn("airflow was imported before the test Airflow home was configured", stacklevel=2)
    home = Path(tempfile.mkdtemp(prefix="mainstream-test-airflow-"))
    atexit.register(shutil.rmtree, home, ignore_errors=True)
    os.environ.update(
        {
            _MARKER: str(home),
            _OWNER: str(os.getpid()),
            "AIRFLOW_HOME": str(home),
            "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{home / 'airflow.db'}",
            "AIRFLOW__CORE__DAGS_FOLDER": str(DAGS_DIR),
            "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
            "AIRFLOW__USAGE_DATA_COLLECTION__ENABLED": "False",
            "DBT_SEND_ANONYMOUS_USAGE_STATS": "False",
            "GX_ANALYTICS_ENABLED": "False",
        }
    )
    return home


def migrate() -> Path:
    """``airflow db migrate`` into the test home (once per process; a few seconds)."""
    home = configure()
    if not (home / ".migrated").exists():
        airflow = Path(sys.executable).parent / "airflow"
        result = subprocess.run([str(airflow), "db", "migrate"], capture_output=True, text=True, env=os.environ.copy())
        if result.returncode != 0:
            raise RuntimeError(
                f"airflow db migrate failed ({result.returncode}):\n{result.stdout[-3000:]}{result.stderr[-3000:]}"
            )
        (home / ".migrated").touch()
    return home
