"""Helpers shared by tests."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

from mainstream.home import DBT_PROJECT_DIR, Home
from mainstream.transform import dbt_environment

FIXTURES = Path(__file__).parent / "fixtures"


def drop(home: Home, agency: str, name: str, content: str | bytes) -> Path:
    """Write a file into landing/<agency>/ as an agency would."""
    folder = home.landing / agency
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content, encoding="utf-8")
    return path


def dbt_in(project_dir: Path, home: Home, *args: str) -> subprocess.CompletedProcess:
    """Run dbt on a dbt project folder (the real one or a test's copy) with the pipeline's environment."""
    environment = {**os.environ, **dbt_environment(home)}
    return subprocess.run(
        [
            str(Path(sys.executable).parent / "dbt"),
            *args,
            "--project-dir",
            str(project_dir),
            "--profiles-dir",
            str(project_dir),
        ],
        env=environment,
        capture_output=True,
        text=True,
        check=False,
    )


def copy_dbt_project(target: Path) -> Path:
    """A private copy of the dbt project, for tests that vary its seeds or macros."""
    shutil.copytree(DBT_PROJECT_DIR, target, ignore=shutil.ignore_patterns("target", "logs"))
    return target
