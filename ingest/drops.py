"""Take one dropped file from arrival to its end state: loaded and archived, duplicate, or quarantined.

Nothing is lost: every file ends in ``archive/`` or ``quarantine/`` and has a row in the ledger; rows a
reader rejects are written next to it in ``quarantine/`` with their file, row, field and reason.
"""

from __future__ import annotations

import difflib
import errno
import hashlib
import json
import logging
import os
import re
import shutil
import sqlite3
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import asdict
from datetime import UTC, datetime
from functools import lru_cache
from pathlib import Path
from typing import Any

from ingest.errors import IngestError, StorageFullError, UnknownAgencyError, UnreadableFileError
from ingest.raw_zone import Lineage, discard_extract, extract_is_superseded, programme_agencies, write_extract
from ingest.records import ProgrammeRecord, RecordProblem
from mainstream.home import Home
from mainstream.ledger import DropRecord, Ledger
from mainstream.seeds import seed_rows

log = logging.getLogger(__name__)

#: File suffix → source format. Anything else is quarantined as unsupported.
FORMATS_BY_SUFFIX = {
    ".csv": "csv",
    ".tsv": "csv",
    ".txt": "csv",
    ".json": "json",
    ".jsonl": "json",
    ".ndjson": "json",
    ".xlsx": "excel",
    ".xml": "iati_xml",
}
#: Files agencies' tools leave behind while still writing; the watcher waits for the real name.
IGNORED_PREFIXES = (".", "~$", "_")
IGNORED_SUFFIXES = (".part", ".tmp", ".crdownload", ".partial")
_MAX_PROBLEMS_IN_REASON = 5
#: The prefix the landing watcher gives a file it claims (see mainstream.watcher).
CLAIM_PREFIX = re.compile(r"^[0-9a-f]{12}__")


def is_ignored_name(name: str) -> bool:
    """A hidden or temporary name (``.x``, ``_x``, ``~$x``, ``x.part``, ``x.tmp``, ...): a file or folder left alone."""
    return name.startswith(IGNORED_PREFIXES) or name.lower().endswith(IGNORED_SUFFIXES)


def is_candidate(path: Path) -> bool:
    """Whether a file in landing/ is a finished drop (not hidden, not a partial upload)."""
    return path.is_file() and not is_ignored_name(path.name)


def iter_candidates(folder: Path) -> Iterator[Path]:
    """Every candidate file under ``folder``, recursively, in a stable order (each folder's files, then its folders).

    Hidden and temporary folders (``.snapshot/``, ``_staging/``, ``upload.tmp/``, ...) are not entered: nothing in
    them is a drop. ``folder`` itself is read whatever its name. The landing watcher, the sweep of ``claimed/``,
    backfills of folders and ``mainstream status`` all use this one test.
    """
    for root, directories, files in os.walk(folder):
        directories[:] = sorted(name for name in directories if not is_ignored_name(name))
        for name in sorted(files):
            path = Path(root) / name
            try:
                if is_candidate(path):
                    yield path
            except OSError:  # vanished or unreadable meanwhile
                continue


def normalise_agency(name: str | None) -> str | None:
    """The one spelling of an agency named by a folder or a request: ``UNDP``, `` undp `` and ``Undp`` → ``undp``.

    Every way a file's agency is found (``landing/<agency>/``, ``claimed/<agency>/``, an asset event, a manual
    trigger, the CLI's ``--agency``) goes through here, so one agency's drops are compared and loaded as one.
    """
    normalised = printable(name).strip().lower() if name else ""
    return normalised or None


def printable(text: str) -> str:
    """``text`` as valid UTF-8 for JSON and SQLite: bytes a file name held that are not UTF-8 become ``\\xe9``.

    Python reads such a name with surrogate escapes (``os.fsdecode``); other lone surrogates become ``\\udc80``.
    """
    try:
        return text.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")
    except UnicodeEncodeError:
        return text.encode("utf-8", "backslashreplace").decode("utf-8")


def agency_from_landing_path(path: Path, landing_root: Path) -> str | None:
    """``landing/<agency>/file.csv`` → ``<agency>`` (normalised); ``None`` for a file at the top of landing/."""
    try:
        relative = path.resolve().relative_to(landing_root.resolve())
    except ValueError:
        return None
    return normalise_agency(relative.parts[0]) if len(relative.parts) > 1 else None


def ingest_file(
    path: Path,
    home: Home,
    agency: str | None = None,
    ledger: Ledger | None = None,
    original_path: Path | None = None,
) -> DropRecord:
    """Load one file into the raw zone and move it to archive/ or quarantine/; return its ledger row.

    ``original_path`` is where the agency dropped the file when it is not ``path`` itself (the watcher moved it
    from ``landing/<agency>/`` to ``claimed/``); the ledger's ``original_path`` holds it, else ``path``.

    Files keep their names on disk; what is written to the ledger and to JSON shows a name's bytes that are not
    UTF-8 escaped (``caf\\xe9.csv``).

    If moving the file or recording it fails, nothing of it stays behind (no raw extract, no archived or
    quarantined copy) and the file is back where it was, so that a retry loads it once.
    """
    home.ensure()
    ledger = ledger or Ledger(home.state_db)
    agency = normalise_agency(agency)
    content_hash, size_bytes = _hash_file(path)
    name_on_disk = _original_name(path, home)
    file_name = printable(name_on_disk)
    received = datetime.now(UTC)
    extract_id = f"{received:%Y%m%dT%H%M%S%f}-{content_hash[:12]}"
    source_format = FORMATS_BY_SUFFIX.get(path.suffix.lower())
    drop = DropRecord(
        extract_id=extract_id,
        file_name=file_name,
        original_path=printable(str(original_path or path)),
        content_hash=content_hash,
        size_bytes=size_bytes,
        state="quarantined",
        agency_ref=agency,
        source_format=source_format,
        received_at=received.isoformat(timespec="seconds"),
    )
    notes: list[str] = []  # how the whole file was read, when its agency should know (e.g. its encoding)
    earlier = _earlier_load(ledger, content_hash)
    if earlier and extract_is_superseded(home.raw, earlier):
        # A revert: the agency sends an earlier file again after a later one replaced its programmes.
        notes.append(
            f"identical to extract {earlier}, whose programmes later extracts had replaced: loaded again, so these "
            "versions are the latest"
        )
        earlier = None
    if not earlier and (retracted := ledger.retracted_extract_with_hash(content_hash)):
        # Not a duplicate (retracted content counts as never loaded), but whoever reads the ledger should know.
        notes.append(
            f"identical to extract {retracted['extract_id']}, retracted at {retracted['retracted_at']} "
            f"({retracted['retraction_reason']}): loaded again"
        )
    if earlier:
        drop.state = "duplicate"
        drop.agency_ref = drop.agency_ref or ledger.agency_of_extract(earlier)  # an IATI file is not read again
        drop.reason = (
            f"identical content already loaded as extract {earlier}{_agency_of(ledger, earlier, agency)}; "
            "nothing new loaded"
        )
        with _machine_failures_keep_the_file(path):
            _archive_and_record(path, home, extract_id, received, drop, ledger)
        log.info("%s: %s", file_name, drop.reason)
        return drop
    problems: list[RecordProblem] = []
    unit = "activity" if source_format == "iati_xml" else "row"
    try:
        if source_format is None:
            raise UnreadableFileError(
                f"{path.name}: unsupported file type {path.suffix or '(none)'}; send one of "
                + ", ".join(sorted(FORMATS_BY_SUFFIX))
            )
        records = _read(path, source_format, agency, problems, notes)
        lineage = Lineage(extract_id, file_name, content_hash, source_format, received)
        kept = _ids_of_this_agency(_unique_ids(records, problems), problems, home.raw)
        if not kept:
            detail = _summarise(problems, path.name, unit) or "no programme records"
            raise UnreadableFileError(f"{path.name}: nothing could be loaded: {detail}")
        # Values left out of loaded records (e.g. an IATI budget out of range) are reported with the rejected rows.
        problems.extend(problem for record in kept for problem in record.value_problems)
        problems.sort(key=lambda problem: problem.record_number)
        drop.rows_loaded = write_extract(home.raw, lineage, kept)
        # IATI XML names its own agency (reporting-org); a tabular file's is its folder's.
        drop.agency_ref = kept[0].agency_ref if source_format == "iati_xml" else drop.agency_ref
        if len(agencies := sorted({agency_code(record.agency_ref) for record in kept})) > 1:
            notes.append(
                f"the file holds the activities of {len(agencies)} agencies ({', '.join(agencies)}): each programme "
                f"is published under its own, and the ledger names the first activity's ({drop.agency_ref})"
            )
    except Exception as error:
        if _is_storage_failure(error):
            discard_extract(home.raw, extract_id)
            raise _storage_full(path, error, "hold it") from error
        foreseen = isinstance(error, IngestError)
        if foreseen:
            drop.reason = _as_dropped(printable(str(error)), path, file_name)
        else:
            # Never lose a file (nor stop the batch) to an error nobody foresaw: quarantine it with the error.
            drop.reason = _as_dropped(
                printable(f"{path.name}: could not be loaded: unexpected {type(error).__name__}: {error}"),
                path,
                file_name,
            )
        discard_extract(home.raw, extract_id)
        drop.rows_loaded = 0
        drop.rows_rejected = _rejected_count(problems)
        reason = drop.reason
        with _machine_failures_keep_the_file(path):
            _store_and_record(
                path,
                _quarantine_target(path, home, extract_id),
                lambda: _quarantine(path, home, extract_id, reason, problems, original_path),
                drop,
                ledger,
            )
        # Said once it is so: a quarantine that failed (the file back where it was) was never one.
        if foreseen:
            log.warning("quarantined %s: %s", file_name, drop.reason)
        else:
            log.error("quarantined %s after an unexpected error", file_name, exc_info=error)
        return drop
    drop.state = "loaded"
    drop.rows_rejected = _rejected_count(problems)
    rejected = home.quarantine / f"{_stored_name(extract_id, name_on_disk)}.rejected.json"
    with _machine_failures_keep_the_file(path):
        try:
            if problems or notes:
                drop.reason = _as_dropped(
                    printable(
                        "; ".join([*notes, *([_problems_reason(problems, file_name, unit)] if problems else [])])
                    ),
                    path,
                    file_name,
                )
            if problems:
                _write_problems(rejected, file_name, problems, unit)
            _archive_and_record(path, home, extract_id, received, drop, ledger)
        except BaseException:
            # The raw Parquet must not outlive its ledger row: a retry (the file is back where it was) would load
            # the same file again under a new extract id, and both copies would be built.
            _discard(home, extract_id, rejected)
            raise
    log.info(
        "loaded %s: %d programmes, %d rejected%s",
        file_name,
        drop.rows_loaded,
        drop.rows_rejected,
        f" - {drop.reason}" if drop.reason else "",
    )
    return drop


#: Failures of the machine, not of the file: the file stays for a retry instead of being quarantined.
STORAGE_ERRNOS = frozenset({errno.ENOSPC, errno.EDQUOT, errno.EMFILE, errno.ENFILE, errno.ENOMEM})


def _storage_full(path: Path, error: BaseException, could_not: str) -> StorageFullError:
    """The machine could not ``could_not`` (hold it; archive, quarantine or record it): the file stays for a retry."""
    return StorageFullError(
        f"{path.name}: not loaded, the machine could not {could_not} ({error}); the file stays at {path} and loads "
        "when the ingest is retried after space is freed"
    )


@contextmanager
def _machine_failures_keep_the_file(path: Path) -> Iterator[None]:
    """A full disk (or quota, or file handles) while archiving, quarantining or recording a file is the machine's
    fault, not the file's: StorageFullError, the file left where it was for a retry."""
    try:
        yield
    except Exception as error:
        if _is_storage_failure(error):
            raise _storage_full(path, error, "archive, quarantine or record it") from error
        raise


#: SQLite's primary result codes for a full disk and a failed read or write of the disk.
_SQLITE_STORAGE_CODES = frozenset({13, 10})  # SQLITE_FULL, SQLITE_IOERR


def _is_storage_failure(error: BaseException) -> bool:
    """Whether ``error`` (or what caused it, e.g. an OSError inside a Parquet writer's error) is the machine's."""
    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:
        if isinstance(current, OSError) and current.errno in STORAGE_ERRNOS:
            return True
        if isinstance(current, sqlite3.Error) and (getattr(current, "sqlite_errorcode", 0) & 0xFF) in (
            _SQLITE_STORAGE_CODES
        ):
            return True
        seen.add(id(current))
        current = current.__cause__ or current.__context__
    return False


def iter_drop_files(paths: Iterable[Path]) -> Iterator[Path]:
    """Expand files and folders (recursively) into candidate files: a folder's oldest file first.

    The warehouse keeps each programme's latest load, so a folder's files load in the order they were written
    (modification time, then path): a corrected ``extract-v2.csv`` written after ``extract.csv`` wins, whatever
    their names. Hidden and partial files, and everything under hidden or temporary folders, are skipped
    (:func:`iter_candidates`); a file named explicitly is always read, in the order given.
    """
    for path in paths:
        if path.is_dir():
            yield from sorted(iter_candidates(path), key=_written_order)
        elif path.exists():
            yield path
        else:
            raise FileNotFoundError(f"{path}: no such file or folder")


def _written_order(path: Path) -> tuple[int, str]:
    try:
        return path.stat().st_mtime_ns, str(path)
    except OSError:  # gone meanwhile: its place does not matter
        return 0, str(path)


def _read(
    path: Path, source_format: str, agency: str | None, problems: list[RecordProblem], notes: list[str]
) -> list[ProgrammeRecord]:
    """Read a file's records; rejected records are appended to ``problems``, notes on the whole file to ``notes``."""
    records: list[ProgrammeRecord] = []
    if source_format == "iati_xml":
        from ingest.iati_xml import iter_iati_activities

        for item in iter_iati_activities(path):
            (records if isinstance(item, ProgrammeRecord) else problems).append(item)
        return records
    from ingest.tabular import read_tabular
    from ingest.tabular_schema import map_headers, missing_required, row_to_record

    if not agency:
        raise UnknownAgencyError(
            f"{path.name}: {_FORMAT_NAMES.get(source_format, source_format)} must be dropped in landing/<agency>/ so "
            "its agency is known "
            "(for a backfill, give it: `mainstream process --agency <agency>`, or the ingest DAG's agency param)"
        )
    if agency_code(agency) not in known_agency_codes():
        close = difflib.get_close_matches(agency, sorted(known_agency_codes()), n=3)
        closest = f" (closest: {', '.join(close)})" if close else ""
        note = (
            f"agency '{agency}' is not one the warehouse knows{closest}: "
            f"its programmes are published under '{agency}'; if that is a typo, retract this extract and drop the "
            "file again under the right agency (the agencies known are in dbt_project/seeds/reference/"
            "ref_agencies.csv, where a new one is added)"
        )
        log.warning("%s: %s", path.name, note)
        notes.append(note)
    table = read_tabular(path, source_format)
    problems.extend(table.problems)
    notes.extend(table.notes)
    headers = table.headers
    mapping, unknown = map_headers(headers)
    if missing := missing_required(mapping):
        raise UnreadableFileError(
            f"{path.name}: required column(s) {', '.join(missing)} missing; found columns {', '.join(headers)}"
        )
    if unknown:
        log.warning("%s: ignoring columns not in the extract contract: %s", path.name, ", ".join(unknown))
    for number, row in table.rows:
        values = {mapping[header]: value for header, value in row.items() if header in mapping}
        item = row_to_record(number, values, agency)
        (records if isinstance(item, ProgrammeRecord) else problems).append(item)
        if isinstance(item, ProgrammeRecord) and item.budget_value is not None and not item.budget_currency:
            # A note on the record: reported only if the record is kept (not a duplicate, not another agency's id).
            item.value_problems.append(
                RecordProblem(
                    number,
                    "currency",
                    "the budget has no currency (no currency column value, none written with the amount): the "
                    "programme is loaded, but its budget counts in no USD budget total; give the ISO 4217 code "
                    "(e.g. USD) in a currency column",
                    item.programme_id,
                    record_loaded=True,
                )
            )
    return records


#: How a message names a tabular format ("an Excel extract", not "a excel extract").
_FORMAT_NAMES = {"csv": "a CSV extract", "excel": "an Excel extract", "json": "a JSON extract"}


def _unique_ids(records: list[ProgrammeRecord], problems: list[RecordProblem]) -> list[ProgrammeRecord]:
    """Keep the first record of each programme id; later repeats in the same file become problems."""
    seen: dict[str, int] = {}
    kept: list[ProgrammeRecord] = []
    for record in records:
        if record.programme_id in seen:
            problems.append(
                RecordProblem(
                    record.record_number,
                    "programme_id",
                    f"duplicate of record {seen[record.programme_id]} in the same file",
                    record.programme_id,
                )
            )
            continue
        seen[record.programme_id] = record.record_number
        kept.append(record)
    problems.sort(key=lambda problem: problem.record_number)
    return kept


def _ids_of_this_agency(
    records: list[ProgrammeRecord], problems: list[RecordProblem], raw_root: Path
) -> list[ProgrammeRecord]:
    """Drop records whose programme id another agency has already loaded (they would replace its programme).

    A programme id names one programme across all agencies: the warehouse keeps each id's latest version, so a
    "P-001" from UNICEF would silently replace UNDP's "P-001". Such rows are rejected, naming the other agency.
    """
    loaded_by = programme_agencies(raw_root, [record.programme_id for record in records])
    kept: list[ProgrammeRecord] = []
    for record in records:
        owner = loaded_by.get(record.programme_id)
        if owner is not None and agency_code(owner) != agency_code(record.agency_ref):
            problems.append(
                RecordProblem(
                    record.record_number,
                    "programme_id",
                    f"already loaded by agency {agency_code(owner)}, and a programme id names one programme across "
                    "all agencies, so this row would replace theirs: give the programme an id of your own (e.g. "
                    "prefixed with your agency) and drop the file again",
                    record.programme_id,
                )
            )
            continue
        kept.append(record)
    problems.sort(key=lambda problem: problem.record_number)
    return kept


@lru_cache(maxsize=1)
def _agency_codes() -> dict[str, str]:
    """IATI organisation refs → agency codes, from the ``ref_agencies`` seed the warehouse uses."""
    return {row["agency_ref"].strip().upper(): row["agency_code"] for row in seed_rows("reference", "ref_agencies")}


def known_agency_codes() -> frozenset[str]:
    """The agency codes the warehouse knows (``ref_agencies``): undp, unicef, who, ..."""
    return frozenset(_agency_codes().values())


def agency_code(agency_ref: str) -> str:
    """The agency code the warehouse gives ``agency_ref`` (int_programmes): mapped if known, else lower case."""
    ref = agency_ref.strip()
    return _agency_codes().get(ref.upper(), ref.lower())


def _archive_and_record(
    path: Path, home: Home, extract_id: str, received: datetime, drop: DropRecord, ledger: Ledger
) -> None:
    """Move the file to archive/ and record its drop (see _store_and_record for what a failure undoes)."""
    _store_and_record(
        path,
        _archive_target(path, home, extract_id, received),
        lambda: _archive(path, home, extract_id, received),
        drop,
        ledger,
    )


def _earlier_load(ledger: Ledger, content_hash: str) -> str | None:
    """The extract that already loaded this content, if any, whichever agency dropped it.

    A programme is one programme whoever sends it: the warehouse keys programmes by their identifier, so the same
    file loaded again under another agency folder would silently hand that agency the first one's programmes.
    A tabular file without an agency is a duplicate too when its content is loaded (a backfill folder re-run
    without its agency): its agency is the earlier load's, and nothing would load anyway.
    """
    return ledger.loaded_extract_with_hash(content_hash)


def _agency_of(ledger: Ledger, extract_id: str, agency: str | None) -> str:
    """`` (agency x)`` when the earlier extract came from another agency than this drop, else nothing."""
    earlier_agency = ledger.agency_of_extract(extract_id)
    if not earlier_agency or not agency or agency_code(earlier_agency) == agency_code(agency):
        return ""  # the same agency, however it was named (IATI's XM-DAC-41140 is landing/wfp/)
    return f" (agency {agency_code(earlier_agency)})"


def _rejected_count(problems: list[RecordProblem]) -> int:
    return sum(1 for problem in problems if not problem.record_loaded)


def _problems_reason(problems: list[RecordProblem], file_name: str, unit: str) -> str:
    rejected = _rejected_count(problems)
    dropped = len(problems) - rejected
    counts = [
        f"{rejected} {unit}(s) rejected" if rejected else "",
        f"{dropped} value(s) left out or flagged" if dropped else "",
    ]
    return ", ".join(count for count in counts if count) + ": " + _summarise(problems, file_name, unit)


def _summarise(problems: list[RecordProblem], file_name: str, unit: str) -> str:
    shown = "; ".join(problem.describe(file_name, unit) for problem in problems[:_MAX_PROBLEMS_IN_REASON])
    more = len(problems) - _MAX_PROBLEMS_IN_REASON
    return shown + (f"; and {more} more" if more > 0 else "")


def _hash_file(path: Path) -> tuple[str, int]:
    digest = hashlib.sha256()
    size = 0
    with path.open("rb") as handle:
        while chunk := handle.read(1 << 20):
            digest.update(chunk)
            size += len(chunk)
    return digest.hexdigest(), size


def _move(path: Path, home: Home, target: Path) -> Path:
    """Move a dropped file (or copy a file ingested from elsewhere, leaving the original alone)."""
    target.parent.mkdir(parents=True, exist_ok=True)
    keep_source = not _is_dropped(path, home)
    if keep_source:
        shutil.copy2(path, target)
    else:
        shutil.move(str(path), target)
    return target


def _as_dropped(reason: str, path: Path, file_name: str) -> str:
    """``reason`` naming the file as the agency dropped it: readers name the file they read, which in claimed/ carries
    the watcher's ``<uuid12>__`` prefix, a name the agency never gave."""
    read_as = printable(path.name)
    return reason.replace(read_as, file_name) if read_as != file_name else reason


def _original_name(path: Path, home: Home) -> str:
    """The name the agency gave the file (the watcher prefixes claimed files with ``<uuid12>__``)."""
    if path.resolve().is_relative_to(home.claimed.resolve()):
        return CLAIM_PREFIX.sub("", path.name)
    return path.name


#: Longest stored name, in bytes: file systems allow 255, and the quarantine's sidecars add ".rejected.json".
_MAX_STORED_NAME_BYTES = 255 - len(".rejected.json")


def _stored_name(extract_id: str, name: str) -> str:
    """``<extract_id>__<name>``, its name shortened (extension kept, ``~`` marking the cut) to fit a file system.

    A name the agency's system allowed may be too long once prefixed: the file could then be neither archived nor
    quarantined, and every retry would fail on it. The extract id keeps the stored name unique; the ledger keeps
    the whole original name.
    """
    prefix = f"{extract_id}__"
    whole = prefix + name
    if len(os.fsencode(whole)) <= _MAX_STORED_NAME_BYTES:
        return whole
    stem, suffix = os.path.splitext(name)
    suffix = suffix if len(os.fsencode(suffix)) <= 16 else ""
    room = _MAX_STORED_NAME_BYTES - len(os.fsencode(prefix + "~" + suffix))
    cut = os.fsencode(stem)[:room]
    while cut:  # never end in half a UTF-8 character
        try:
            cut.decode("utf-8")
            break
        except UnicodeDecodeError as error:
            if error.start < len(cut) - 3:
                break  # bytes that were never UTF-8 (a name in another encoding): keep them as they are
            cut = cut[:-1]
    return prefix + os.fsdecode(cut) + "~" + suffix


def _archive_target(path: Path, home: Home, extract_id: str, received: datetime) -> Path:
    """``archive/<date>/<extract_id>__<name the agency gave the file>``."""
    return home.archive / received.strftime("%Y-%m-%d") / _stored_name(extract_id, _original_name(path, home))


def _quarantine_target(path: Path, home: Home, extract_id: str) -> Path:
    """``quarantine/<extract_id>__<name the agency gave the file>``."""
    return home.quarantine / _stored_name(extract_id, _original_name(path, home))


def _archive(path: Path, home: Home, extract_id: str, received: datetime) -> Path:
    return _move(path, home, _archive_target(path, home, extract_id, received))


def _store_and_record(path: Path, target: Path, store: Callable[[], Path], drop: DropRecord, ledger: Ledger) -> None:
    """Move (or copy) the file to ``target`` with ``store`` and record its ledger row; on failure undo the move."""
    try:
        drop.stored_path = printable(str(store()))
        ledger.record_drop(drop)
    except BaseException:
        _put_back(path, target)
        raise


def _put_back(path: Path, target: Path) -> None:
    """Leave ``path`` where it was and nothing at ``target`` (nor its ``.reason.json``), whatever step failed."""
    try:
        if path.exists():  # not moved, copied (a file from outside the home), or a move that failed half-way
            target.unlink(missing_ok=True)
        elif target.exists():
            shutil.move(str(target), path)
        target.with_name(target.name + ".reason.json").unlink(missing_ok=True)
    except OSError:
        log.exception("could not put %s back from %s; move it back by hand before retrying", path, target)


def _discard(home: Home, extract_id: str, rejected: Path) -> None:
    try:
        discard_extract(home.raw, extract_id)
        rejected.unlink(missing_ok=True)
    except OSError:
        log.exception("could not remove extract %s from %s; delete its Parquet files by hand", extract_id, home.raw)


def _is_dropped(path: Path, home: Home) -> bool:
    """Files in landing/ or claimed/ are drops and are moved; anything else is copied."""
    resolved = path.resolve()
    return any(resolved.is_relative_to(folder.resolve()) for folder in (home.landing, home.claimed))


def _quarantine(
    path: Path,
    home: Home,
    extract_id: str,
    reason: str,
    problems: list[RecordProblem],
    original_path: Path | None = None,
) -> Path:
    target = _move(path, home, _quarantine_target(path, home, extract_id))
    record = {
        "file": _original_name(path, home),
        "original_path": str(original_path or path),
        "quarantined_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "reason": reason,
        "problems": [asdict(problem) for problem in problems],
    }
    _write_json(target.with_name(target.name + ".reason.json"), record)
    return target


def _write_problems(target: Path, file_name: str, problems: list[RecordProblem], unit: str) -> None:
    record = {
        "file": file_name,
        "unit": unit,
        "problems": [
            {**asdict(problem), "message_for_agency": problem.describe(file_name, unit)} for problem in problems
        ],
    }
    _write_json(target, record)


def _write_json(target: Path, record: dict[str, Any]) -> None:
    """Write ``record`` as UTF-8 JSON, every text made :func:`printable` (a file name need not be UTF-8)."""
    target.write_text(json.dumps(_printable_values(record), indent=2, ensure_ascii=False), encoding="utf-8")


def _printable_values(value: Any) -> Any:
    if isinstance(value, str):
        return printable(value)
    if isinstance(value, dict):
        return {printable(str(key)): _printable_values(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_printable_values(item) for item in value]
    return value
