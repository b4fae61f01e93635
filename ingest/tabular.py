"""Read tabular extracts (CSV, JSON, Excel) into rows of text values, with DuckDB doing the parsing."""

from __future__ import annotations

import codecs
import json
import logging
import re
import zipfile
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from xml.etree import ElementTree

import duckdb

from ingest.errors import UnreadableFileError
from ingest.records import RecordProblem
from ingest.tabular_schema import map_headers, missing_required

log = logging.getLogger(__name__)

#: Fallback encodings tried, in order, when a CSV is not valid UTF-8 (agencies' Excel exports often are not).
CSV_ENCODINGS = ("utf-8", "latin-1")
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
    last_error: Exception | None = None
    for encoding in CSV_ENCODINGS:
        connection = duckdb.connect()
        try:
            connection.execute(
                """
                create table extract as
                select row_number() over () as row_number, *
                from read_csv(?, all_varchar = true, header = true, auto_detect = true,
                              encoding = ?, store_rejects = true, null_padding = true)
                """,
                [str(path), encoding],
            )
            headers, rows = _fetch_rows(connection)
            rejects = connection.execute(
                "select line, column_name, error_type, error_message from reject_errors order by line"
            ).fetchall()
            if (
                any(error_type == "INVALID ENCODING" for _, _, error_type, _ in rejects)
                and encoding != CSV_ENCODINGS[-1]
            ):
                continue
            problems = [
                RecordProblem(
                    record_number=int(line) - 1,
                    field=column_name or "(row)",
                    message=f"{error_type}: {error_message}",
                )
                for line, column_name, error_type, error_message in rejects
            ]
            if encoding != CSV_ENCODINGS[0]:
                log.warning("%s is not UTF-8; read it as %s", path.name, encoding)
            return TabularRows(headers=headers, rows=rows, problems=problems)
        except duckdb.Error as error:
            last_error = error
            if "unicode" not in str(error).lower() and "encoding" not in str(error).lower():
                break
        finally:
            connection.close()
    raise UnreadableFileError(f"{path.name}: cannot be read as CSV: {_first_line(last_error)}")


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
        line = data.count(b"\n", 0, offset) + 1
        raise UnreadableFileError(
            f"{path.name}: is not UTF-8: byte 0x{data[offset]:02x} at line {line} (byte {offset + 1}) "
            "cannot be read; save the file as UTF-8 and drop it again"
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
        # An object with the required record fields is a record itself, even when one of its fields is a list.
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


def _fetch_rows(
    connection: duckdb.DuckDBPyConnection,
) -> tuple[list[str], list[tuple[int, dict[str, str | None]]]]:
    cursor = connection.execute("select * from extract order by row_number")
    names = [column[0] for column in cursor.description][1:]
    rows = [
        (int(row[0]), {name: _cell_text(value) for name, value in zip(names, row[1:], strict=True)})
        for row in _iter_fetch(cursor)
    ]
    return names, rows


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


def _first_line(error: BaseException | None) -> str:
    return str(error).strip().splitlines()[0] if error else "unknown error"
