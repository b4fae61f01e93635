"""Read tabular extracts (CSV, JSON, Excel) into rows of text values, with DuckDB doing the parsing."""

from __future__ import annotations

import codecs
import csv
import itertools
import json
import logging
import re
import tempfile
import zipfile
import zlib
from collections.abc import Collection, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, TYPE_CHECKING
from xml.etree import ElementTree

import duckdb

from ingest.errors import UnreadableFileError
from ingest.records import RecordProblem
from ingest.tabular_schema import map_headers, missing_required

if TYPE_CHECKING:
    from openpyxl.workbook.workbook import Workbook
    from openpyxl.worksheet._read_only import ReadOnlyWorksheet

log = logging.getLogger(__name__)

#: The longest CSV line (record) DuckDB reads, in bytes; a longer one is rejected, or refused with its line.
CSV_MAX_LINE_BYTES = 16 << 20
#: A number with 1-3 digits, a point and 3 decimals, which in text could also be a thousands group.
_LOOKS_GROUPED = re.compile(r"^[1-9]\d{0,2}\.\d{3}$")


@dataclass
class TabularRows:
    """Rows of one extract as ``{header: text}`` dicts, numbered from 1, plus rows the reader rejected, plus notes
    on how the whole file was read that its agency should know (e.g. the encoding it was read in)."""

    headers: list[str]
    rows: list[tuple[int, dict[str, str | None]]]
    problems: list[RecordProblem]
    notes: list[str] = field(default_factory=list)


def read_tabular(path: Path, source_format: str) -> TabularRows:
    """Read ``path`` (``csv``, ``json`` or ``excel``); raise UnreadableFileError when nothing can be read."""
    readers = {"csv": _read_csv, "json": _read_json, "excel": _read_excel}
    try:
        reader = readers[source_format]
    except KeyError as error:
        raise UnreadableFileError(f"{path.name}: unsupported tabular format {source_format!r}") from error
    result = reader(path)
    if not result.rows and not result.problems:
        raise UnreadableFileError(f"{path.name}: the file has a header but no data rows")
    return result


def _read_csv(path: Path) -> TabularRows:
    """An RFC 4180 CSV read by DuckDB, its rows numbered as a spreadsheet shows them (see ``_CsvLayout``)."""
    scan = _scan_bytes(path)
    if scan.empty:
        raise UnreadableFileError(f"{path.name}: the file is empty")
    if scan.first_nul is not None:
        line, offset = scan.first_nul
        raise UnreadableFileError(
            f"{path.name}: is not a text CSV: it holds NUL bytes (first at line {line}, byte {offset + 1}), as "
            "UTF-16 text and workbooks do; save it as CSV UTF-8 and drop it again"
        )
    with tempfile.TemporaryDirectory(prefix="mainstream-csv-") as scratch:
        source, encoding_note = _utf8_source(path, Path(scratch), scan.first_invalid_utf8)
        layout = _csv_layout(path, source, _sniff_delimiter(path, source))
        if layout.unclosed_quote_line is not None:
            # DuckDB reads such a value to the end of the file and drops what follows without a word (DuckDB 1.5).
            raise UnreadableFileError(
                f"{path.name}: the quoted value that starts on line {layout.unclosed_quote_line} is never closed, so "
                'nothing after it can be read; close it with " (a " inside a quoted value is written twice: "") '
                "and drop the file again"
            )
        connection = duckdb.connect()
        try:
            table = _scan_csv(source, layout, connection)
            table.notes.extend([encoding_note] if encoding_note else [])
            return table
        except duckdb.Error as error:
            raise UnreadableFileError(f"{path.name}: cannot be read as CSV: {_duckdb_reason(error)}") from error
        finally:
            connection.close()


@dataclass(frozen=True)
class _CsvLayout:
    """How to read one CSV, and how DuckDB numbers its lines.

    DuckDB counts a line per record (a record whose quoted value holds line breaks is one line) and per empty
    line, but returns no row for an empty line nor for a record it rejects. Row ``n`` is the ``n``-th line after
    the header, as a spreadsheet shows it; each returned row's line is the next one that is neither empty nor
    rejected.
    """

    delimiter: str
    columns: list[str]
    #: The header's line: the first line that is not empty.
    header_line: int
    #: Empty lines after the header, counted as DuckDB counts lines.
    blank_lines: frozenset[int]
    #: The file line (as an editor counts them) where a quoted value opens that the file never closes.
    unclosed_quote_line: int | None


@dataclass(frozen=True)
class _ByteScan:
    """What the bytes of a file say before any parsing."""

    #: Offset of the first byte that is not UTF-8.
    first_invalid_utf8: int | None
    #: (line, offset) of the first NUL byte, which no text CSV holds.
    first_nul: tuple[int, int] | None
    #: Whether the file holds nothing but line breaks (after any byte order mark).
    empty: bool


#: The dialect every CSV is read with (RFC 4180: values quoted with ``"``, a ``"`` inside one written ``""``).
#: DuckDB reads the file in order and rejects a record that breaks it, with its line.
_CSV_DIALECT = """
    header = true, auto_detect = false, skip = ?, delim = ?, quote = '"', escape = '"', encoding = 'utf-8',
    max_line_size = ?, parallel = false, null_padding = true, store_rejects = true
"""


def _scan_csv(source: Path, layout: _CsvLayout, connection: duckdb.DuckDBPyConnection) -> TabularRows:
    connection.execute(
        f"create table extract as select * from read_csv(?, {_CSV_DIALECT}, columns = ?)",
        [
            str(source),
            layout.header_line - 1,
            layout.delimiter,
            CSV_MAX_LINE_BYTES,
            {name: "VARCHAR" for name in layout.columns},
        ],
    )
    rejected = _rejected_lines(connection)
    lines = _line_numbers(layout.header_line, rejected.keys() | layout.blank_lines)
    cursor = connection.execute("select * from extract")
    rows = [
        (next(lines) - layout.header_line, dict(zip(layout.columns, map(_cell_text, row), strict=True)))
        for row in _iter_fetch(cursor)
    ]
    problems = [_reject_problem(line - layout.header_line, errors, layout) for line, errors in rejected.items()]
    return TabularRows(headers=layout.columns, rows=rows, problems=problems)


def _line_numbers(header_line: int, taken: Collection[int]) -> Iterator[int]:
    """The lines of the rows DuckDB returned, in order: every line after the header that is not in ``taken``."""
    line = header_line
    while True:
        line += 1
        while line in taken:
            line += 1
        yield line


def _rejected_lines(connection: duckdb.DuckDBPyConnection) -> dict[int, list[tuple[str | None, str, str]]]:
    """Line → (column, error type, message) of each record DuckDB rejected, in line order."""
    rejected: dict[int, list[tuple[str | None, str, str]]] = {}
    query = "select line, column_name, error_type, error_message from reject_errors order by line, column_idx"
    for line, column, error_type, message in connection.execute(query).fetchall():
        rejected.setdefault(int(line), []).append((column, str(error_type), str(message)))
    return rejected


def _reject_problem(row: int, errors: list[tuple[str | None, str, str]], layout: _CsvLayout) -> RecordProblem:
    column, error_type, message = errors[0]
    hint = _REJECT_HINTS.get(error_type, "cannot be read").format(
        count=len(layout.columns),
        delimiter=_DELIMITER_NAMES.get(layout.delimiter, layout.delimiter),
        limit=_mib(CSV_MAX_LINE_BYTES),
    )
    return RecordProblem(row, column or "(row)", f"{hint} (CSV reader: {error_type}: {message.strip()})")


_REJECT_HINTS = {
    "UNQUOTED VALUE": 'has a stray quote: a value that starts with " must end with " right before the next '
    'delimiter, and a " inside a quoted value is written twice ("")',
    "TOO MANY COLUMNS": "has more values than the header's {count} columns; quote values that contain the "
    "delimiter ({delimiter})",
    "LINE SIZE OVER MAXIMUM": "is longer than {limit}, the most a CSV line may hold; shorten its values",
}
_DELIMITER_NAMES = {",": "comma", ";": "semicolon", "\t": "tab", "|": "pipe"}


def _sniff_delimiter(path: Path, source: Path) -> str:
    """The delimiter DuckDB's sniffer finds (only the delimiter: quoting is always RFC 4180's)."""
    connection = duckdb.connect()
    try:
        [(delimiter,)] = connection.execute(
            "select Delimiter from sniff_csv(?, header = true, null_padding = true, ignore_errors = true, "
            "encoding = 'utf-8', max_line_size = ?)",
            [str(source), CSV_MAX_LINE_BYTES],
        ).fetchall()
    except duckdb.Error as error:
        if "Maximum line size" in str(error) and (line := _first_long_line(source, CSV_MAX_LINE_BYTES)):
            # DuckDB's sniffer names line 1 whatever the line.
            raise UnreadableFileError(
                f"{path.name}: line {line} is longer than {_mib(CSV_MAX_LINE_BYTES)}, the most a CSV line may "
                "hold; shorten that line's values and drop the file again"
            ) from error
        raise UnreadableFileError(f"{path.name}: cannot be read as CSV: {_duckdb_reason(error)}") from error
    finally:
        connection.close()
    return _delimiter_the_header_uses(source, str(delimiter))


def _delimiter_the_header_uses(source: Path, sniffed: str) -> str:
    """The sniffed delimiter, unless only another one makes the header name the contract's required columns.

    DuckDB's sniffer weighs the rows more than the header: in a semicolon file whose texts are full of commas it
    picks the comma, and the header is then one column holding every name. The header names the columns, so it
    decides then; when no delimiter makes it name them, the sniffed one stays and the error lists what it found.
    """
    with source.open(encoding="utf-8-sig", newline="") as handle:
        header_text = next((line for line in handle if line.strip()), "")

    def names_required_columns(delimiter: str) -> bool:
        names = next(csv.reader([header_text], delimiter=delimiter, quotechar='"'), [])
        return not missing_required(map_headers(names)[0])

    if names_required_columns(sniffed):
        return sniffed
    return next((delimiter for delimiter in _DELIMITER_NAMES if names_required_columns(delimiter)), sniffed)


def _csv_layout(path: Path, source: Path, delimiter: str) -> _CsvLayout:
    """The header, empty lines and any unclosed quote, from one pass of Python's strict CSV parser.

    It splits records as DuckDB does, resuming at the next line after a malformed one as DuckDB does, so its
    records and empty lines count lines as DuckDB's (checked in tests/ingest/test_tabular.py). Unlike DuckDB it
    says where a file ends inside a quoted value.
    """
    csv.field_size_limit(max(csv.field_size_limit(), CSV_MAX_LINE_BYTES))
    header: list[str] = []
    header_line = 0
    blank: set[int] = set()
    with source.open(encoding="utf-8-sig", newline="") as handle:
        reader = csv.reader(handle, delimiter=delimiter, quotechar='"', doublequote=True, strict=True)
        for line in itertools.count(1):
            starts_at = reader.line_num + 1
            try:
                record = next(reader, None)
            except csv.Error as error:
                if "unexpected end of data" in str(error):
                    return _CsvLayout(delimiter, _unique_names(header), header_line, frozenset(blank), starts_at)
                if not header:
                    raise UnreadableFileError(
                        f"{path.name}: the header (line {starts_at}) cannot be read as CSV: {error}"
                    ) from error
                continue
            if record is None:
                break
            if not record:
                blank.add(line)
            elif not header:
                header, header_line = record, line
    if not header:
        raise UnreadableFileError(f"{path.name}: the file is empty")
    return _CsvLayout(delimiter, _unique_names(header), header_line, frozenset(blank), None)


def _unique_names(header: list[str]) -> list[str]:
    """Header names as DuckDB would name them: ``column<i>`` when empty, ``<name>_<n>`` when repeated."""
    names: list[str] = []
    seen: set[str] = set()
    for index, name in enumerate(header):
        base = name or f"column{index}"
        candidate, count = base, 0
        while candidate.lower() in seen:
            count += 1
            candidate = f"{base}_{count}"
        seen.add(candidate.lower())
        names.append(candidate)
    return names


def _first_long_line(path: Path, limit: int) -> int | None:
    """The first line (lines ending at ``\\n``) longer than ``limit`` bytes; None when there is none."""
    line, length = 1, 0
    with path.open("rb") as handle:
        while chunk := handle.read(_CHUNK_BYTES):
            *ended, rest = chunk.split(b"\n")
            for part in ended:
                if length + len(part) > limit:
                    return line
                line, length = line + 1, 0
            length += len(rest)
            if length > limit:
                return line
    return None


def _mib(size: int) -> str:
    return f"{size / (1 << 20):g} MiB"


def _duckdb_reason(error: BaseException) -> str:
    """DuckDB's message without the offending line's text, its settings dump and its generic fixes."""
    kept = [
        line.strip()
        for line in str(error).splitlines()
        if line.strip() and not line.startswith((" ", "\t", "Original Line:", "Possible", "*", "LINE "))
    ]
    text = " ".join(kept).split(" The search space used was:")[0]
    return re.sub(r"^[A-Za-z ]*Error: ", "", text) or type(error).__name__


def _utf8_source(path: Path, scratch: Path, bad: int | None) -> tuple[Path, str | None]:
    """A UTF-8 file with ``path``'s text for DuckDB: ``path`` itself, or a UTF-8 copy of a Windows-1252 file, with
    a note for the agency when the file was read as Windows-1252 (a guess no reader can confirm).

    ``bad`` is the offset of the first byte that is not UTF-8, if any. A file that is UTF-8 is read as such. One
    that is not, and holds no UTF-8 multi-byte character anywhere, is a Windows export in Windows-1252 (whose
    text includes Latin-1's) and is read through a UTF-8 copy. One that holds both mixes encodings: no single
    encoding reads it right, so it is refused rather than read as mojibake.
    """
    if bad is None:
        return (path if _duckdb_can_open(path) else _linked(path, scratch)), None
    data = path.read_bytes()
    if (utf8_line := _first_utf8_line(data)) is not None:
        raise UnreadableFileError(
            f"{path.name}: mixes encodings: {_where(data, bad)} is not UTF-8, but line {utf8_line} "
            "is UTF-8; save the file as UTF-8 and drop it again"
        )
    try:
        text = data.decode("cp1252")
    except UnicodeDecodeError as error:
        raise UnreadableFileError(
            f"{path.name}: is neither UTF-8 nor Windows-1252: {_where(data, error.start)} cannot be read; save the "
            "file as UTF-8 and drop it again"
        ) from error
    log.warning("%s is not UTF-8 (%s is not); read it as Windows-1252", path.name, _where(data, bad))
    target = scratch / "windows-1252-as-utf-8.csv"
    target.write_bytes(text.encode("utf-8"))
    return target, (
        f"{path.name}: read as Windows-1252, as it is not UTF-8 ({_where(data, bad)}); if it was saved in another "
        "encoding (Cyrillic, Mac, ...), its accented letters are wrong: save it as CSV UTF-8 and drop it again"
    )


def _first_utf8_line(data: bytes) -> int | None:
    """The first line that is valid UTF-8 and holds a multi-byte character; None when there is none.

    Whole lines are tested: Windows-1252 text can hold a valid UTF-8 byte pair by chance ("É" then a closing
    quote is C9 94), but not a whole line of them that is valid UTF-8 throughout.
    """
    for number, line in enumerate(data.split(b"\n"), start=1):
        if _UTF8_MULTIBYTE.search(line):
            try:
                line.decode("utf-8")
            except UnicodeDecodeError:
                continue
            return number
    return None


def _where(data: bytes, offset: int) -> str:
    return f"byte 0x{data[offset]:02x} at line {_line_of(data, offset)} (byte {offset + 1})"


def _line_of(data: bytes, offset: int) -> int:
    return data.count(b"\n", 0, offset) + 1


#: One UTF-8 multi-byte character (RFC 3629: no overlong forms, no surrogates, nothing above U+10FFFF).
_UTF8_MULTIBYTE = re.compile(
    rb"[\xc2-\xdf][\x80-\xbf]|\xe0[\xa0-\xbf][\x80-\xbf]|[\xe1-\xec\xee\xef][\x80-\xbf]{2}"
    rb"|\xed[\x80-\x9f][\x80-\xbf]|\xf0[\x90-\xbf][\x80-\xbf]{2}|[\xf1-\xf3][\x80-\xbf]{3}"
    rb"|\xf4[\x80-\x8f][\x80-\xbf]{2}"
)
_CHUNK_BYTES = 1 << 20


def _scan_bytes(path: Path) -> _ByteScan:
    """One pass over ``path``'s bytes, in chunks: see ``_ByteScan``."""
    decoder = codecs.getincrementaldecoder("utf-8")()
    first_invalid: int | None = None
    first_nul: tuple[int, int] | None = None
    empty = True
    offset, newlines = 0, 0
    with path.open("rb") as handle:
        while chunk := handle.read(_CHUNK_BYTES):
            if first_invalid is None:
                pending = len(decoder.getstate()[0])
                try:
                    decoder.decode(chunk)
                except UnicodeDecodeError as error:
                    first_invalid = offset - pending + error.start
            if first_nul is None and (nul := chunk.find(0)) >= 0:
                first_nul = (newlines + chunk.count(b"\n", 0, nul) + 1, offset + nul)
            empty = empty and not (chunk.removeprefix(codecs.BOM_UTF8) if offset == 0 else chunk).strip(b"\r\n")
            offset, newlines = offset + len(chunk), newlines + chunk.count(b"\n")
    if first_invalid is None:
        pending = len(decoder.getstate()[0])
        try:
            decoder.decode(b"", final=True)
        except UnicodeDecodeError as error:
            first_invalid = offset - pending + error.start
    return _ByteScan(first_invalid, first_nul, empty)


def _duckdb_can_open(path: Path) -> bool:
    """Whether DuckDB takes ``path`` as it is: DuckDB needs a UTF-8 path, and a file name need not be one."""
    try:
        str(path).encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _linked(path: Path, scratch: Path) -> Path:
    """A link with a UTF-8 name to ``path``, for DuckDB."""
    link = scratch / "source.csv"
    link.symlink_to(path.resolve())
    return link


def _read_json(path: Path) -> TabularRows:
    """An array of flat objects, an object holding one such array, one object, or one object per line (NDJSON)."""
    text = _utf8_text(path)
    numbered: list[tuple[int, object]]  # (record number, record): NDJSON records are numbered by their line
    unreadable_lines: list[RecordProblem] = []
    try:
        document = json.loads(text)
        numbered = list(enumerate(_records_from_document(path, document), start=1))
    except json.JSONDecodeError as whole_error:
        numbered = []
        # Lines end at "\n" only: str.splitlines() would also break inside strings holding U+2028 and the like.
        for line_number, line in enumerate(text.split("\n"), start=1):
            if not line.strip():
                continue
            try:
                numbered.append((line_number, json.loads(line)))
            except json.JSONDecodeError as line_error:
                if not numbered or not isinstance(numbered[0][1], dict):
                    # The first line is not an object: a broken JSON document, not NDJSON with a bad line.
                    raise UnreadableFileError(
                        f"{path.name}: not JSON (line {whole_error.lineno}: {whole_error.msg}) nor one JSON object "
                        f"per line (line {line_number}, column {line_error.colno}: {line_error.msg})"
                    ) from whole_error
                # One object per line: a line that is not JSON rejects that record only, as a bad CSV row does.
                unreadable_lines.append(
                    RecordProblem(line_number, "(record)", f"is not JSON (column {line_error.colno}: {line_error.msg})")
                )
    records = [record for _, record in numbered]
    if not records:
        raise UnreadableFileError(
            f"{path.name}: holds no records (the file is empty, [] or an object without a list of programmes); "
            "export the programmes again and drop the file again"
        )
    headers: list[str] = []
    rows: list[tuple[int, dict[str, str | None]]] = []
    problems: list[RecordProblem] = unreadable_lines
    for number, record in numbered:
        if not isinstance(record, dict):
            problems.append(RecordProblem(number, "(record)", "is not a JSON object"))
            continue
        cells = {str(key): _cell_text(value) for key, value in record.items()}
        if problem := _unencodable_cell(number, cells):
            problems.append(problem)
            continue
        for key in cells:
            if key not in headers:
                headers.append(key)
        rows.append((number, cells))
    problems.sort(key=lambda problem: problem.record_number)
    return TabularRows(headers=headers, rows=rows, problems=problems)


def _utf8_text(path: Path) -> str:
    """The file's text (a leading byte order mark dropped); UnreadableFileError saying where it is not UTF-8."""
    data = path.read_bytes()
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        offset = error.start + (len(codecs.BOM_UTF8) if data.startswith(codecs.BOM_UTF8) else 0)
        raise UnreadableFileError(
            f"{path.name}: is not UTF-8: {_where(data, offset)} cannot be read; save the file as UTF-8 and drop "
            "it again"
        ) from error


def _unencodable_cell(number: int, cells: dict[str, str | None]) -> RecordProblem | None:
    """A problem naming the first field whose text cannot be stored as UTF-8 (JSON escapes allow lone surrogates)."""
    for key, text in cells.items():
        if bad := _unencodable(key) or _unencodable(text or ""):
            identifier = cells.get("programme_id")
            return RecordProblem(
                number,
                key.encode("utf-8", "backslashreplace").decode("utf-8"),
                f"holds {bad}, half of a UTF-16 surrogate pair and not a character; fix the text",
                identifier if identifier and not _unencodable(identifier) else None,
            )
    return None


def _unencodable(text: str) -> str | None:
    """The characters of ``text`` UTF-8 cannot encode, escaped (e.g. ``\\ud83d``); None when there are none."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as error:
        return error.object[error.start : error.end].encode("unicode_escape").decode("ascii")
    return None


def _records_from_document(path: Path, document: object) -> list:
    """The records of a parsed JSON document (an array, or one object: see below).

    An object whose own keys name a programme (a programme_id or title column under any accepted spelling) is one
    record, and its lists are its values (countries, partners, budgets), unless one of them is a list of programme
    objects under a key that names records: ``{"id": "export-q3", "name": "UNDP export", "programmes": [...]}`` is a
    wrapper, ``id`` and ``name`` being spellings of programme_id and title. An object whose keys name no programme
    wraps the records: its one list of objects, else its one list.
    """
    if isinstance(document, list):
        return document
    if not isinstance(document, dict):
        raise UnreadableFileError(
            f"{path.name}: holds a JSON {_JSON_KINDS.get(type(document), 'value')}, not programmes: send an "
            "array of programme objects, an object holding one such array, one programme object, or one object per "
            "line"
        )
    if not document:
        return []
    if _names_a_programme(document):
        wrapped = {str(key): value for key, value in document.items() if _is_record_list(str(key), value)}
        if len(wrapped) > 1:
            raise UnreadableFileError(
                f"{path.name}: the object holds several lists of programmes ({', '.join(wrapped)}); send one list "
                "(or an array of programme objects) and drop the file again"
            )
        return next(iter(wrapped.values())) if wrapped else [document]
    record_arrays = {
        str(key): value
        for key, value in document.items()
        if isinstance(value, list) and value and all(isinstance(item, dict) for item in value)
    }
    if len(record_arrays) == 1:
        return next(iter(record_arrays.values()))
    if len(record_arrays) > 1:
        # {"data": [...], "meta": [...]}: the list under a key that names records, if only one does.
        named = {key: value for key, value in record_arrays.items() if _is_record_list(key, value)}
        if len(named) == 1:
            return next(iter(named.values()))
        if named:
            raise UnreadableFileError(
                f"{path.name}: the object holds several lists of programmes ({', '.join(named)}); send one list "
                "(or an array of programme objects) and drop the file again"
            )
        raise UnreadableFileError(
            f"{path.name}: the object holds several lists of objects ({', '.join(record_arrays)}), and none is a "
            "list of programmes (under a key such as programmes, projects, activities or data, with programme_id "
            "and title columns); send one list (or an array of programme objects) and drop the file again"
        )
    arrays = [value for value in document.values() if isinstance(value, list)]
    if len(arrays) == 1:
        return arrays[0]
    return [document]


#: What a JSON document that is neither an array nor an object is, in JSON's words.
_JSON_KINDS = {str: "string", int: "number", float: "number", bool: "true or false", type(None): "null"}

#: Words of a key that names a list of records (``programmes``, ``iati-activities``, ``projectList``, ``data``).
_RECORD_LIST_WORDS = frozenset(
    {
        *("programme", "programmes", "program", "programs", "project", "projects", "activity", "activities"),
        *("record", "records", "data", "items", "results", "rows", "entries"),
    }
)


def _names_a_programme(record: dict) -> bool:
    """Whether an object's keys include a programme_id or title column, under any accepted spelling."""
    mapping, _ = map_headers([str(key) for key in record])
    return bool({"programme_id", "title"} & set(mapping.values()))


def _is_record_list(key: str, value: object) -> bool:
    """Whether ``value`` is a list of programme objects held under a key that names records."""
    words = re.findall(r"[a-z]+", re.sub(r"([a-z])([A-Z])", r"\1 \2", key).lower())
    return (
        bool(_RECORD_LIST_WORDS.intersection(words))
        and isinstance(value, list)
        and bool(value)
        and all(isinstance(item, dict) and _names_a_programme(item) for item in value)
    )


#: What a damaged workbook raises while a read-only sheet is parsed (a truncated file fails there, not on opening).
_DAMAGED_WORKBOOK = (ElementTree.ParseError, zipfile.BadZipFile, zlib.error, EOFError)
#: openpyxl's data type of a cell holding an Excel error value (#N/A, #REF!, #DIV/0!, #VALUE!, #NAME?, ...).
_EXCEL_ERROR = "e"
_XML_PREFIX = rb"(?:[A-Za-z_][\w.-]*:)?"
#: The end of a formula element (``</f>``, ``<x:f t="shared" si="0"/>``) followed by no value: the cell's end, an
#: empty value or what may follow a value. Text never holds "<", so this is found in a sheet's XML bytes.
_FORMULA_WITHOUT_VALUE = re.compile(
    rb"(?:</%(p)sf>|<%(p)sf\b[^<>]*/>)\s*(?:</%(p)sc>|<%(p)sv\s*/>|<%(p)sv>\s*</%(p)sv>|<%(p)s(?:is|extLst)\b)"
    % {b"p": _XML_PREFIX}
)
_SHEET_XML = "{http://schemas.openxmlformats.org/spreadsheetml/2006/main}"


def _read_excel(path: Path) -> TabularRows:
    """The workbook's active sheet (the first visible one when the active one is hidden): see ``_sheet_rows``."""
    import openpyxl  # imported here: only Excel drops pay for it

    try:
        workbook = openpyxl.load_workbook(path, read_only=True, data_only=True)
    except Exception as error:  # openpyxl raises many types for corrupt workbooks
        raise UnreadableFileError(
            f"{path.name}: cannot be opened as an Excel workbook (damaged, or not .xlsx): {error}"
        ) from error
    where = "its sheets"
    try:
        sheet = _chosen_sheet(path, workbook)
        where = f"its sheet '{sheet.title}'"
        return _sheet_rows(path, sheet, _formulas_without_value(path, sheet))
    except _DAMAGED_WORKBOOK as error:
        raise UnreadableFileError(
            f"{path.name}: the workbook is damaged ({where} cannot be read: {error}); "
            "open it in Excel, save it again and drop it again"
        ) from error
    finally:
        workbook.close()


def _chosen_sheet(path: Path, workbook: Workbook) -> ReadOnlyWorksheet:
    """The active sheet when it is visible, else the first visible one; a warning names other sheets with data.

    A hidden sheet (an old version, lookup lists) is never read: the sheet read is the one Excel opens on.
    """
    sheets = workbook.worksheets
    visible = [sheet for sheet in sheets if sheet.sheet_state == "visible"]
    if not visible:
        raise UnreadableFileError(
            f"{path.name}: the workbook has no visible worksheet; unhide the sheet with the programmes and drop "
            "the file again"
        )
    active = workbook.active
    chosen = next((sheet for sheet in visible if sheet is active), visible[0])
    skipped = [sheet.title for sheet in visible if sheet is not chosen and _holds_values(sheet)]
    if skipped:
        log.warning(
            "%s: read the sheet '%s' (the %s sheet); not read, though they hold data: %s",
            path.name,
            chosen.title,
            "active" if chosen is active else "first visible",
            ", ".join(f"'{title}'" for title in skipped),
        )
    return chosen


def _holds_values(sheet: ReadOnlyWorksheet) -> bool:
    """Whether a sheet holds any value (read until the first one); a sheet that cannot be read counts as holding."""
    sheet.reset_dimensions()
    try:
        return any(not _blank(value) for row in sheet.iter_rows(values_only=True) for value in row)
    except _DAMAGED_WORKBOOK:
        return True


def _sheet_rows(path: Path, sheet: ReadOnlyWorksheet, unsaved: frozenset[tuple[int, int]]) -> TabularRows:
    """Row 1 is the header; each later row that holds a value is a row, numbered from 1 after the header.

    Every row and cell the sheet holds is read, whatever its ``<dimension>`` tag (the range the sheet says it
    fills, which some export tools write wrong) says. Formatted but empty columns right of the table and rows below
    it are not read as columns or rows. A row is rejected when a column the contract loads holds an Excel error
    value or a formula without a saved value (``unsaved``: see ``_formulas_without_value``).
    """
    # Read-only openpyxl reads only the range the <dimension> tag names, unless the sheet's dimensions are reset.
    sheet.reset_dimensions()
    cells_by_row = sheet.iter_rows()
    names = _excel_header(path, sheet, cells_by_row)
    mapping, _ = map_headers(names)
    # The columns loaded, by index: a repeated header's first column (the others are logged as ignored).
    loaded = sorted((names.index(name), name) for name in mapping)
    id_name = next((name for name, column in mapping.items() if column == "programme_id"), "")
    rows: list[tuple[int, dict[str, str | None]]] = []
    problems: list[RecordProblem] = []
    unnamed = False
    for number, row in enumerate(cells_by_row, start=1):
        fault = _row_fault(number + 1, row, loaded, unsaved)
        if fault is None and all(_blank(cell.value) for cell in row):
            continue
        texts = [None if cell.data_type == _EXCEL_ERROR else _excel_cell_text(cell) for cell in row]
        cells: dict[str, str | None] = {}
        for index, name in enumerate(names):
            cells.setdefault(name, texts[index] if index < len(texts) else None)
        if extra := [text for text in texts[len(names) :] if text is not None]:
            # A value right of the header: kept under an empty column name, which the loader logs as ignored.
            cells.setdefault("", extra[0])
            unnamed = True
        if fault is not None:
            problems.append(RecordProblem(number, fault[0], fault[1], cells.get(id_name)))
        else:
            rows.append((number, cells))
    headers = [*names, ""] if unnamed and "" not in names else names
    return TabularRows(headers=headers, rows=rows, problems=problems)


#: A number format that only pads with leading zeros (``00000``): ids and codes shown as ``00123``.
_ZERO_PADDED = re.compile(r"0+")


def _excel_cell_text(cell: object) -> str | None:
    """A cell's text as the sheet shows it where that matters: a whole number formatted ``00000`` (an id or code
    typed as a number, shown padded) keeps its leading zeros; every other value as ``_cell_text`` reads it."""
    value = getattr(cell, "value", None)
    number_format = getattr(cell, "number_format", None) or ""
    if (
        isinstance(value, int | float)
        and not isinstance(value, bool)
        and float(value).is_integer()
        and value >= 0
        and _ZERO_PADDED.fullmatch(number_format)
    ):
        return str(int(value)).zfill(len(number_format))
    return _cell_text(value)


def _excel_header(path: Path, sheet: ReadOnlyWorksheet, cells_by_row: Iterator[tuple]) -> list[str]:
    """The column names of row 1, without the empty cells right of the last name."""
    header = next(cells_by_row, None)
    names = [str(cell.value).strip() if cell.value is not None else "" for cell in header or ()]
    while names and not names[-1]:
        names.pop()
    if names:
        return names
    if header is None or all(_blank(cell.value) for row in cells_by_row for cell in row):
        raise UnreadableFileError(f"{path.name}: the sheet '{sheet.title}' is empty")
    raise UnreadableFileError(
        f"{path.name}: row 1 of the sheet '{sheet.title}' is empty: the header row is empty or the table does not "
        "start in cell A1; put the column names in row 1 from cell A1, and drop the file again"
    )


def _row_fault(
    sheet_row: int, row: tuple, loaded: list[tuple[int, str]], unsaved: frozenset[tuple[int, int]]
) -> tuple[str, str] | None:
    """(field, message) for the first cell of a loaded column that holds no loadable value; None when all do."""
    from openpyxl.utils import get_column_letter

    for index, name in loaded:
        if index >= len(row):
            break
        cell = row[index]
        if fault := _cell_fault(cell.value, cell.data_type, (sheet_row, index + 1) in unsaved):
            return name, f"cell {get_column_letter(index + 1)}{sheet_row} {fault}"
    return None


def _cell_fault(value: object, data_type: str, unsaved_formula: bool) -> str | None:
    """Why a cell of a loaded column holds no value that can be loaded; None when it holds one (or is empty)."""
    if data_type == _EXCEL_ERROR:
        return (
            f"holds the Excel error {value}, not a value; correct the formula or type the value, and drop the file "
            "again"
        )
    if unsaved_formula:
        # Programs that write formulas without calculating them (openpyxl, report generators) save no value.
        return (
            "holds a formula without a saved value (the program that wrote the file did not calculate it): open "
            "and save the file in Excel, or paste values, and drop the file again"
        )
    return None


def _blank(value: object) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def _formulas_without_value(path: Path, sheet: ReadOnlyWorksheet) -> frozenset[tuple[int, int]]:
    """(row, column) of each formula cell of the sheet that holds no saved value.

    openpyxl reads such a cell as empty (data_only). Excel saves each formula's value after it; a program that
    writes formulas without calculating them saves none. A formula whose value is empty text (``t="str"`` with an
    empty value) has a value. The sheet's XML is parsed for them only when a search of its bytes finds one (a sheet
    saved by Excel costs that search only).
    """
    member = sheet._worksheet_path  # the sheet's part in the workbook; openpyxl has no public name for it
    with zipfile.ZipFile(path) as archive:
        with archive.open(member) as source:
            if not _may_hold_formula_without_value(source):
                return frozenset()
        with archive.open(member) as source:
            return frozenset(_unsaved_formula_cells(source))


def _may_hold_formula_without_value(source: IO[bytes]) -> bool:
    """Whether a sheet's XML bytes hold a formula followed by no value (or an empty one), read in chunks."""
    tail = b""
    while chunk := source.read(_CHUNK_BYTES):
        if _FORMULA_WITHOUT_VALUE.search(tail + chunk):
            return True
        tail = chunk[-4096:]
    return False


def _unsaved_formula_cells(source: IO[bytes]) -> Iterator[tuple[int, int]]:
    """Formula cells without a value in a sheet's XML, each row and cell numbered as openpyxl numbers them."""
    from openpyxl.utils.cell import coordinate_to_tuple

    row_number = 0
    for _, element in ElementTree.iterparse(source):
        if element.tag != f"{_SHEET_XML}row":
            continue
        row_number = int(element.get("r") or row_number + 1)
        column = 0
        for cell in element.iterfind(f"{_SHEET_XML}c"):
            reference = cell.get("r")
            column = coordinate_to_tuple(reference)[1] if reference else column + 1
            formula = cell.find(f"{_SHEET_XML}f")
            if formula is not None and cell.get("t") != "str" and not cell.findtext(f"{_SHEET_XML}v"):
                yield row_number, column
        element.clear()


def _iter_fetch(cursor: duckdb.DuckDBPyConnection, batch_size: int = 10_000) -> Iterator[tuple]:
    while batch := cursor.fetchmany(batch_size):
        yield from batch


def _cell_text(value: object) -> str | None:
    if value is None:
        return None
    if isinstance(value, list):
        # A JSON list holds several values of a column (countries, sectors), which are read split at ";".
        return ";".join(text for item in value if (text := _cell_text(item)) is not None) or None
    if isinstance(value, dict):
        if _is_language_map(value):
            # One text in several languages ({"en": "Legal aid", "fr": "Aide juridique"}): its texts joined in the
            # order given, as IATI narratives in several languages are joined.
            return " | ".join(text.strip() for text in value.values() if text.strip()) or None
        # Any other object is kept whole as its JSON text, so nothing of it is lost or made up and what it held
        # stays visible: a column outside the contract is ignored (and logged); one in it is checked as that text.
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, float) and _LOOKS_GROUPED.fullmatch(repr(value)):
        # A typed number is exact: written "2.125", the amount parser would read a thousands group (2125).
        return f"{value!r}0"
    text = str(value)
    return text if text.strip() else None


#: A language code as multi-language JSON values key their texts: ``en``, ``fra``, ``en-GB``, ``es-419``, ``zh_CN``.
_LANGUAGE_CODE = re.compile(r"[A-Za-z]{2,3}(?:[-_](?:[A-Za-z]{2}|\d{3}))?")


def _is_language_map(value: dict) -> bool:
    """Whether an object maps language codes to texts (an empty object too: it holds no text)."""
    return all(
        isinstance(key, str) and _LANGUAGE_CODE.fullmatch(key) and isinstance(text, str) for key, text in value.items()
    )
