"""Finding dbt's console script where pip put it: beside Python (a venv), in the user scripts folder (the official
Airflow image installs with --user), or on PATH."""

from __future__ import annotations

import sys
import sysconfig
from pathlib import Path

import pytest

from mainstream.transform import BuildFailedError, dbt_executable


def _script(folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    script = folder / "dbt"
    script.write_text("#!/bin/sh\n")
    script.chmod(0o755)
    return script


def test_dbt_beside_this_python_is_the_venv_s_own() -> None:
    assert dbt_executable() == Path(sys.executable).with_name("dbt")


def test_a_user_install_s_dbt_is_found_when_none_is_beside_python(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sys, "executable", str(tmp_path / "system" / "bin" / "python"))
    user_scripts = tmp_path / "home" / ".local" / "bin"
    monkeypatch.setattr(sysconfig, "get_path", lambda name, scheme=None: str(user_scripts))
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    with pytest.raises(BuildFailedError, match=r"dbt not found: not at .*system/bin/dbt, not at .*\.local/bin/dbt"):
        dbt_executable()

    on_path = _script(tmp_path / "elsewhere")
    monkeypatch.setenv("PATH", str(on_path.parent))
    assert dbt_executable() == on_path

    user = _script(user_scripts)
    assert dbt_executable() == user, "the user scripts folder comes before PATH"
