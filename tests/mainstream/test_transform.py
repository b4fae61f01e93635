"""Finding dbt's console script where pip put it: beside Python (a venv), in the user scripts folder (the official
Airflow image installs with --user), or on PATH."""

from __future__ import annotations

import site
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


def _system_python_without_dbt(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, user_base: Path) -> None:
    """This process seen as a system Python (no venv, user site on) in a folder without dbt, whose user base
    (`pip install --user`) is ``user_base``: the layout of the official Airflow image."""
    monkeypatch.setattr(sys, "executable", str(tmp_path / "system" / "bin" / "python"))
    monkeypatch.setattr(sys, "prefix", sys.base_prefix)
    monkeypatch.setattr(site, "ENABLE_USER_SITE", True)
    monkeypatch.setenv("PYTHONUSERBASE", str(user_base))
    # sysconfig reads the user base once per process and keeps it with its config variables.
    monkeypatch.setitem(sysconfig.get_config_vars(), "userbase", str(user_base))
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))


def test_dbt_beside_this_python_is_the_venv_s_own() -> None:
    assert dbt_executable() == Path(sys.executable).with_name("dbt")


def test_a_user_install_s_dbt_is_found_before_path_and_a_missing_one_says_where_it_looked(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    user_base = tmp_path / "home" / ".local"
    _system_python_without_dbt(tmp_path, monkeypatch, user_base)
    with pytest.raises(BuildFailedError, match=r"dbt not found: not at .*system/bin/dbt, nor at .*\.local/bin/dbt"):
        dbt_executable()

    on_path = _script(tmp_path / "elsewhere")
    monkeypatch.setenv("PATH", str(on_path.parent))
    assert dbt_executable() == on_path

    user = _script(user_base / "bin")
    assert dbt_executable() == user, "the user scripts folder comes before PATH"


def test_in_a_venv_a_user_install_s_dbt_belongs_to_another_python_and_is_not_taken(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    user_base = tmp_path / "home" / ".local"
    _system_python_without_dbt(tmp_path, monkeypatch, user_base)
    _script(user_base / "bin")
    monkeypatch.setattr(sys, "prefix", str(tmp_path / "venv"))  # a venv: prefix differs from base_prefix

    with pytest.raises(BuildFailedError, match=r"dbt not found: not at .*system/bin/dbt, nor on PATH"):
        dbt_executable()
