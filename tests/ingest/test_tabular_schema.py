"""Values of tabular rows are read exactly as written, or rejected naming the row and field: never guessed."""

from __future__ import annotations

import json

import pyarrow.parquet as pq
import pytest

from ingest.drops import ingest_file
from ingest.records import ProgrammeRecord, RecordProblem
from ingest.tabular_schema import row_to_record
from mainstream.home import Home
from tests.helpers import drop


def _budget(text: str) -> ProgrammeRecord | RecordProblem:
    return row_to_record(7, {"programme_id": "P-7", "title": "Legal aid", "budget": text}, "undp")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("125000", 125000.0),
        ("125000.5", 125000.5),
        ("0.125", 0.125),
        ("1234.567", 1234.567),
        ("12,50", 12.5),
        ("1,234.50", 1234.5),
        ("1.234,50", 1234.5),
        ("1,234,567", 1234567.0),
        ("125,000", 125000.0),
        ("2.000", 2000.0),
        ("1,234", 1234.0),
        ("0,125", 0.125),
        ("1.234.567", 1234567.0),
        ("1.234.567,89", 1234567.89),
        ("1 234 567,89", 1234567.89),
        ("1'234'567.89", 1234567.89),
        ("$ 1,200.50", 1200.5),
        ("1.5E+06", 1_500_000.0),
        ("1\u00a0234\u00a0567", 1234567.0),
        ("1\u202f234\u202f567,50", 1234567.5),
        ("USD 1,000", 1000.0),
        ("1 000 EUR", 1000.0),
        (".5", 0.5),
        ("2.5e3", 2500.0),
        ("1e-05", 0.00001),
        ("9999999999999998", 9999999999999998.0),
    ],
)
def test_amounts_are_read_as_written(text: str, expected: float) -> None:
    record = _budget(text)
    assert isinstance(record, ProgrammeRecord), record
    assert record.budget_value == pytest.approx(expected, rel=1e-15)


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("(500)", "negative"),
        ("-500", "negative"),
        ("1,23,456", "not an amount"),
        ("1,234,56.7", "not an amount"),
        ("1.234.567.89", "not an amount"),
        ("1,234.567,8", "not an amount"),
        ("12abc34", "not an amount"),
        ("1.5E+", "not an amount"),
        ("NaN", "not an amount"),
        ("25000000000000000", "too large"),
        ("12345678901234567890", "too large"),
        ("1E+16", "too large"),
        ("9999999999999999.99", "too large"),
    ],
)
def test_ambiguous_negative_or_out_of_range_amounts_are_rejected(text: str, fragment: str) -> None:
    problem = _budget(text)
    assert isinstance(problem, RecordProblem), f"{text!r} read as {problem.budget_value}"
    assert problem.field == "budget"
    assert problem.message.startswith(repr(text)) and fragment in problem.message
    assert problem.describe("x.csv").startswith("x.csv: row 7 (P-7), field 'budget': ")


def test_an_out_of_range_budget_rejects_the_row_and_the_others_load(home: Home) -> None:
    path = drop(
        home,
        "undp",
        "big.csv",
        "programme_id,title,budget,currency\nP-9,Legal aid,25000000000000000,VND\nP-10,Water,1.5E+06,USD\n",
    )
    result = ingest_file(path, home, agency="undp")
    assert (result.state, result.rows_loaded, result.rows_rejected) == ("loaded", 1, 1)
    [programme] = pq.read_table(next((home.raw / "programmes").glob("2*.parquet"))).to_pylist()
    assert (programme["programme_id"], programme["budget_value"]) == ("P-10", 1_500_000.0)
    rejected = json.loads(next(home.quarantine.glob("*big.csv.rejected.json")).read_text())
    [message] = [problem["message_for_agency"] for problem in rejected["problems"]]
    assert message.startswith("big.csv: row 1 (P-9), field 'budget': '25000000000000000' ")
    assert "too large" in message


def test_the_most_specific_header_names_a_column_when_several_could(home: Home) -> None:
    """A row counter headed "ID" beside "Programme ID" must not become the programme id: numbered 1, 2, ... such ids
    would collide with every other agency's counters."""
    path = drop(home, "undp", "ids.csv", "ID,Programme ID,Title,Budget\n1,UNDP-KE-00123,Legal aid,1000\n")
    result = ingest_file(path, home, agency="undp")
    assert result.state == "loaded"
    [row] = pq.read_table(next((home.raw / "programmes").glob("2*.parquet"))).to_pylist()
    assert row["programme_id"] == "UNDP-KE-00123"


@pytest.mark.parametrize(
    ("budget", "currency", "expected"),
    [
        ("EUR 1000", None, (1000.0, "EUR")),
        ("1,000 USD", "usd", (1000.0, "USD")),
        ("1000", "USD", (1000.0, "USD")),
        ("1000", None, (1000.0, None)),
    ],
)
def test_a_currency_written_in_the_amount_is_kept(budget: str, currency: str | None, expected: tuple) -> None:
    record = row_to_record(
        3, {"programme_id": "P-3", "title": "Legal aid", "budget": budget, "currency": currency}, "undp"
    )
    assert isinstance(record, ProgrammeRecord)
    assert (record.budget_value, record.budget_currency) == expected


def test_a_currency_in_the_amount_that_contradicts_the_currency_column_rejects_the_row() -> None:
    problem = row_to_record(
        3, {"programme_id": "P-3", "title": "Aid", "budget": "1,000 EUR", "currency": "USD"}, "undp"
    )
    assert isinstance(problem, RecordProblem)
    assert (problem.record_number, problem.field) == (3, "currency")
    assert "USD does not match" in problem.message and "1,000 EUR" in problem.message


def test_a_programme_id_is_kept_as_written_only_trimmed() -> None:
    record = row_to_record(1, {"programme_id": "  UNDP  KE 001 ", "title": "Legal  aid"}, "undp")
    assert isinstance(record, ProgrammeRecord)
    assert (record.programme_id, record.title) == ("UNDP  KE 001", "Legal aid")
