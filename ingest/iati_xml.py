"""Read IATI activity XML (``<iati-activities>`` documents) into :class:`ProgrammeRecord` s.

Files are streamed one ``<iati-activity>`` at a time and each element is freed once read, so memory stays flat
however large the file. Real publishers break the IATI 2.03 schema in many small ways (missing attributes,
disallowed vocabularies, unparsable numbers); this reader tolerates all of that. Only two things make an activity
unusable, and each yields a :class:`RecordProblem` instead of a record: a missing ``iati-identifier`` and a missing
``reporting-org/@ref``. A budget total the warehouse cannot hold (negative, or not below 10^16) is left out of
its record with a :class:`RecordProblem` in ``value_problems``; the activity itself loads. A file that is not
well-formed XML, is not an ``iati-activities`` document or holds no activity at all raises
:class:`UnreadableFileError`.

Attributes and elements in other namespaces (the D-Portal ``dstore`` bookkeeping attributes, UNHCR's
``value-USD`` elements, ...) are never looked at: every lookup below is by un-namespaced name.
"""

from __future__ import annotations

import logging
import math
import os
import re
from collections.abc import Iterable, Iterator
from datetime import date
from decimal import Decimal, InvalidOperation
from itertools import pairwise
from pathlib import Path

from lxml import etree

from ingest.errors import UnreadableFileError
from ingest.records import (
    FIRST_PLAUSIBLE_YEAR,
    LAST_PLAUSIBLE_YEAR,
    CodeRecord,
    ProgrammeRecord,
    RecordProblem,
    budget_out_of_range,
    implausible_year,
)

log = logging.getLogger(__name__)

ROOT_TAG = "iati-activities"
ACTIVITY_TAG = "iati-activity"
NARRATIVE_SEPARATOR = " | "
DEFAULT_LANGUAGE = "en"
XML_LANG = "{http://www.w3.org/XML/1998/namespace}lang"

#: IATI DescriptionType code → ProgrammeRecord field (no @type means a general description).
DESCRIPTION_FIELDS = {"1": "description", "2": "objectives", "3": "target_groups", "4": "other_description"}
#: IATI ActivityDateType codes, with the IATI 1.x names still found in old files.
_ACTUAL_START = ("2", "start-actual")
_PLANNED_START = ("1", "start-planned")
_ACTUAL_END = ("4", "end-actual")
_PLANNED_END = ("3", "end-planned")
#: IATI 1.x vocabulary words for the DAC codes the criteria read as vocabulary 1 (5-digit) and 2 (3-digit).
_VOCABULARY_WORDS = {"dac": "1", "dac-3": "2"}
#: IATI 1.x DescriptionType words.
_DESCRIPTION_WORDS = {"general": "1", "objectives": "2", "target groups": "3", "other": "4"}
_ZERO_WIDTH = dict.fromkeys(map(ord, "\u200b\u200c\u200d\u2060\ufeff"))
_ORIGINAL_BUDGET = "1"
_REVISED_BUDGET = "2"
#: IATI BudgetType codes, with the IATI 1.x words still found in old files.
_BUDGET_TYPES = {"1": _ORIGINAL_BUDGET, "original": _ORIGINAL_BUDGET, "2": _REVISED_BUDGET, "revised": _REVISED_BUDGET}
_TRUE = {"1", "true", "yes"}
_FALSE = {"0", "false", "no"}
#: Every activity date type, as IATI 2 codes and IATI 1.x words.
_DATE_TYPES = frozenset(_ACTUAL_START + _PLANNED_START + _ACTUAL_END + _PLANNED_END)
_ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
#: lxml appends ", line L, column C" to its messages; the reader reports the position itself.
_POSITION_SUFFIX = re.compile(r",? line \d+, column \d+$")


def iter_iati_activities(path: Path) -> Iterator[ProgrammeRecord | RecordProblem]:
    """Yield a record (or a problem) for each ``<iati-activity>`` of ``path``, in document order.

    ``record_number`` is the 1-based position of the activity element in the file. Raises UnreadableFileError
    when the file cannot be read as IATI activity XML; activities before a syntax error further down the file
    may already have been yielded (the caller quarantines the whole file anyway).
    """
    number = 0
    problems = 0
    for activity in _iter_activity_elements(path):
        number += 1
        try:
            item = _activity_to_record(activity, number)
        except Exception as error:
            # Never lose a file to one odd record: report it as that record's problem and carry on.
            log.exception("%s: activity %d could not be read", path.name, number)
            item = RecordProblem(number, ACTIVITY_TAG, f"could not be read: {error}")
        finally:
            _free(activity)
        if isinstance(item, RecordProblem):
            problems += 1
        yield item
    log.debug("%s: read %d activities (%d rejected)", path.name, number, problems)


def _iter_activity_elements(path: Path) -> Iterator[etree._Element]:
    """Stream the ``iati-activity`` elements of ``path``, turning every read failure into UnreadableFileError."""
    found = False
    try:
        with path.open("rb") as handle:
            if os.fstat(handle.fileno()).st_size == 0:
                raise UnreadableFileError(f"{path.name}: the file is empty")
            context = etree.iterparse(
                handle,
                events=("end",),
                tag=ACTIVITY_TAG,
                huge_tree=True,
                resolve_entities=False,
                no_network=True,
            )
            for _event, activity in context:
                if not found:
                    _check_root(path, activity.getroottree().getroot())
                    found = True
                yield activity
            root = context.root
    except etree.XMLSyntaxError as error:
        raise UnreadableFileError(_syntax_message(path, error)) from error
    except OSError as error:
        raise UnreadableFileError(f"{path.name}: cannot be opened: {error}") from error
    if root is None:
        raise UnreadableFileError(f"{path.name}: is not an IATI activity file: it has no XML root element")
    _check_root(path, root)
    if not found:
        raise UnreadableFileError(f"{path.name}: the <{ROOT_TAG}> document contains no <{ACTIVITY_TAG}> element")


def _check_root(path: Path, root: etree._Element) -> None:
    if root.tag != ROOT_TAG:
        raise UnreadableFileError(
            f"{path.name}: is not an IATI activity file: its root element is <{root.tag}>, expected <{ROOT_TAG}>"
        )


def _syntax_message(path: Path, error: etree.XMLSyntaxError) -> str:
    """Name the file and where the XML breaks, in lxml's own words.

    The parser's error log is preferred: with entity resolution off, lxml sometimes raises a generic
    "no element found" at line 0 while its log holds the real error and position.
    """
    entry = error.error_log.filter_from_errors().last_error if error.error_log else None
    if entry is not None and entry.line > 0:
        line, column, reason = entry.line, entry.column, entry.message
    else:
        line, column = error.position or (0, 0)
        reason = error.msg or str(error)
    reason = _POSITION_SUFFIX.sub("", reason.strip()) or "unreadable XML"
    where = f" at line {line}, column {column}" if line > 0 else ""
    return f"{path.name}: is not well-formed XML{where}: {reason}"


def _free(activity: etree._Element) -> None:
    """Release a processed activity and everything before it, so a huge file never builds up in memory."""
    activity.clear(keep_tail=True)
    parent = activity.getparent()
    if parent is None:
        return
    while activity.getprevious() is not None:
        del parent[0]


def _activity_to_record(activity: etree._Element, number: int) -> ProgrammeRecord | RecordProblem:
    """Map one activity element to a record, or say why it cannot be loaded."""
    identifier = activity.find("iati-identifier")
    # Kept as published inside (some carry spaces, e.g. UNICEF's), but a pretty-printer's line break and indent
    # become one space and zero-width characters go: otherwise the same identifier, named by a related activity,
    # would not match.
    programme_id = _identifier("".join(identifier.itertext())) if identifier is not None else ""
    if not programme_id:
        return RecordProblem(number, "iati-identifier", "missing or empty iati-identifier")
    reporting_org = activity.find("reporting-org")
    agency_ref = _attr(reporting_org, "ref")
    if not agency_ref:
        return RecordProblem(number, "reporting-org/@ref", "missing or empty reporting-org/@ref", programme_id)
    activity_language = (_attr(activity, XML_LANG) or DEFAULT_LANGUAGE).lower()
    languages: set[str] = set()
    descriptions: dict[str, list[str]] = {field: [] for field in DESCRIPTION_FIELDS.values()}
    for element in activity.iterchildren("description"):
        text = _narratives(element, activity_language, languages)
        if text:
            descriptions[_description_field(_attr(element, "type"))].append(text)
    title = _narratives(activity.find("title"), activity_language, languages)
    if not title:
        # As for a CSV, JSON or Excel row: the title is what names the programme to every reader of the marts.
        return RecordProblem(
            number, "title", "missing or empty title (title/narrative); every programme needs a title", programme_id
        )
    budget_total, budget_currency, budget_notes = _budget(activity)
    codes, code_notes = _valid_codes(_codes(activity))
    value_problems = [
        RecordProblem(number, field, note, programme_id, record_loaded=True)
        for field, note in [*budget_notes, *_unreadable_dates(activity), *code_notes]
    ]
    for problem in value_problems:
        log.warning("activity %d (%s): %s", number, programme_id, problem.message)
    if budget_total is not None and (problem := _budget_problem(budget_total, budget_currency, number, programme_id)):
        log.warning("activity %d (%s): %s", number, programme_id, problem.message)
        value_problems.append(problem)
        budget_total = budget_currency = None
    return ProgrammeRecord(
        programme_id=programme_id,
        record_number=number,
        agency_ref=agency_ref,
        reporting_org_name=_narratives(reporting_org),
        title=title,
        description=_joined(descriptions["description"]),
        objectives=_joined(descriptions["objectives"]),
        target_groups=_joined(descriptions["target_groups"]),
        other_description=_joined(descriptions["other_description"]),
        languages=",".join(sorted(languages or {activity_language})),
        activity_status=_attr(activity.find("activity-status"), "code"),
        start_date=_activity_date(activity, _ACTUAL_START, _PLANNED_START),
        end_date=_activity_date(activity, _ACTUAL_END, _PLANNED_END),
        humanitarian_flag=_flag(_attr(activity, "humanitarian")),
        default_currency=_attr(activity, "default-currency"),
        budget_value=float(budget_total) if budget_total is not None else None,
        budget_currency=budget_currency,
        codes=codes,
        value_problems=value_problems,
    )


# ---------------------------------------------------------------------------------------------------- text


def _clean(value: str | None) -> str | None:
    """Collapse all whitespace runs to one space; None for empty text."""
    if value is None:
        return None
    text = " ".join(value.split())
    return text or None


def _text(element: etree._Element | None) -> str | None:
    """The element's whole text content (comments and processing instructions left out), cleaned."""
    if element is None:
        return None
    return _clean("".join(element.itertext()))


def _attr(element: etree._Element | None, name: str) -> str | None:
    """An attribute's value stripped; None when the element or attribute is absent or blank."""
    if element is None:
        return None
    value = element.get(name)
    if value is None:
        return None
    return value.strip() or None


def _narratives(
    element: etree._Element | None, default_language: str = DEFAULT_LANGUAGE, languages: set[str] | None = None
) -> str | None:
    """Join an element's narratives with " | " (its direct text for IATI 1.x); note their languages."""
    if element is None:
        return None
    parts: list[str] = []
    narratives = list(element.iterchildren("narrative"))
    for narrative in narratives:
        text = _text(narrative)
        if text:
            parts.append(text)
            if languages is not None:
                languages.add((_attr(narrative, XML_LANG) or default_language).lower())
    if not narratives:
        text = _clean(element.text)
        if text:
            parts.append(text)
            if languages is not None:
                languages.add((_attr(element, XML_LANG) or default_language).lower())
    return _joined(parts)


def _joined(parts: list[str]) -> str | None:
    return NARRATIVE_SEPARATOR.join(parts) or None


# ---------------------------------------------------------------------------------------------------- values


def _parse_date(value: str | None) -> date | None:
    """The YYYY-MM-DD date at the start of an IATI iso-date; None when absent, not a real date, or of an
    implausible year (records.implausible_year)."""
    if not value or not _ISO_DATE.match(value[:10]):
        return None
    try:
        parsed = date.fromisoformat(value[:10])
    except ValueError:
        return None
    return None if implausible_year(parsed) else parsed


def _parse_number(value: str | None) -> float | None:
    """A finite decimal number, or None (IATI values are plain xsd:decimal: no thousands separators)."""
    if value is None:
        return None
    try:
        number = float(value.strip().removesuffix("%"))
    except ValueError:
        return None
    return number if math.isfinite(number) else None


def _parse_decimal(value: str | None) -> Decimal | None:
    """A finite xsd:decimal (scientific notation tolerated), exactly; None when absent or not a number."""
    if value is None:
        return None
    try:
        number = Decimal(value.strip())
    except InvalidOperation:
        return None
    return number if number.is_finite() else None


def _flag(value: str | None) -> bool | None:
    if value is None:
        return None
    lowered = value.lower()
    if lowered in _TRUE:
        return True
    if lowered in _FALSE:
        return False
    return None


def _activity_date(activity: etree._Element, *preferences: tuple[str, ...]) -> date | None:
    """The first valid date among activity-dates of the preferred types, tried in order (actual before planned)."""
    dates = list(activity.iterchildren("activity-date"))
    for types in preferences:
        for element in dates:
            if (_attr(element, "type") or "").lower() in types:
                parsed = _parse_date(_date_text(element))
                if parsed is not None:
                    return parsed
    return None


def _date_text(element: etree._Element) -> str | None:
    """An activity date's iso-date, else (IATI 1.x) the date written as the element's text."""
    return _attr(element, "iso-date") or _text(element) or None


def _identifier(text: str) -> str:
    """An identifier as published, without zero-width characters and with each run of white space one space."""
    return " ".join(text.translate(_ZERO_WIDTH).split())


def _vocabulary(value: str | None) -> str:
    """A code vocabulary: IATI 2 codes as published, IATI 1.x words (DAC, DAC-3) as their codes; 1 when absent."""
    if not value:
        return "1"
    return _VOCABULARY_WORDS.get(value.strip().lower(), value.strip())


def _description_field(description_type: str | None) -> str:
    """The field a description goes to: by its type (1-4, or the IATI 1.x words); any other type is kept as an
    other description rather than dropped (the criteria still read it)."""
    code = _DESCRIPTION_WORDS.get((description_type or "1").strip().lower(), (description_type or "1").strip())
    return DESCRIPTION_FIELDS.get(code, "other_description")


def _budget(activity: etree._Element) -> tuple[Decimal | None, str | None, list[tuple[str, str]]]:
    """The activity's total budget with its currency, and notes on what was left out.

    Per budget period (period-start, period-end) the revised budget (type 2) supersedes the original (type 1, or no
    @type): UN Women, for one, publishes both for every year. Lines without a period cannot be matched to a
    revision, so among them the originals are summed and the revised ones count only when there is no original.
    Only values in the currency of the first line kept are added up: a line in another currency is left out rather
    than added to a total it does not belong to (currencies are not converted). Values are summed exactly, as the
    decimals they are published as. The third item says, per field, what was left out and why (a line in another
    currency, a value that is not a number, a type that is neither original nor revised).
    """
    default_currency = _attr(activity, "default-currency")
    notes: list[tuple[str, str]] = []
    by_period: dict[tuple[str | None, str | None], dict[str, list[tuple[Decimal, str | None]]]] = {}
    for budget in activity.iterchildren("budget"):
        kind = _BUDGET_TYPES.get((_attr(budget, "type") or _ORIGINAL_BUDGET).lower())
        if kind is None:
            notes.append(
                (
                    "budget/@type",
                    f"{_attr(budget, 'type')!r} is neither 1 (original) nor 2 (revised); this budget line is left out",
                )
            )
            continue
        value_element = budget.find("value")
        raw = _text(value_element)
        amount = _parse_decimal(raw)
        if amount is None:
            if raw:
                notes.append(
                    (
                        "budget/value",
                        f"{raw!r} is not a number (IATI values are plain decimals, e.g. 1250000.00); "
                        "this budget line is left out",
                    )
                )
            continue
        currency = (_attr(value_element, "currency") or default_currency or "").upper() or None
        period = (_attr(budget.find("period-start"), "iso-date"), _attr(budget.find("period-end"), "iso-date"))
        by_period.setdefault(period, {}).setdefault(kind, []).append((amount, currency))
    undated = by_period.pop((None, None), {})
    notes.extend(_overlapping_periods(by_period))
    # Per period the revision supersedes the original; undated lines: the originals, else the revised ones.
    values = [line for lines in by_period.values() for line in lines.get(_REVISED_BUDGET) or lines[_ORIGINAL_BUDGET]]
    values += undated.get(_ORIGINAL_BUDGET) or undated.get(_REVISED_BUDGET) or []
    if not values:
        return None, None, notes
    currency = values[0][1]
    for amount, value_currency in values:
        if value_currency != currency:
            notes.append(
                (
                    "budget/value/@currency",
                    f"a budget line of {amount} {value_currency or '(no currency)'} is left "
                    f"out: the total is in {currency or '(no currency)'}, the currency of the first line, and "
                    "currencies are not converted",
                )
            )
    kept = [amount for amount, value_currency in values if value_currency == currency]
    total = sum(kept, Decimal(0))
    if total >= 0 and (negative := [amount for amount in kept if amount < 0]):
        # A negative total is reported as out of range (_budget_problem); a positive one hides its negative lines.
        notes.append(
            (
                "budget/value",
                f"negative budget line(s) {', '.join(str(amount) for amount in negative)} are netted into the total "
                "(a budget is zero or more; check whether they are corrections)",
            )
        )
    return total, currency, notes


def _overlapping_periods(periods: Iterable[tuple[str | None, str | None]]) -> list[tuple[str, str]]:
    """Budget periods that overlap, whose budgets are all summed (a multi-year budget beside a yearly one may count
    the same money twice): said so, so the agency can check."""
    spans = sorted(
        (start, end, f"{start_text}..{end_text}")
        for start_text, end_text in periods
        if (start := _parse_date(start_text)) is not None and (end := _parse_date(end_text)) is not None
    )
    return [
        (
            "budget/period-start",
            f"budget periods {earlier[2]} and {later[2]} overlap; both are summed, so the total "
            "may count some money twice",
        )
        for earlier, later in pairwise(spans)
        if later[0] <= earlier[1]
    ]


def _unreadable_dates(activity: etree._Element) -> list[tuple[str, str]]:
    """Activity dates left out (a type that is no activity date type, no date, a date that is not a date), and why."""
    notes = []
    for element in activity.iterchildren("activity-date"):
        kind = _attr(element, "type")
        if (kind or "").lower() not in _DATE_TYPES:
            notes.append(
                (
                    "activity-date/@type",
                    f"{kind!r} is not an activity date type (1-4, or start-planned, "
                    "start-actual, end-planned, end-actual); this date is left out",
                )
            )
            continue
        raw = _date_text(element)
        if not raw:
            notes.append(("activity-date/@iso-date", f"the date of type {kind} is empty; it is left out"))
        elif _parse_date(raw) is None:
            notes.append(
                (
                    "activity-date/@iso-date",
                    f"{raw!r} (type {_attr(element, 'type') or '?'}) is not a date in the form YYYY-MM-DD "
                    f"with a year in {FIRST_PLAUSIBLE_YEAR}-{LAST_PLAUSIBLE_YEAR}; this date is left out",
                )
            )
    return notes


def _budget_problem(total: Decimal, currency: str | None, number: int, programme_id: str) -> RecordProblem | None:
    """Why a budget total cannot be loaded (negative, or beyond what decimal(18,2) holds); None when it can."""
    why = budget_out_of_range(total)
    if why is None:
        return None
    return RecordProblem(
        number,
        "budget/value",
        f"the budget total {total} {currency or '(no currency)'} {why}; the activity is loaded without a budget",
        programme_id,
        record_loaded=True,
    )


# ---------------------------------------------------------------------------------------------------- codes


#: What a code must look like to mean anything to the criteria: (code type, vocabulary) -> (pattern, what it is).
_CODE_SHAPES = {
    ("recipient_country", "ISO3166-1"): (re.compile(r"[A-Z]{2}"), "an ISO 3166-1 alpha-2 country code (e.g. KE)"),
    ("sector", "1"): (re.compile(r"\d{5}"), "a 5-digit DAC purpose code (e.g. 15160)"),
    ("sector", "2"): (re.compile(r"\d{3}"), "a 3-digit DAC category code (e.g. 151)"),
}


def _valid_codes(codes: list[CodeRecord]) -> tuple[list[CodeRecord], list[tuple[str, str]]]:
    """Codes of a known vocabulary that do not have its shape ("UGA" as a country, "1516O" as a DAC code) are left
    out and said so: kept, they would match no criterion and no reference table, without a word."""
    kept: list[CodeRecord] = []
    notes: list[tuple[str, str]] = []
    for code in codes:
        shape = _CODE_SHAPES.get((code.code_type, code.vocabulary))
        if shape is not None and not shape[0].fullmatch(code.code):
            element = code.code_type.replace("_", "-")
            notes.append((f"{element}/@code", f"{code.code!r} is not {shape[1]}; this {element} is left out"))
            continue
        kept.append(code)
    return kept, notes


def _codes(activity: etree._Element) -> list[CodeRecord]:
    """Every code the publisher attached: sectors, policy markers, tags, humanitarian scopes, places, relations."""
    codes: list[CodeRecord] = []
    sectors = list(activity.iterchildren("sector"))
    codes.extend(_sector_codes(sectors))
    if not sectors:
        codes.extend(_transaction_sector_codes(activity))
    for element in activity.iterchildren("policy-marker"):
        if code := _attr(element, "code"):
            codes.append(
                CodeRecord(
                    "policy_marker",
                    _vocabulary(_attr(element, "vocabulary")),
                    code,
                    significance=_attr(element, "significance"),
                    narrative=_narratives(element),
                )
            )
    for element in activity.iterchildren("tag"):
        if code := _attr(element, "code"):
            codes.append(CodeRecord("tag", _attr(element, "vocabulary") or "1", code, narrative=_narratives(element)))
    for element in activity.iterchildren("humanitarian-scope"):
        if code := _attr(element, "code"):
            codes.append(
                CodeRecord(
                    "humanitarian_scope",
                    _attr(element, "vocabulary") or "",
                    code,
                    significance=_attr(element, "type"),
                    narrative=_narratives(element),
                )
            )
    for element in activity.iterchildren("recipient-country"):
        if code := _attr(element, "code"):
            codes.append(
                CodeRecord(
                    "recipient_country",
                    "ISO3166-1",
                    code.upper(),
                    percentage=_parse_number(_attr(element, "percentage")),
                    narrative=_narratives(element),
                )
            )
    for element in activity.iterchildren("recipient-region"):
        if code := _attr(element, "code"):
            codes.append(
                CodeRecord(
                    "recipient_region",
                    _vocabulary(_attr(element, "vocabulary")),
                    code,
                    percentage=_parse_number(_attr(element, "percentage")),
                    narrative=_narratives(element),
                )
            )
    # Related activities (IATI RelatedActivityType: 1 parent, 2 child, 3 sibling, 4 co-funded, 5 third party), so
    # a UNDP output can be read with its project and counted once.
    for element in activity.iterchildren("related-activity"):
        if (reference := _attr(element, "ref")) and (relation := _attr(element, "type")):
            codes.append(CodeRecord("related_activity", relation, reference))
    return codes


def _sector_codes(elements: Iterable[etree._Element], with_percentage: bool = True) -> Iterator[CodeRecord]:
    """Sector codes (vocabulary 1, DAC 5-digit, when none is given); elements without a code are skipped."""
    for element in elements:
        if code := _attr(element, "code"):
            yield CodeRecord(
                "sector",
                _vocabulary(_attr(element, "vocabulary")),
                code,
                percentage=_parse_number(_attr(element, "percentage")) if with_percentage else None,
                narrative=_narratives(element),
            )


def _transaction_sector_codes(activity: etree._Element) -> list[CodeRecord]:
    """Sectors declared on transactions (used when the activity declares none), once per vocabulary and code.

    A transaction's sector says what that transaction paid for, not a share of the programme: no percentage.
    """
    seen: set[tuple[str, str]] = set()
    codes: list[CodeRecord] = []
    for transaction in activity.iterchildren("transaction"):
        for record in _sector_codes(transaction.iterchildren("sector"), with_percentage=False):
            key = (record.vocabulary, record.code)
            if key not in seen:
                seen.add(key)
                codes.append(record)
    return codes
