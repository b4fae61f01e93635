"""Shared fixtures: every test gets its own MAINSTREAM_HOME under tmp_path."""

from __future__ import annotations

from pathlib import Path

import pytest

from mainstream.home import Home


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Home:
    """A fresh, empty MAINSTREAM_HOME, also exported for code that reads the environment."""
    monkeypatch.setenv("MAINSTREAM_HOME", str(tmp_path / "home"))
    return Home(tmp_path / "home").ensure()
