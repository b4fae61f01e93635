#!/usr/bin/env python3
"""Set up the project on a fresh machine that has only Python 3.11, then run one job.

    python3 scripts/bootstrap.py demo   # the main job: Airflow on 127.0.0.1, sample drops, published marts
    python3 scripts/bootstrap.py test   # the test suite

It creates ``.venv`` next to this repo (once), installs the pinned dependencies from ``constraints.txt``
and the project itself, then runs the job inside that virtualenv. Standard library only.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import venv
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
VENV = REPO / ".venv"
BIN = VENV / "bin"
STAMP = VENV / ".mainstream-installed"
JOBS = {
    "demo": [str(BIN / "mainstream"), "demo"],
    "test": [str(BIN / "python"), "-m", "pytest", "-n", "2", "--dist", "loadgroup"],
}


def _log(message: str) -> None:
    sys.stderr.write(f"[bootstrap] {message}\n")
    sys.stderr.flush()


def _install_fingerprint() -> str:
    digest = hashlib.sha256()
    for name in ("pyproject.toml", "constraints.txt"):
        digest.update((REPO / name).read_bytes())
    return digest.hexdigest()


def ensure_environment() -> None:
    if sys.version_info[:2] != (3, 11):
        raise SystemExit(f"mainstream needs Python 3.11; this is {sys.version.split()[0]}")
    if not (BIN / "python").exists():
        _log(f"creating virtualenv {VENV}")
        venv.EnvBuilder(with_pip=True, clear=False).create(VENV)
    fingerprint = _install_fingerprint()
    if STAMP.exists() and STAMP.read_text() == fingerprint:
        return
    _log("installing pinned dependencies (a few minutes the first time)")
    pip = [str(BIN / "python"), "-m", "pip", "install", "--disable-pip-version-check", "-q"]
    subprocess.run([*pip, "-c", str(REPO / "constraints.txt"), "-e", f"{REPO}[dev]"], check=True)
    STAMP.write_text(fingerprint)


def main(argv: list[str]) -> int:
    if len(argv) < 1 or argv[0] not in JOBS:
        raise SystemExit(f"usage: {Path(__file__).name} {{{'|'.join(JOBS)}}} [extra arguments]")
    ensure_environment()
    environment = {**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}"}
    environment.setdefault("DBT_SEND_ANONYMOUS_USAGE_STATS", "False")
    environment.setdefault("GX_ANALYTICS_ENABLED", "False")
    environment.setdefault("AIRFLOW__USAGE_DATA_COLLECTION__ENABLED", "False")
    command = [*JOBS[argv[0]], *argv[1:]]
    _log("running " + " ".join(command))
    return subprocess.run(command, cwd=REPO, env=environment).returncode


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
