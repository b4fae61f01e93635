"""A file whose ingest fails half-way leaves nothing behind that a retry would load twice; backfills skip hidden folders."""

from __future__ import annotations

import errno
import logging
import os
import sqlite3
from pathlib import Path

import pytest

from ingest import drops
from ingest.drops import ingest_file, iter_drop_files
from ingest.errors import StorageFullError
from mainstream.home import Home
from mainstream.ledger import Ledger

CSV = "programme_id,title\nP-1,Schools for children\nP-2,Legal aid for women\n"


def _claimed(home: Home, name: str = "programmes.csv", content: str = CSV) -> Path:
    path = home.claimed / "undp" / f"0123456789ab__{name}"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(content, encoding="utf-8")
    return path


def _extracts(home: Home) -> list[str]:
    return sorted(
        path.name
        for table in ("programmes", "programme_codes")
        for path in (home.raw / table).glob("*.parquet")
        if not path.name.startswith("_")
    )


def _files(folder: Path) -> list[Path]:
    return sorted(path for path in folder.rglob("*") if path.is_file())


def test_a_failed_archive_move_leaves_no_raw_extract_and_the_file_in_claimed(home: Home, monkeypatch) -> None:
    claimed = _claimed(home)
    real_archive = drops._archive

    def disk_full(*args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(drops, "_archive", disk_full)
    # As when the raw Parquet cannot be written: the machine's fault, said so (the CLI exits 5), the file kept.
    with pytest.raises(StorageFullError, match=r"could not archive, quarantine or record it .*No space left"):
        ingest_file(claimed, home, agency="undp")

    assert claimed.exists(), "the file stays in claimed/ for the retry"
    assert _extracts(home) == [], "no raw Parquet without a ledger row"
    assert Ledger(home.state_db).recent_drops() == []
    assert _files(home.archive) == []

    monkeypatch.setattr(drops, "_archive", real_archive)
    retried = ingest_file(claimed, home, agency="undp")

    assert (retried.state, retried.rows_loaded) == ("loaded", 2)
    assert _extracts(home) == [f"{retried.extract_id}.parquet"] * 2
    assert [row["extract_id"] for row in Ledger(home.state_db).recent_drops()] == [retried.extract_id]


def test_a_failed_ledger_write_after_archiving_puts_the_file_back(home: Home, monkeypatch) -> None:
    claimed = _claimed(home, content="programme_id,title\nP-1,Schools\nP-1,Again\n")  # with a rejected row

    def locked(self, drop):
        raise RuntimeError("database is locked")

    monkeypatch.setattr(Ledger, "record_drop", locked)
    with pytest.raises(RuntimeError, match="locked"):
        ingest_file(claimed, home, agency="undp")

    assert claimed.read_text(encoding="utf-8").startswith("programme_id"), "moved back to claimed/"
    assert _extracts(home) == []
    assert _files(home.archive) == [] and _files(home.quarantine) == [], "no archived copy, no rejected.json"


def test_a_failed_ledger_write_for_a_quarantined_file_puts_it_back(home: Home, monkeypatch) -> None:
    claimed = _claimed(home, name="notes.pdf", content="not a programme extract")
    monkeypatch.setattr(Ledger, "record_drop", lambda self, drop: (_ for _ in ()).throw(RuntimeError("locked")))

    with pytest.raises(RuntimeError):
        ingest_file(claimed, home, agency="undp")

    assert claimed.exists()
    assert _files(home.quarantine) == [], "neither the file nor its .reason.json stays in quarantine/"


def test_a_failed_copy_from_outside_the_home_leaves_the_source_and_no_copy(home: Home, tmp_path, monkeypatch) -> None:
    source = tmp_path / "share" / "undp" / "programmes.csv"
    source.parent.mkdir(parents=True)
    source.write_text(CSV, encoding="utf-8")
    monkeypatch.setattr(Ledger, "record_drop", lambda self, drop: (_ for _ in ()).throw(RuntimeError("locked")))

    with pytest.raises(RuntimeError):
        ingest_file(source, home, agency="undp")

    assert source.read_text(encoding="utf-8") == CSV
    assert _files(home.archive) == [] and _extracts(home) == []


def test_backfill_folders_skip_files_under_hidden_and_temporary_folders(tmp_path: Path) -> None:
    root = tmp_path / "bf"
    wanted = [root / "undp" / "programmes.csv", root / "who" / "2025" / "who.xml"]
    skipped = [
        root / ".snapshot" / "hourly" / "programmes.csv",
        root / "undp" / ".git" / "x.csv",
        root / "_staging" / "programmes.csv",
        root / "~$tmp" / "programmes.csv",
        root / "upload.tmp" / "programmes.csv",
        root / "undp" / ".hidden.csv",
        root / "undp" / "programmes.csv.part",
    ]
    for path in wanted + skipped:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("x")

    assert list(iter_drop_files([root])) == sorted(wanted)
    # A hidden folder named explicitly is read (its own hidden sub-folders are not).
    assert list(iter_drop_files([root / ".snapshot"])) == [root / ".snapshot" / "hourly" / "programmes.csv"]


def test_a_folder_loads_its_files_in_the_order_they_were_written_so_a_correction_wins(tmp_path: Path) -> None:
    """The warehouse keeps each programme's latest load: "extract-v2.csv" sorts before "extract.csv" by name,
    but was written after it, so it must load after it."""
    folder = tmp_path / "backfill" / "undp"
    folder.mkdir(parents=True)
    original, correction = folder / "extract.csv", folder / "extract-v2.csv"
    original.write_text("programme_id,title,budget\nUNDP-KE-001,Legal aid,100\n")
    correction.write_text("programme_id,title,budget\nUNDP-KE-001,Legal aid,100000\n")
    os.utime(original, ns=(1_700_000_000_000_000_000, 1_700_000_000_000_000_000))
    os.utime(correction, ns=(1_700_000_100_000_000_000, 1_700_000_100_000_000_000))
    assert list(iter_drop_files([tmp_path / "backfill"])) == [original, correction]
    # Files named one by one keep the order given.
    assert list(iter_drop_files([correction, original])) == [correction, original]


def test_a_backfill_folder_names_an_agency_only_when_it_is_a_known_agency(home: Home, tmp_path: Path) -> None:
    """A backfill folder named "2025" or "share" is no agency: guessing loaded its programmes under that name for
    good. A known agency's folder (undp) still names it; anything else needs --agency."""
    from mainstream.pipeline import ingest_paths

    share = tmp_path / "share"
    (share / "2025").mkdir(parents=True)
    (share / "undp").mkdir()
    (share / "2025" / "programmes.csv").write_text("programme_id,title\nP-1,Legal aid\n")
    (share / "undp" / "programmes.csv").write_text("programme_id,title\nU-1,Courts\n")
    guessed, known = ingest_paths([share / "2025", share / "undp"], home)
    assert guessed.state == "quarantined" and "--agency" in guessed.reason
    assert (known.state, known.agency_ref) == ("loaded", "undp")
    [given] = ingest_paths([share / "2025"], home, agency="UNICEF")
    assert (given.state, given.agency_ref) == ("loaded", "unicef")


def _disk_full_in_sqlite(self, drop) -> None:
    """What SQLite raises when the ledger's disk is full (SQLITE_FULL), as a real full disk gives it."""
    error = sqlite3.OperationalError("database or disk is full")
    error.sqlite_errorcode = 13
    raise error


@pytest.mark.parametrize(
    ("name", "content"),
    [("programmes.csv", "programme_id,title\nP-1,Schools\n"), ("notes.pdf", "not a programme extract")],
)
def test_a_full_disk_while_recording_a_loaded_or_quarantined_file_is_the_machine_s_and_keeps_the_file(
    home: Home, monkeypatch, name: str, content: str
) -> None:
    claimed = _claimed(home, name=name, content=content)
    monkeypatch.setattr(Ledger, "record_drop", _disk_full_in_sqlite)

    with pytest.raises(StorageFullError, match=r"could not archive, quarantine or record it \(database or disk"):
        ingest_file(claimed, home, agency="undp")

    assert claimed.read_text(encoding="utf-8") == content, "left in claimed/ for the retry"
    assert _extracts(home) == [] and _files(home.archive) == [] and _files(home.quarantine) == []


def test_a_full_disk_while_quarantining_is_the_machine_s_and_logs_no_quarantine(
    home: Home, monkeypatch, caplog: pytest.LogCaptureFixture
) -> None:
    claimed = _claimed(home, name="notes.pdf", content="not a programme extract")

    def disk_full(*args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(drops, "_quarantine", disk_full)
    with caplog.at_level(logging.INFO), pytest.raises(StorageFullError):
        ingest_file(claimed, home, agency="undp")

    assert claimed.exists() and _files(home.quarantine) == []
    assert not [record for record in caplog.records if record.getMessage().startswith("quarantined")]
