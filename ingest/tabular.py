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
from dataclasses import dataclass
from pathlib import Path
from xml.etree import ElementTree

import duckdb

from ingest.errors import UnreadableFileError
from ingest.records import RecordProblem
from ingest.tabular_schema import map_headers, missing_required

log = logging.getLogger(__name__)

#: The longest CSV line (record) DuckDB reads, in bytes; a longer one is rejected, or refused with its line.
CSV_MAX_LINE_BYTES = 16 << 20
#: A number with 1-3 digits, a point and 3 decimals, which in text could also be a thousands group.
_LOOKS_GROUPED = re.compile(r"^[1-9]\d{0,2}\.\d{3}$")


@dataclass
class TabularRows:
    """Rows of one extract as ``{header: text}`` dicts, numbered from 1, plus rows the reader rejected."""

    headers: list[str]
    rows: list[tuple[int, dict[str, str | None]]]
    problems: list[RecordProblem]


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
        source = _utf8_source(path, Path(scratch), scan.first_invalid_utf8)
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
            return _scan_csv(source, layout, connection)
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
_DELIMITER_NAMES = {",": "comma", ";": "semicolon", "\t": "tab"}


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
    return str(delimiter)


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


def _utf8_source(path: Path, scratch: Path, bad: int | None) -> Path:
    """A UTF-8 file with ``path``'s text for DuckDB: ``path`` itself, or a UTF-8 copy of a Windows-1252 file.

    ``bad`` is the offset of the first byte that is not UTF-8, if any. A file that is UTF-8 is read as such. One
    that is not, and holds no UTF-8 multi-byte character anywhere, is a Windows export in Windows-1252 (whose
    text includes Latin-1's) and is read through a UTF-8 copy. One that holds both mixes encodings: no single
    encoding reads it right, so it is refused rather than read as mojibake.
    """
    if bad is None:
        return path if _duckdb_can_open(path) else _linked(path, scratch)
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
    return target


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
    try:
        document = json.loads(text)
        records = _records_from_document(path, document)
    except json.JSONDecodeError as whole_error:
        records = []
        # Lines end at "\n" only: str.splitlines() would also break inside strings holding U+2028 and the like.
        for line_number, line in enumerate(text.split("\n"), start=1):
            if not line.strip():
                continue
            try:
                records.append(json.loads(line))
            except json.JSONDecodeError:
                raise UnreadableFileError(
                    f"{path.name}: not JSON (line {whole_error.lineno}: {whole_error.msg}) "
                    f"nor one JSON object per line (line {line_number} is not an object)"
                ) from whole_error
    headers: list[str] = []
    rows: list[tuple[int, dict[str, str | None]]] = []
    problems: list[RecordProblem] = []
    for number, record in enumerate(records, start=1):
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
    if isinstance(document, list):
        return document
    if isinstance(document, dict):
        # An object holding one array of objects wraps the records ({"id": "export-q3", "programmes": [...]}), even
        # when its own keys look like record fields; otherwise an object with the record fields is one record
        # (its lists, such as countries, are values).
        record_arrays = [
            value
            for value in document.values()
            if isinstance(value, list) and value and all(isinstance(item, dict) for item in value)
        ]
        if len(record_arrays) == 1:
            return record_arrays[0]
        if not missing_required(map_headers([str(key) for key in document])[0]):
            return [document]
        arrays = [value for value in document.values() if isinstance(value, list)]
        if len(arrays) == 1:
            return arrays[0]
        return [document]
    raise UnreadableFileError(f"{path.name}: JSON must be an array of programme objects")


def _read_excel(path: Path) -> TabularRows:
    import openpyxl  # imported here: only Excel drops pay for it

    try:
        workbook = openpyxl.load_workbook(path, read_only=True, data_only=True)
    except Exception as error:  # openpyxl raises many types for corrupt workbooks
        raise UnreadableFileError(
            f"{path.name}: cannot be opened as an Excel workbook (damaged, or not .xlsx): {error}"
        ) from error
    try:
        sheet = workbook.worksheets[0]
        values = sheet.iter_rows(values_only=True)
        header = next(values, None)
        if header is None:
            raise UnreadableFileError(f"{path.name}: the first sheet is empty")
        names = [str(name).strip() if name is not None else "" for name in header]
        rows: list[tuple[int, dict[str, str | None]]] = []
        for number, row in enumerate(values, start=1):
            if all(cell is None or str(cell).strip() == "" for cell in row):
                continue
            cells: dict[str, str | None] = {}
            for name, cell in zip(names, row, strict=False):
                # A repeated header: the first column is the one mapped (the others are logged as ignored).
                cells.setdefault(name, _cell_text(cell))
            rows.append((number, cells))
        return TabularRows(headers=names, rows=rows, problems=[])
    except (ElementTree.ParseError, zipfile.BadZipFile, zlib.error, EOFError) as error:
        # Read-only workbooks parse each sheet while it is read: a truncated file fails here, not on opening.
        raise UnreadableFileError(
            f"{path.name}: the workbook is damaged (its first sheet cannot be read: {error}); "
            "open it in Excel, save it again and drop it again"
        ) from error
    finally:
        workbook.close()


def _iter_fetch(cursor: duckdb.DuckDBPyConnection, batch_size: int = 10_000) -> Iterator[tuple]:
    while batch := cursor.fetchmany(batch_size):
        yield from batch


def _cell_text(value: object) -> str | None:
    if value is None:
        return None
    if isinstance(value, list):
        return ";".join(str(item) for item in value if item is not None)
    if isinstance(value, dict):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, float) and _LOOKS_GROUPED.fullmatch(repr(value)):
        # A typed number is exact: written "2.125", the amount parser would read a thousands group (2125).
        return f"{value!r}0"
    text = str(value)
    return text if text.strip() else None
