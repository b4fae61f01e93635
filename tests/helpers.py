"""Helpers shared by tests."""

from __future__ import annotations

from pathlib import Path

from mainstream.home import Home

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
