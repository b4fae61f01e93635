"""The tabular extract contract: which columns agencies may send, their aliases, and how each is checked.

Agencies send CSV, Excel or JSON with their own header spellings; this module maps them to one contract and
turns each row into a :class:`ProgrammeRecord`, or into :class:`RecordProblem` s naming the row and field.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from functools import lru_cache
from typing import TypeVar

from ingest.records import (
    NEGATIVE_BUDGET,
    CodeRecord,
    ProgrammeRecord,
    RecordProblem,
    budget_out_of_range,
    implausible_year,
)
from mainstream.seeds import seed_rows

#: Contract column → header spellings accepted for it (compared after normalising: lower case, "_" for
#: spaces and hyphens). The contract name itself is always accepted.
COLUMN_ALIASES: dict[str, tuple[str, ...]] = {
    "programme_id": ("id", "program_id", "project_id", "activity_id", "iati_identifier", "project_number"),
    "title": ("programme_title", "program_title", "project_title", "name", "titre", "titulo", "título"),
    "description": ("programme_description", "project_description", "summary", "descripcion"),
    "objectives": ("objective", "goal", "objectifs", "objetivos"),
    "target_groups": ("target_group", "beneficiaries"),
    "countries": ("country", "country_code", "country_codes", "recipient_country", "pays", "pais"),
    "sectors": ("sector", "sector_code", "sector_codes", "dac_sector", "dac_sectors", "purpose_code"),
    "sdg_targets": ("sdg_target", "sdg", "sdgs", "sdg_goals"),
    "start_date": ("start", "date_start", "planned_start"),
    "end_date": ("end", "date_end", "planned_end"),
    "budget": ("budget_usd", "total_budget", "amount"),
    "currency": ("budget_currency",),
    "humanitarian": ("humanitarian_flag", "is_humanitarian"),
    "gender_marker": ("gender_equality_marker", "gem"),
    "status": ("activity_status",),
}
REQUIRED_COLUMNS = ("programme_id", "title")

_TRUE = {"1", "true", "yes", "y", "oui", "si", "sí", "t"}
_FALSE = {"0", "false", "no", "n", "non", "f"}
_DATE_FORMATS = ("%Y-%m-%d", "%Y/%m/%d", "%d/%m/%Y", "%d.%m.%Y", "%Y%m%d")
_COUNTRY = re.compile(r"^[A-Z]{2}$")
_DAC_CODE = re.compile(r"^\d{3}(\d{2})?$")
_SDG = re.compile(r"^\d{1,2}(\.[0-9a-z]{1,2})?$")
_LIST_SPLIT = re.compile(r"[;,|]")
_CURRENCY_SYMBOLS = "$€£¥"
_DECIMAL_MARKS = ",."
#: Thousands separators agencies write: comma, point, space, no-break and narrow no-break space, apostrophes.
_THOUSANDS_SEPARATORS = ",. '\u2019\u00a0\u202f"
_SCIENTIFIC = re.compile(r"^(\d+(\.\d*)?|\.\d+)[eE][+-]?\d+$")
_GROUPED = re.compile(rf"^\d{{1,3}}([{re.escape(_THOUSANDS_SEPARATORS)}]\d{{3}})+$")
#: What may pad an amount: currency symbols and (no-break) spaces.
_AMOUNT_PADDING = _CURRENCY_SYMBOLS + " \u00a0"
#: An ISO 4217 code written with the amount (``USD 1,000``, ``1 000 EUR``); the currency column says which.
_CURRENCY_CODE = re.compile(r"^[A-Z]{3}[ \u00a0]*|[ \u00a0]*[A-Z]{3}$")
_NOT_AN_AMOUNT = "is not an amount (e.g. 125000, 125,000.50, 125.000,50 or 1.25E+05)"

T = TypeVar("T")


class RowError(ValueError):
    """A value that breaks the contract; ``field`` names the contract column."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


def normalise_header(name: str) -> str:
    return re.sub(r"[\s\-]+", "_", name.strip().lstrip("\ufeff").lower())


def map_headers(headers: list[str]) -> tuple[dict[str, str], list[str]]:
    """Map source headers to contract columns; return (source header → contract column, unknown headers).

    When several headers name one column, the most specific wins: the contract's own name, then its aliases in
    the order listed ("Programme ID" over a row counter headed "ID"); the others are unknown headers.
    """
    lookup: dict[str, tuple[str, int]] = {}
    for column, aliases in COLUMN_ALIASES.items():
        for rank, spelling in enumerate((column, *aliases)):
            lookup.setdefault(normalise_header(spelling), (column, rank))
    best: dict[str, tuple[int, int]] = {}  # column → (rank, position) of the header that names it best
    for position, header in enumerate(headers):
        if found := lookup.get(normalise_header(header)):
            column, rank = found
            best[column] = min(best.get(column, (rank, position)), (rank, position))
    chosen = {position: column for column, (_, position) in best.items()}
    mapping = {header: chosen[position] for position, header in enumerate(headers) if position in chosen}
    unknown = [header for position, header in enumerate(headers) if position not in chosen]
    return mapping, unknown


def missing_required(mapping: dict[str, str]) -> list[str]:
    return [column for column in REQUIRED_COLUMNS if column not in mapping.values()]


def row_to_record(
    record_number: int, values: dict[str, str | None], agency_ref: str
) -> ProgrammeRecord | RecordProblem:
    """Check one row (already keyed by contract column) and build its record, or say what is wrong."""
    # An identifier is kept as written, only trimmed: "UNDP  KE 001" and "UNDP KE 001" may be two programmes (the
    # IATI reader keeps identifiers exactly too).
    programme_id = (values.get("programme_id") or "").strip() or None
    try:
        if not programme_id:
            raise RowError("programme_id", "is empty; every row needs the agency's programme identifier")
        title = _clean(values.get("title"))
        if not title:
            raise RowError("title", "is empty; every programme needs a title")
        record = ProgrammeRecord(
            programme_id=programme_id,
            record_number=record_number,
            agency_ref=agency_ref,
            title=title,
            description=_clean(values.get("description")),
            objectives=_clean(values.get("objectives")),
            target_groups=_clean(values.get("target_groups")),
            activity_status=_clean(values.get("status")),
            start_date=_checked("start_date", values, _parse_date),
            end_date=_checked("end_date", values, _parse_date),
            humanitarian_flag=_checked("humanitarian", values, _parse_flag),
            budget_value=_checked("budget", values, _parse_amount),
            budget_currency=_checked("currency", values, _parse_currency),
        )
        record.budget_currency = _amount_currency(values, record.budget_currency)
        record.default_currency = record.budget_currency
        record.codes = _codes(values)
        if record.start_date and record.end_date and record.end_date < record.start_date:
            raise RowError("end_date", f"{record.end_date} is before start_date {record.start_date}")
        return record
    except RowError as error:
        return RecordProblem(record_number, error.field, str(error), programme_id)


@lru_cache(maxsize=1)
def _known_countries() -> frozenset[str]:
    """The country codes the warehouse knows (the ``ref_countries`` seed: ISO 3166-1 alpha-2 and Kosovo's XK)."""
    return frozenset(row["country_code"].strip().upper() for row in seed_rows("reference", "ref_countries"))


def _codes(values: dict[str, str | None]) -> list[CodeRecord]:
    codes: list[CodeRecord] = []
    for code in _split("countries", values):
        code = code.upper()
        if not _COUNTRY.match(code) or code not in _known_countries():
            raise RowError("countries", f"{code!r} is not an ISO 3166-1 alpha-2 country code (e.g. KE)")
        codes.append(CodeRecord("recipient_country", "ISO3166-1", code))
    for code in _split("sectors", values):
        if not _DAC_CODE.match(code):
            raise RowError("sectors", f"{code!r} is not a DAC purpose code (5 digits, or 3 for a category)")
        codes.append(CodeRecord("sector", "1" if len(code) == 5 else "2", code))
    for code in _split("sdg_targets", values):
        code = code.lower()
        if not _SDG.match(code):
            raise RowError("sdg_targets", f"{code!r} is not an SDG goal or target (e.g. 16 or 16.10)")
        codes.append(CodeRecord("tag", "3" if "." in code else "2", code))
    gender = _clean(values.get("gender_marker"))
    if gender is not None:
        if gender not in {"0", "1", "2"}:
            raise RowError("gender_marker", f"{gender!r} is not a DAC gender marker significance (0, 1 or 2)")
        codes.append(CodeRecord("policy_marker", "1", "1", significance=gender))
    return codes


def _split(column: str, values: dict[str, str | None]) -> list[str]:
    text = _clean(values.get(column))
    if not text:
        return []
    return [part.strip() for part in _LIST_SPLIT.split(text) if part.strip()]


def _checked(column: str, values: dict[str, str | None], parse: Callable[[str], T]) -> T | None:
    text = _clean(values.get(column))
    if text is None:
        return None
    try:
        return parse(text)
    except ValueError as error:
        raise RowError(column, f"{text!r} {error}") from error


def _clean(value: str | None) -> str | None:
    if value is None:
        return None
    text = " ".join(value.split())
    return text or None


def _parse_date(text: str) -> date:
    candidate = text[:10] if re.match(r"^\d{4}-\d{2}-\d{2}[T ]", text) else text
    for pattern in _DATE_FORMATS:
        try:
            parsed = datetime.strptime(candidate, pattern).date()
        except ValueError:
            continue
        if problem := implausible_year(parsed):
            raise ValueError(problem)
        return parsed
    raise ValueError("is not a date (use YYYY-MM-DD)")


def _parse_flag(text: str) -> bool:
    lowered = text.lower()
    if lowered in _TRUE:
        return True
    if lowered in _FALSE:
        return False
    raise ValueError("is not yes/no (accepted: yes, no, true, false, 1, 0)")


def _parse_amount(text: str) -> float:
    """A budget as written: plain, with consistent thousands separators, or in scientific notation.

    A lone ``,`` or ``.`` followed by exactly three digits (``125,000``, ``2.000``) groups thousands, as budgets
    carry at most two decimals. Mixed or irregular grouping, accounting negatives (``(500)``) and amounts beyond
    what the warehouse's decimal(18,2) holds are rejected, never guessed.
    """
    body = _CURRENCY_CODE.sub("", text.strip(_AMOUNT_PADDING)).strip(_AMOUNT_PADDING)
    if body.startswith("(") and body.endswith(")"):
        raise ValueError("is in parentheses, which marks a negative amount; budgets must be zero or more")
    if body.startswith(("-", "\u2212")):
        raise ValueError(NEGATIVE_BUDGET)
    body = body.removeprefix("+")
    try:
        amount = Decimal(body if _SCIENTIFIC.fullmatch(body) else _plain_amount(body))
    except InvalidOperation as error:
        raise ValueError(_NOT_AN_AMOUNT) from error
    value = float(amount)
    if why := budget_out_of_range(value):
        raise ValueError(why)
    return value


def _plain_amount(body: str) -> str:
    """``body`` without thousands separators and with ``.`` as decimal mark; ValueError when unclear."""
    separators = [char for char in body if not char.isdigit()]
    if not separators:
        return body
    if any(char not in _THOUSANDS_SEPARATORS for char in separators):
        raise ValueError(_NOT_AN_AMOUNT)
    kinds = list(dict.fromkeys(separators))
    if len(kinds) == 1 and len(separators) == 1 and kinds[0] in _DECIMAL_MARKS:
        head, _, tail = body.partition(kinds[0])
        # A lone mark before exactly three digits groups thousands (125,000 and 2.000 as agencies write them):
        # budgets carry at most two decimals.
        thousands = len(tail) == 3 and 1 <= len(head) <= 3 and not head.startswith("0")
        integer, decimals = (head + tail, "") if thousands else (head, tail)
    elif len(kinds) == 1:
        integer, decimals = body, ""
    elif len(kinds) == 2 and kinds[1] in _DECIMAL_MARKS and separators.count(kinds[1]) == 1:
        integer, _, decimals = body.partition(kinds[1])
    else:
        raise ValueError(_NOT_AN_AMOUNT)
    if not (integer or decimals) or (decimals and not decimals.isdigit()):
        raise ValueError(_NOT_AN_AMOUNT)
    if integer and not integer.isdigit():
        if not _GROUPED.fullmatch(integer):
            raise ValueError(_NOT_AN_AMOUNT)
        integer = re.sub(r"\D", "", integer)
    return f"{integer or 0}.{decimals or 0}"


def _amount_currency(values: dict[str, str | None], currency: str | None) -> str | None:
    """The budget's currency: the currency column, or the ISO code written in the amount ("EUR 1000"); both must
    agree when both are given (an amount of "1,000 EUR" in a USD column is rejected, never relabelled)."""
    amount = _clean(values.get("budget")) or ""
    match = _CURRENCY_CODE.search(amount.strip(_AMOUNT_PADDING))
    written = match.group(0).strip(" \u00a0") if match else None
    if written and currency and written != currency:
        raise RowError("currency", f"{currency} does not match the currency written in the budget ({amount!r})")
    return currency or written


def _parse_currency(text: str) -> str:
    code = text.upper()
    if not re.match(r"^[A-Z]{3}$", code):
        raise ValueError("is not an ISO 4217 currency code (e.g. USD)")
    return code
