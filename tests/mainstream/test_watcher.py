"""The landing watcher: the real trigger's ``run()`` on a temporary landing/ directory."""

from __future__ import annotations

import asyncio
import json
import os
import re
import time
from datetime import datetime
from pathlib import Path

import pytest

from tests import airflow_env

FAST = {"poll_interval": 0.05, "settle_seconds": 0.3}


@pytest.fixture(scope="module")
def trigger_class():
    airflow_env.configure()  # before the first import of airflow in this process
    from mainstream.watcher import LandingFileTrigger

    return LandingFileTrigger


@pytest.fixture
def dirs(tmp_path: Path) -> tuple[Path, Path]:
    landing = tmp_path / "landing"
    landing.mkdir()
    return landing, tmp_path / "claimed"


def _write(path: Path, content: bytes = b"<iati-activities/>\n", age: float = 10.0) -> Path:
    """A finished file, last modified ``age`` seconds ago."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(content)
    stamp = time.time() - age
    os.utime(path, (stamp, stamp))
    return path


def _files(folder: Path) -> list[Path]:
    return sorted(path for path in folder.rglob("*") if path.is_file()) if folder.exists() else []


def _trigger(trigger_class, landing: Path, claimed: Path, **kwargs):
    return trigger_class(landing_dir=str(landing), claimed_dir=str(claimed), **{**FAST, **kwargs})


async def _first_event(trigger, timeout: float, fired: list[float] | None = None):
    """The first event of a run, and whether the run then ended (a run must yield exactly one event)."""
    events = trigger.run()
    event = await asyncio.wait_for(anext(events), timeout)
    if fired is not None:
        fired.append(time.time())
    try:
        await asyncio.wait_for(anext(events), 1.0)
    except StopAsyncIteration:
        return event, True
    return event, False


def test_claims_a_finished_drop_and_fires_once(trigger_class, dirs):
    landing, claimed = dirs
    original = _write(landing / "unhcr" / "unhcr_2026.xml", b"<iati-activities>one</iati-activities>")

    event, ended = asyncio.run(_first_event(_trigger(trigger_class, landing, claimed), timeout=10))

    assert ended, "the run must return after its one event"
    payload = event.payload
    claimed_path = Path(payload["path"])
    assert claimed_path.parent == claimed / "unhcr", "claimed/<agency>/ keeps the agency with the file"
    assert re.fullmatch(r"[0-9a-f]{12}__unhcr_2026\.xml", claimed_path.name)
    assert claimed_path.read_bytes() == b"<iati-activities>one</iati-activities>"
    assert not original.exists()
    assert payload["original_path"] == str(original)
    assert payload["agency"] == "unhcr"
    assert datetime.fromisoformat(payload["claimed_at"]).utcoffset().total_seconds() == 0
    json.dumps(payload)  # the payload is stored as JSON in the asset event


def test_one_file_per_run_oldest_first(trigger_class, dirs):
    landing, claimed = dirs
    _write(landing / "undp" / "newer.csv", age=5)
    older = _write(landing / "who" / "older.xml", age=50)

    event, ended = asyncio.run(_first_event(_trigger(trigger_class, landing, claimed), timeout=10))

    assert ended
    assert event.payload["original_path"] == str(older)
    assert event.payload["agency"] == "who"
    assert [path.name for path in (landing / "undp").iterdir()] == ["newer.csv"]
    assert [path.parent.name for path in _files(claimed)] == ["who"]


def test_file_at_top_of_landing_has_no_agency(trigger_class, dirs):
    landing, claimed = dirs
    _write(landing / "extract.xml")
    event, _ = asyncio.run(_first_event(_trigger(trigger_class, landing, claimed), timeout=10))
    assert event.payload["agency"] is None
    assert Path(event.payload["path"]).parent == claimed


def test_ignores_partial_uploads_and_hidden_files(trigger_class, dirs):
    landing, claimed = dirs
    ignored = [
        _write(landing / "undp" / "programmes.csv.part"),
        _write(landing / "undp" / "programmes.csv.tmp"),
        _write(landing / "undp" / ".programmes.csv"),
        _write(landing / "undp" / "~$programmes.xlsx"),
        _write(landing / ".staging" / "programmes.csv"),
    ]

    with pytest.raises(TimeoutError):
        asyncio.run(_first_event(_trigger(trigger_class, landing, claimed), timeout=1.5))

    assert all(path.exists() for path in ignored)
    assert _files(claimed) == []


def test_waits_until_a_growing_file_has_settled(trigger_class, dirs):
    landing, claimed = dirs
    growing = landing / "unicef" / "extract.csv"
    growing.parent.mkdir(parents=True)
    chunks = 12
    settle_seconds = 1.0  # ten times the pause between writes: a busy CI machine may stall this process a while

    fired: list[float] = []

    async def scenario():
        async def upload():
            last_write = 0.0
            with growing.open("wb") as handle:
                for number in range(chunks):
                    handle.write(f"row {number}\n".encode())
                    handle.flush()
                    last_write = time.time()
                    await asyncio.sleep(0.1)  # < settle_seconds between writes
            return last_write

        upload_task = asyncio.create_task(upload())
        await asyncio.sleep(0.05)
        event, _ = await _first_event(
            _trigger(trigger_class, landing, claimed, settle_seconds=settle_seconds), timeout=15, fired=fired
        )
        return event, await upload_task

    event, last_write = asyncio.run(scenario())

    assert fired[0] >= last_write + settle_seconds - 0.02, "claimed while still being written"
    assert Path(event.payload["path"]).read_bytes() == b"".join(f"row {n}\n".encode() for n in range(chunks))


def test_two_watchers_racing_for_one_file_fire_once(trigger_class, dirs):
    """The claim is an atomic rename: a watcher that loses the race keeps polling instead of firing."""
    landing, claimed = dirs
    _write(landing / "fao" / "fao.xml")

    async def race():
        first = asyncio.create_task(_first_event(_trigger(trigger_class, landing, claimed), timeout=2))
        second = asyncio.create_task(_first_event(_trigger(trigger_class, landing, claimed), timeout=2))
        return await asyncio.gather(first, second, return_exceptions=True)

    results = asyncio.run(race())

    fired = [result for result in results if not isinstance(result, BaseException)]
    assert len(fired) == 1, results
    assert sum(isinstance(result, TimeoutError) for result in results) == 1
    assert len(_files(claimed)) == 1


def test_missing_landing_directory_is_not_an_error(trigger_class, tmp_path: Path):
    landing, claimed = tmp_path / "not-yet", tmp_path / "claimed"
    with pytest.raises(TimeoutError):
        asyncio.run(_first_event(_trigger(trigger_class, landing, claimed), timeout=0.5))
    assert not landing.exists()


def test_serialize_round_trips(trigger_class, tmp_path: Path):
    from airflow.sdk._shared.module_loading import import_string

    trigger = trigger_class(
        landing_dir=str(tmp_path / "landing"), claimed_dir=str(tmp_path / "claimed"), poll_interval=3
    )
    classpath, kwargs = trigger.serialize()

    assert classpath == "mainstream.watcher.LandingFileTrigger"
    assert import_string(classpath) is trigger_class
    assert kwargs == {
        "landing_dir": str(tmp_path / "landing"),
        "claimed_dir": str(tmp_path / "claimed"),
        "poll_interval": 3.0,
        "settle_seconds": 1.0,
    }
    rebuilt = trigger_class(**kwargs)
    assert rebuilt.serialize() == (classpath, kwargs)
    assert json.dumps(kwargs, sort_keys=False) == json.dumps(rebuilt.serialize()[1], sort_keys=False)
    assert trigger_class.hash(classpath, kwargs) == trigger_class.hash(*rebuilt.serialize())
