"""Tabular extracts (CSV, JSON, Excel) become programme records, or problems naming row and field."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from ingest.drops import ingest_file
from mainstream.home import Home
from mainstream.ledger import Ledger
from tests.helpers import drop

HEADER = "programme_id,title,description,countries,sectors,sdg_targets,start_date,end_date,budget,currency,humanitarian,gender_marker\n"


def _programmes(home: Home) -> list[dict]:
    files = sorted((home.raw / "programmes").glob("2*.parquet"))
    return [row for path in files for row in pq.read_table(path).to_pylist()]


def _codes(home: Home) -> list[dict]:
    files = sorted((home.raw / "programme_codes").glob("2*.parquet"))
    return [row for path in files for row in pq.read_table(path).to_pylist()]


def test_clean_csv_is_loaded_with_lineage_and_codes(home: Home) -> None:
    path = drop(
        home,
        "undp",
        "extract.csv",
        HEADER
        + 'P-1,Legal aid for women,Access to justice,KE;UG,15130;15160,16.3,2024-01-05,2025-12-31,"1,200.50",usd,no,2\n',
    )
    result = ingest_file(path, home, agency="undp")
    assert result.state == "loaded"
    assert result.rows_loaded == 1
    [programme] = _programmes(home)
    assert programme["programme_id"] == "P-1"
    assert programme["agency_ref"] == "undp"
    assert programme["budget_value"] == 1200.50
    assert programme["budget_currency"] == "USD"
    assert programme["humanitarian_flag"] is False
    assert programme["extract_id"] == result.extract_id
    assert programme["source_file"] == "extract.csv"
    assert programme["record_number"] == 1
    assert programme["content_hash"] == result.content_hash
    codes = {(code["code_type"], code["vocabulary"], code["code"], code["significance"]) for code in _codes(home)}
    assert codes == {
        ("recipient_country", "ISO3166-1", "KE", None),
        ("recipient_country", "ISO3166-1", "UG", None),
        ("sector", "1", "15130", None),
        ("sector", "1", "15160", None),
        ("tag", "3", "16.3", None),
        ("policy_marker", "1", "1", "2"),
    }
    assert not path.exists(), "a loaded drop leaves landing/"
    assert Path(result.stored_path).parent.parent == home.archive


def test_bad_rows_are_rejected_with_file_row_and_field_and_the_rest_load(home: Home) -> None:
    path = drop(
        home,
        "unicef",
        "messy.csv",
        HEADER
        + "A,Good row,,KE,,,2024-01-01,,,,,\n"
        + "B,,no title,KE,,,,,,,,\n"
        + "C,Bad date,,KE,,,31/31/2024,,,,,\n"
        + "D,Bad country,,KEN,,,,,,,,\n"
        + "E,Bad budget,,KE,,,,,lots,,,\n"
        + "A,Repeated id,,KE,,,,,,,,\n",
    )
    result = ingest_file(path, home, agency="unicef")
    assert result.state == "loaded"
    assert (result.rows_loaded, result.rows_rejected) == (1, 5)
    rejected = json.loads(next(home.quarantine.glob("*messy.csv.rejected.json")).read_text())
    where = {(problem["record_number"], problem["field"]) for problem in rejected["problems"]}
    assert where == {(2, "title"), (3, "start_date"), (4, "countries"), (5, "budget"), (6, "programme_id")}
    messages = [problem["message_for_agency"] for problem in rejected["problems"]]
    assert "messy.csv: row 3 (C), field 'start_date': '31/31/2024' is not a date (use YYYY-MM-DD)" in messages
    assert "row 2" in result.reason and "title" in result.reason


def test_header_aliases_semicolons_and_latin1_are_understood(home: Home) -> None:
    content = "Project ID;Project Title;Country;Budget\nX-1;Éducation des filles;SN;1.234,50\n"
    path = drop(home, "unesco", "export.csv", content.encode("latin-1"))
    result = ingest_file(path, home, agency="unesco")
    assert result.state == "loaded", result.reason
    [programme] = _programmes(home)
    assert programme["title"] == "Éducation des filles"
    assert programme["budget_value"] == 1234.50


def test_missing_required_column_quarantines_the_file_with_its_reason(home: Home) -> None:
    path = drop(home, "undp", "no_ids.csv", "title,description\nA title,text\n")
    result = ingest_file(path, home, agency="undp")
    assert result.state == "quarantined"
    assert "required column(s) programme_id missing" in result.reason
    reason = json.loads(next(home.quarantine.glob("*no_ids.csv.reason.json")).read_text())
    assert reason["file"] == "no_ids.csv" and "programme_id" in reason["reason"]
    assert Path(result.stored_path).exists() and not path.exists()


def test_tabular_file_without_agency_folder_is_quarantined(home: Home) -> None:
    path = home.landing / "orphan.csv"
    path.write_text(HEADER + "A,T,,,,,,,,,,\n")
    result = ingest_file(path, home, agency=None)
    assert result.state == "quarantined"
    assert "landing/<agency>/" in result.reason


def test_json_records_and_ndjson_load(home: Home) -> None:
    records = [
        {"id": "J-1", "title": "Child protection", "countries": ["KE", "TZ"], "budget": 10},
        {"id": "J-2", "title": "Water supply", "countries": "UG"},
    ]
    array_path = drop(home, "unicef", "extract.json", json.dumps(records))
    assert ingest_file(array_path, home, agency="unicef").rows_loaded == 2
    lines_path = drop(
        home, "unicef", "extract.ndjson", "\n".join(json.dumps(r | {"id": r["id"] + "b"}) for r in records)
    )
    assert ingest_file(lines_path, home, agency="unicef").rows_loaded == 2
    countries = sorted(code["code"] for code in _codes(home) if code["programme_id"] == "J-1")
    assert countries == ["KE", "TZ"]


def test_excel_extract_loads_first_sheet(home: Home, tmp_path: Path) -> None:
    openpyxl = pytest.importorskip("openpyxl")
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    sheet.append(["Programme ID", "Title", "Start date", "Budget"])
    sheet.append(["XL-1", "Legal aid", "2024-02-01", 5000])
    sheet.append([None, None, None, None])
    sheet.append(["XL-2", "Elections support", None, 12.5])
    path = home.landing / "undp" / "extract.xlsx"
    path.parent.mkdir(parents=True)
    workbook.save(path)
    result = ingest_file(path, home, agency="undp")
    assert (result.state, result.rows_loaded) == ("loaded", 2)
    assert {row["programme_id"]: row["budget_value"] for row in _programmes(home)} == {"XL-1": 5000.0, "XL-2": 12.5}


def test_same_file_dropped_twice_loads_nothing_new(home: Home) -> None:
    content = HEADER + "A,T,,,,,,,,,,\n"
    first = ingest_file(drop(home, "undp", "a.csv", content), home, agency="undp")
    second = ingest_file(drop(home, "undp", "a-again.csv", content), home, agency="undp")
    assert first.state == "loaded" and second.state == "duplicate"
    assert second.rows_loaded == 0 and first.extract_id in second.reason
    assert len(_programmes(home)) == 1
    assert Path(second.stored_path).exists(), "a duplicate is archived, not deleted"
    states = sorted(row["state"] for row in Ledger(home.state_db).recent_drops())
    assert states == ["duplicate", "loaded"]


def test_unsupported_and_corrupt_files_are_quarantined_never_lost(home: Home) -> None:
    pdf = drop(home, "undp", "report.pdf", b"%PDF-1.4 binary")
    xlsx = drop(home, "undp", "broken.xlsx", b"not a zip file")
    for path in (pdf, xlsx):
        result = ingest_file(path, home, agency="undp")
        assert result.state == "quarantined"
        assert path.name in result.reason
        assert Path(result.stored_path).exists()
        assert Path(result.stored_path + ".reason.json").exists()
    assert not list(home.landing.rglob("*.*"))


def test_files_outside_landing_are_copied_not_moved(home: Home, tmp_path: Path) -> None:
    outside = tmp_path / "backfill" / "undp" / "old.csv"
    outside.parent.mkdir(parents=True)
    outside.write_text(HEADER + "A,T,,,,,,,,,,\n")
    result = ingest_file(outside, home, agency="undp")
    assert result.state == "loaded"
    assert outside.exists(), "a backfill source is left where it was"
    assert Path(result.stored_path).read_text() == outside.read_text()


def test_claimed_file_keeps_the_agency_given_name(home: Home) -> None:
    claimed = home.claimed / "undp" / "0123456789ab__extract.csv"
    claimed.parent.mkdir(parents=True)
    claimed.write_text(HEADER + "A,T,,,,,,,,,,\n")
    result = ingest_file(claimed, home, agency="undp")
    assert result.file_name == "extract.csv"
    assert Path(result.stored_path).name == f"{result.extract_id}__extract.csv"
    assert not claimed.exists()


def test_json_string_with_a_lone_surrogate_rejects_that_row_only(home: Home) -> None:
    path = drop(
        home,
        "undp",
        "surrogate.json",
        '[{"programme_id":"P-1","title":"Youth voices \\ud83d"},{"programme_id":"P-2","title":"ok"}]',
    )
    result = ingest_file(path, home, agency="undp")
    assert (result.state, result.rows_loaded, result.rows_rejected) == ("loaded", 1, 1)
    assert [row["programme_id"] for row in _programmes(home)] == ["P-2"]
    rejected = json.loads(next(home.quarantine.glob("*surrogate.json.rejected.json")).read_text())
    [message] = [problem["message_for_agency"] for problem in rejected["problems"]]
    assert message.startswith("surrogate.json: row 1 (P-1), field 'title': ") and "\\ud83d" in message


def test_a_single_json_object_with_the_record_fields_is_one_record(home: Home) -> None:
    path = drop(home, "undp", "single.json", '{"programme_id":"P-1","title":"Legal aid","countries":["KE","UG"]}\n')
    result = ingest_file(path, home, agency="undp")
    assert (result.state, result.rows_loaded) == ("loaded", 1), result.reason
    assert sorted(code["code"] for code in _codes(home)) == ["KE", "UG"]


def test_ndjson_lines_are_split_on_newlines_only(home: Home) -> None:
    path = drop(
        home,
        "undp",
        "ls.ndjson",
        '{"programme_id":"P-1","title":"A line\u2028sep"}\n{"programme_id":"P-2","title":"B"}\n',
    )
    result = ingest_file(path, home, agency="undp")
    assert (result.state, result.rows_loaded) == ("loaded", 2), result.reason
    # Whitespace inside text (U+2028 included) is collapsed to one space, as in every other field.
    assert {row["programme_id"]: row["title"] for row in _programmes(home)}["P-1"] == "A line sep"


def test_typed_json_numbers_are_amounts_as_they_are(home: Home) -> None:
    records = [
        {"programme_id": "P-1", "title": "A", "budget": 2.125},
        {"programme_id": "P-2", "title": "B", "budget": 1e20},
    ]
    result = ingest_file(drop(home, "undp", "typed.json", json.dumps(records)), home, agency="undp")
    assert (result.rows_loaded, result.rows_rejected) == (1, 1)
    assert [(row["programme_id"], row["budget_value"]) for row in _programmes(home)] == [("P-1", 2.125)]


def test_excel_duplicate_header_keeps_the_first_column(home: Home) -> None:
    openpyxl = pytest.importorskip("openpyxl")
    workbook = openpyxl.Workbook()
    workbook.active.append(["programme_id", "title", "title"])
    workbook.active.append(["P-1", "First title", "Second title"])
    path = home.landing / "undp" / "duphdr.xlsx"
    path.parent.mkdir(parents=True)
    workbook.save(path)
    result = ingest_file(path, home, agency="undp")
    assert (result.state, result.rows_loaded) == ("loaded", 1), result.reason
    assert [row["title"] for row in _programmes(home)] == ["First title"]
