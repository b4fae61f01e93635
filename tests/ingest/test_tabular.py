"""Tabular extracts (CSV, JSON, Excel) become programme records, or problems naming row and field."""

from __future__ import annotations

import json
import logging
import zipfile
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from ingest.drops import ingest_file
from ingest.tabular import _delimiter_the_header_uses
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


def test_a_budget_without_a_currency_is_loaded_with_a_note_naming_the_row(home: Home) -> None:
    content = "programme_id,title,budget,currency\nP-1,With,100,USD\nP-2,Without,250,\nP-2,Again,300,\n"
    path = drop(home, "undp", "budgets.csv", content)
    result = ingest_file(path, home, agency="undp")
    assert result.state == "loaded" and (result.rows_loaded, result.rows_rejected) == (2, 1)
    # The repeated id is rejected as a duplicate, without a note for a budget that is not loaded.
    assert "row 3 (P-2), field 'programme_id': duplicate" in result.reason
    assert "row 3 (P-2), field 'currency'" not in result.reason
    assert {programme["programme_id"]: programme["budget_value"] for programme in _programmes(home)} == {
        "P-1": 100,
        "P-2": 250,
    }
    assert "budgets.csv: row 2 (P-2), field 'currency': the budget has no currency" in result.reason
    assert "counts in no USD budget total" in result.reason and "P-1" not in result.reason


def test_an_agency_the_warehouse_does_not_know_loads_with_a_note_suggesting_the_known_one(home: Home) -> None:
    path = drop(home, "unpd", "typo.csv", "programme_id,title\nP-1,Legal aid\n")
    result = ingest_file(path, home, agency="unpd")
    assert result.state == "loaded" and result.rows_loaded == 1
    assert "agency 'unpd' is not one the warehouse knows (closest: " in result.reason
    assert "undp" in result.reason.split("(closest: ")[1].split(")")[0]
    assert "retract this extract" in result.reason
    known = drop(home, "undp", "known.csv", "programme_id,title\nP-2,Legal aid\n")
    assert ingest_file(known, home, agency="undp").reason is None
    # An agency given as its IATI organisation reference is that agency.
    by_ref = drop(home, "xm-dac-41114", "by_ref.csv", "programme_id,title\nP-3,Legal aid\n")
    assert ingest_file(by_ref, home, agency="xm-dac-41114").reason is None


def test_header_aliases_semicolons_and_latin1_are_understood(home: Home) -> None:
    content = "Project ID;Project Title;Country;Budget\nX-1;Éducation des filles;SN;1.234,50\n"
    path = drop(home, "unesco", "export.csv", content.encode("latin-1"))
    result = ingest_file(path, home, agency="unesco")
    assert result.state == "loaded", result.reason
    [programme] = _programmes(home)
    assert programme["title"] == "Éducation des filles"
    assert programme["budget_value"] == 1234.50


def test_a_semicolon_file_whose_texts_are_full_of_commas_is_read_by_its_header(home: Home) -> None:
    # DuckDB's sniffer alone picks the comma here (8 per row against 3 semicolons), making the header one column.
    rows = "".join(f"P-{n};Legal aid, for women, girls;Text, with, commas, many, more, and more;KE\n" for n in range(5))
    path = drop(home, "undp", "semi.csv", "programme_id;title;description;countries\n" + rows)
    result = ingest_file(path, home, agency="undp")
    assert result.state == "loaded", result.reason
    assert result.rows_loaded == 5
    first = min(_programmes(home), key=lambda programme: programme["programme_id"])
    assert first["title"] == "Legal aid, for women, girls"
    assert first["description"] == "Text, with, commas, many, more, and more"


@pytest.mark.parametrize(
    ("header", "sniffed", "chosen"),
    [
        ("programme_id;title;description;countries", ",", ";"),  # the sniffer's pick names no required column
        ("programme_id;title;description, long;countries", ",", ";"),  # a name holding the sniffed delimiter
        ("programme_id|title|description", ",", "|"),
        ('"programme_id";"title"', ",", ";"),
        ("programme_id,title,notes (a|b|c|d|e)", ",", ","),  # right already: more pipes than commas change nothing
        ("id_only", ",", ","),  # no delimiter names the required columns: the sniffer's stays
    ],
)
def test_the_header_decides_the_delimiter_when_the_sniffer_s_pick_misses_the_required_columns(
    tmp_path: Path, header: str, sniffed: str, chosen: str
) -> None:
    source = tmp_path / "x.csv"
    source.write_text("\n" + header + "\r\nP-1,Text, with, commas\n", encoding="utf-8-sig")
    assert _delimiter_the_header_uses(source, sniffed) == chosen


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


def test_a_claimed_file_s_reasons_name_the_file_as_the_agency_dropped_it(home: Home) -> None:
    """The watcher's "<uuid12>__" prefix is not a name the agency gave: its reasons must not use it."""
    claimed = home.claimed / "undp" / "0123456789ab__broken.csv"
    claimed.parent.mkdir(parents=True)
    claimed.write_text("programme_id,colour\nP-1,red\n")
    quarantined = ingest_file(claimed, home, agency="undp")
    assert quarantined.state == "quarantined"
    assert quarantined.reason.startswith("broken.csv: ") and "0123456789ab__" not in quarantined.reason
    partly = home.claimed / "undp" / "0123456789ab__partly.csv"
    partly.write_text("programme_id,title\nP-1,Legal aid\n,No id\n")
    loaded = ingest_file(partly, home, agency="undp")
    assert loaded.state == "loaded" and "partly.csv: row 2" in loaded.reason and "0123456789ab__" not in loaded.reason


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


def test_a_json_wrapper_whose_own_keys_look_like_record_fields_still_yields_its_records(home: Home) -> None:
    """``id`` and ``name`` are aliases of programme_id and title: the wrapper must not become a programme."""
    document = {
        "id": "undp-export-2026-q3",
        "name": "UNDP programme export Q3",
        "programmes": [{"programme_id": "P-1", "title": "Legal aid"}, {"programme_id": "P-2", "title": "Water"}],
    }
    result = ingest_file(drop(home, "undp", "export.json", json.dumps(document)), home, agency="undp")
    assert (result.state, result.rows_loaded) == ("loaded", 2), result.reason
    assert sorted(row["programme_id"] for row in _programmes(home)) == ["P-1", "P-2"]


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


def test_ndjson_problems_name_the_line_the_record_is_on(home: Home) -> None:
    """Blank lines are skipped, so a record's number is its line, where the agency looks for it."""
    text = '{"programme_id":"P-1","title":"A"}\n\n\n{"programme_id":"P-2","title":"B","start_date":"31/31/2024"}\n'
    result = ingest_file(drop(home, "undp", "gaps.ndjson", text), home, agency="undp")
    assert (result.state, result.rows_loaded, result.rows_rejected) == ("loaded", 1, 1), result.reason
    assert "row 4 (P-2), field 'start_date'" in result.reason
    truncated = ingest_file(drop(home, "undp", "cut.ndjson", '{"programme_id":"P-3","ti'), home, agency="undp")
    assert truncated.state == "quarantined"
    assert "line 1, column" in truncated.reason and "is not an object" not in truncated.reason


def test_an_ndjson_line_that_is_not_json_rejects_that_record_only(home: Home) -> None:
    text = (
        '{"programme_id":"P-1","title":"A"}\n'
        '{"programme_id":"P-2","title":"B"\n'  # a brace lost in an export
        '{"programme_id":"P-3","title":"C"}\n'
    )
    result = ingest_file(drop(home, "undp", "lost.ndjson", text), home, agency="undp")
    assert (result.state, result.rows_loaded, result.rows_rejected) == ("loaded", 2, 1), result.reason
    assert sorted(programme["programme_id"] for programme in _programmes(home)) == ["P-1", "P-3"]
    assert "lost.ndjson: row 2, field '(record)': is not JSON (column" in result.reason
    # A JSON document (its first line is no object) broken further down is quarantined whole, naming where.
    broken = '[{"programme_id":"P-4","title":"D"}]\n}\n'
    document = ingest_file(drop(home, "undp", "broken.json", broken), home, agency="undp")
    assert document.state == "quarantined" and "not JSON (line 2" in document.reason


def test_a_date_with_an_implausible_year_rejects_its_row_naming_it(home: Home) -> None:
    text = "programme_id,title,start_date\nP-1,A,2021-03-01\nP-2,B,0201-03-01\n"
    result = ingest_file(drop(home, "undp", "years.csv", text), home, agency="undp")
    assert (result.state, result.rows_loaded, result.rows_rejected) == ("loaded", 1, 1), result.reason
    assert "row 2 (P-2), field 'start_date': '0201-03-01' has the year 201, outside 1945-2100" in result.reason


def test_a_country_code_the_warehouse_does_not_know_rejects_its_row(home: Home) -> None:
    """Shape alone let "XX" through, and coverage gained a country XX; XK (Kosovo, used by publishers) is known."""
    text = "programme_id,title,countries\nP-1,A,KE;XK\nP-2,B,KE;XX\n"
    result = ingest_file(drop(home, "undp", "countries.csv", text), home, agency="undp")
    assert (result.state, result.rows_loaded, result.rows_rejected) == ("loaded", 1, 1), result.reason
    assert "row 2 (P-2), field 'countries': 'XX' is not an ISO 3166-1 alpha-2 country code" in result.reason


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


# ------------------------------------------------------------------------------------------ CSV quoting, rows, bytes


def _rejected(home: Home, name: str) -> list[dict]:
    return json.loads(next(home.quarantine.glob(f"*{name}.rejected.json")).read_text())["problems"]


def test_a_stray_quote_rejects_only_its_row_and_quoted_commas_stay_in_their_field(home: Home) -> None:
    content = (
        "programme_id,title,countries,description\n"
        'P-1,"Legal aid",KE,"Legal aid, shelters and hotlines"\n'
        'P-2,"The "Safe Cities" programme",UG,"Safe public spaces"\n'
        'P-3,"Schools",TZ,"Education, including for girls"\n'
    )
    result = ingest_file(drop(home, "undp", "quoted.csv", content), home, agency="undp")
    assert (result.state, result.rows_loaded, result.rows_rejected) == ("loaded", 2, 1), result.reason
    loaded = {row["programme_id"]: (row["title"], row["description"]) for row in _programmes(home)}
    assert loaded == {
        "P-1": ("Legal aid", "Legal aid, shelters and hotlines"),
        "P-3": ("Schools", "Education, including for girls"),
    }
    [problem] = _rejected(home, "quoted.csv")
    assert (problem["record_number"], problem["field"]) == (2, "title")
    assert problem["message_for_agency"].startswith("quoted.csv: row 2, field 'title': ")
    assert '""' in problem["message"], "the message says how to write a quote inside a quoted value"


def test_well_quoted_rows_before_a_stray_quote_are_not_rejected(home: Home) -> None:
    content = "programme_id,title,description,countries\n" + "".join(
        f'P-{number},"Title {number}","Legal aid, shelters",KE\n' for number in range(1, 6)
    )
    content += 'P-6,"The "Safe Cities" programme","ok",UG\n'
    result = ingest_file(drop(home, "undp", "quoted2.csv", content), home, agency="undp")
    assert (result.state, result.rows_loaded, result.rows_rejected) == ("loaded", 5, 1), result.reason
    assert {row["description"] for row in _programmes(home)} == {"Legal aid, shelters"}
    assert [(problem["record_number"], problem["field"]) for problem in _rejected(home, "quoted2.csv")] == [
        (6, "title")
    ]


def test_row_numbers_stay_right_after_rows_the_csv_reader_rejects(home: Home) -> None:
    lines = [f'P-{number},"Title {number}",2024-01-01' for number in range(1, 25_001)]
    lines[20_999] = 'P-21000,"The "Safe" programme",2024-01-01'
    lines[21_999] = 'P-22000,"Title 22000",31/31/2024'
    path = drop(home, "undp", "late_bad.csv", "programme_id,title,start_date\n" + "\n".join(lines) + "\n")
    result = ingest_file(path, home, agency="undp")
    assert (result.rows_loaded, result.rows_rejected) == (24_998, 2), result.reason
    messages = [problem["message_for_agency"] for problem in _rejected(home, "late_bad.csv")]
    assert messages[0].startswith("late_bad.csv: row 21000, field 'title': ")
    assert (
        messages[1]
        == "late_bad.csv: row 22000 (P-22000), field 'start_date': '31/31/2024' is not a date (use YYYY-MM-DD)"
    )
    numbers = {row["programme_id"]: row["record_number"] for row in _programmes(home)}
    assert all(numbers[f"P-{number}"] == number for number in (1, 20_999, 21_001, 21_999, 22_001, 25_000))


def test_row_numbers_count_blank_lines_and_not_line_breaks_inside_quotes(home: Home) -> None:
    content = (
        "programme_id,title,description\r\n"
        "P-1,Legal aid,x\r\n"
        'P-2,Schools,"First paragraph.\r\n\r\nSecond paragraph."\r\n'
        "\r\n"
        'P-4,"Bad "quote"",y\r\n'
        "P-5,Water,z\r\n"
        "P-6,,no title\r\n"
    )
    result = ingest_file(drop(home, "undp", "blank.csv", content), home, agency="undp")
    assert (result.rows_loaded, result.rows_rejected) == (3, 2), result.reason
    numbers = {row["programme_id"]: row["record_number"] for row in _programmes(home)}
    assert numbers == {"P-1": 1, "P-2": 2, "P-5": 5}
    assert [(problem["record_number"], problem["field"]) for problem in _rejected(home, "blank.csv")] == [
        (4, "title"),
        (6, "title"),
    ]
    [description] = [row["description"] for row in _programmes(home) if row["programme_id"] == "P-2"]
    assert description == "First paragraph. Second paragraph."


def test_a_windows_1252_csv_loads_as_written(home: Home) -> None:
    # Bytes 0x92, 0x93, 0x94 and 0x80: curly quotes and the euro sign, which Latin-1 does not have.
    title, description = "Women\u2019s legal aid", "Café \u201cquoted\u201d € 100"
    content = f"programme_id,title,description\nP-1,{title},{description}\n"
    result = ingest_file(drop(home, "undp", "cp1252.csv", content.encode("cp1252")), home, agency="undp")
    assert (result.state, result.rows_loaded) == ("loaded", 1), result.reason
    [programme] = _programmes(home)
    assert (programme["title"], programme["description"]) == (title, description)
    # Reading as Windows-1252 is a guess: the drop says so, so an agency whose file was Cyrillic or Mac can tell.
    assert "cp1252.csv: read as Windows-1252" in result.reason and "save it as CSV UTF-8" in result.reason


def test_a_utf8_csv_carries_no_encoding_note(home: Home) -> None:
    result = ingest_file(drop(home, "undp", "utf8.csv", "programme_id,title\nP-1,Café\n"), home, agency="undp")
    assert (result.state, result.reason) == ("loaded", None)


def test_windows_1252_text_holding_a_valid_utf8_byte_pair_by_chance_is_not_called_mixed(home: Home) -> None:
    # "É" then a closing curly quote is C9 94 in Windows-1252, a valid UTF-8 pair; the file is Windows-1252 only.
    title, description = "Campagne \u201c\u00c9GALIT\u00c9\u201d", "Women\u2019s rights"
    content = f"programme_id,title,description\nP-1,{title},{description}\n".encode("cp1252")
    assert b"\xc9\x94" in content
    result = ingest_file(drop(home, "undp", "egalite.csv", content), home, agency="undp")
    assert (result.state, result.rows_loaded) == ("loaded", 1), result.reason
    [programme] = _programmes(home)
    assert (programme["title"], programme["description"]) == (title, description)


def test_a_csv_mixing_utf8_and_another_encoding_is_quarantined_naming_the_line(home: Home) -> None:
    content = (
        "programme_id,title,description\nP-1,Café for women,Droits des réfugiés\n".encode() + b"P-2,Caf\xe9 2,ok\n"
    )
    result = ingest_file(drop(home, "undp", "mixed.csv", content), home, agency="undp")
    assert result.state == "quarantined"
    assert "mixed.csv" in result.reason and "line 3" in result.reason and "0xe9" in result.reason
    assert "save the file as UTF-8" in result.reason
    assert _programmes(home) == []


def test_a_csv_in_neither_utf8_nor_windows_1252_is_quarantined_naming_the_line(home: Home) -> None:
    content = b"programme_id,title\nP-1,Legal aid\nP-2,Water \x81 supply\n"
    result = ingest_file(drop(home, "undp", "odd.csv", content), home, agency="undp")
    assert result.state == "quarantined"
    assert "line 3" in result.reason and "0x81" in result.reason and "UTF-8" in result.reason


def test_a_field_of_several_megabytes_loads(home: Home) -> None:
    content = f"programme_id,title,description\nP-1,A,short\nP-2,B,{'x' * 3_000_000}\nP-3,C,short\n"
    result = ingest_file(drop(home, "undp", "longfield.csv", content), home, agency="undp")
    assert (result.state, result.rows_loaded, result.rows_rejected) == ("loaded", 3, 0), result.reason
    assert {row["programme_id"]: len(row["description"]) for row in _programmes(home)}["P-2"] == 3_000_000


def test_a_line_over_the_size_limit_is_named_with_its_line_and_cause(
    home: Home, monkeypatch: pytest.MonkeyPatch
) -> None:
    from ingest import tabular

    monkeypatch.setattr(tabular, "CSV_MAX_LINE_BYTES", 1 << 20)
    content = f"programme_id,title,description\nP-1,A,short\nP-2,B,{'x' * 1_500_000}\nP-3,C,short\n"
    result = ingest_file(drop(home, "undp", "toolong.csv", content), home, agency="undp")
    assert result.state == "quarantined"
    assert result.reason.startswith("toolong.csv: line 3 is longer than 1 MiB"), result.reason


def test_a_quote_never_closed_quarantines_the_file_naming_its_line(home: Home) -> None:
    content = 'programme_id,title,start_date\nP-1,A,2024-01-01\nP-2,"B unterminated,2024-01-01\nP-3,C,2024-01-01\n'
    result = ingest_file(drop(home, "undp", "unterm.csv", content), home, agency="undp")
    assert result.state == "quarantined"
    assert result.reason.startswith("unterm.csv: the quoted value that starts on line 3 is never closed"), result.reason


def test_row_numbers_after_a_malformed_value_spanning_lines_follow_duckdb(tmp_path: Path) -> None:
    from ingest.tabular import read_tabular

    path = tmp_path / "spanning.csv"
    path.write_text('programme_id,title\nP-1,"ok\nmulti"\nP-2,"bad\n2nd "q" x\nP-3,Three\n\nP-5,Five\n')
    table = read_tabular(path, "csv")
    assert [(number, row["programme_id"]) for number, row in table.rows] == [(1, "P-1"), (3, "P-3"), (5, "P-5")]
    assert [(problem.record_number, problem.field) for problem in table.problems] == [(2, "title")]


# ------------------------------------------------------------------------------------------ Excel sheets and cells


def _save_workbook(home: Home, workbook: object, name: str) -> Path:
    path = home.landing / "undp" / name
    path.parent.mkdir(parents=True, exist_ok=True)
    workbook.save(path)  # type: ignore[attr-defined]
    return path


def _rewrite_sheet_xml(path: Path, old: str, new: str, member: str = "xl/worksheets/sheet1.xml") -> None:
    """Replace ``old`` by ``new`` in one part of the workbook, as some export tools write it."""
    with zipfile.ZipFile(path) as source:
        parts = [(item, source.read(item)) for item in source.infolist()]
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as target:
        for item, data in parts:
            if item.filename == member:
                assert old.encode() in data, f"{old} is not in {member}"
                data = data.replace(old.encode(), new.encode())
            target.writestr(item, data)


def _programme_workbook(rows: int = 5) -> object:
    openpyxl = pytest.importorskip("openpyxl")
    workbook = openpyxl.Workbook()
    workbook.active.append(["programme_id", "title", "countries", "budget"])
    for number in range(1, rows + 1):
        workbook.active.append([f"P-{number}", f"Programme {number}", "KE", 1000 * number])
    return workbook


@pytest.mark.parametrize("wrong", ["A1:B2", "A1"])
def test_an_excel_sheet_whose_dimension_tag_is_wrong_loads_every_row_and_column(home: Home, wrong: str) -> None:
    path = _save_workbook(home, _programme_workbook(), "dimension.xlsx")
    _rewrite_sheet_xml(path, '<dimension ref="A1:D6"/>', f'<dimension ref="{wrong}"/>')
    result = ingest_file(path, home, agency="undp")
    assert (result.state, result.rows_loaded, result.rows_rejected) == ("loaded", 5, 0), result.reason
    budgets = {row["programme_id"]: row["budget_value"] for row in _programmes(home)}
    assert budgets == {f"P-{number}": 1000.0 * number for number in range(1, 6)}
    assert sorted(code["programme_id"] for code in _codes(home)) == [f"P-{number}" for number in range(1, 6)]


def test_trailing_empty_excel_rows_and_columns_are_not_read_as_columns_or_rows(tmp_path: Path) -> None:
    from openpyxl.styles import Font

    from ingest.tabular import read_tabular

    workbook = _programme_workbook(rows=2)
    sheet = workbook.active  # type: ignore[attr-defined]
    # Formatted but empty cells right of and below the table, as Excel keeps them after values are deleted.
    for reference in ("E1", "F1", "F2", "A9", "F12"):
        sheet[reference].font = Font(bold=True)
    sheet["B11"] = "   "
    path = tmp_path / "trailing.xlsx"
    workbook.save(path)  # type: ignore[attr-defined]
    table = read_tabular(path, "excel")
    assert table.headers == ["programme_id", "title", "countries", "budget"]
    assert [(number, row["programme_id"]) for number, row in table.rows] == [(1, "P-1"), (2, "P-2")]
    assert table.problems == []


def test_an_excel_value_in_a_column_without_a_header_is_kept_under_an_empty_column_name(tmp_path: Path) -> None:
    """As with a correct dimension tag: the column is in the table, and the loader logs it as ignored."""
    from ingest.tabular import read_tabular

    workbook = _programme_workbook(rows=2)
    workbook.active["F3"] = "a note"  # type: ignore[attr-defined]
    path = tmp_path / "note.xlsx"
    workbook.save(path)  # type: ignore[attr-defined]
    _rewrite_sheet_xml(path, '<dimension ref="A1:F3"/>', '<dimension ref="A1"/>')
    table = read_tabular(path, "excel")
    assert table.headers == ["programme_id", "title", "countries", "budget", ""]
    assert [row.get("") for _, row in table.rows] == [None, "a note"]


def test_an_excel_table_not_starting_in_a1_is_quarantined_saying_so(home: Home) -> None:
    openpyxl = pytest.importorskip("openpyxl")
    workbook = openpyxl.Workbook()
    workbook.active["B2"], workbook.active["C2"] = "programme_id", "title"
    workbook.active["B3"], workbook.active["C3"] = "P-1", "Legal aid"
    result = ingest_file(_save_workbook(home, workbook, "b2.xlsx"), home, agency="undp")
    assert result.state == "quarantined"
    assert "b2.xlsx" in result.reason
    assert "the header row is empty or the table does not start in cell A1" in result.reason, result.reason


def _two_sheet_workbook(first_state: str, active: int) -> object:
    openpyxl = pytest.importorskip("openpyxl")
    workbook = openpyxl.Workbook()
    old = workbook.active
    old.title = "old"
    old.append(["programme_id", "title"])
    old.append(["OLD-1", "Superseded programme"])
    current = workbook.create_sheet("programmes")
    current.append(["programme_id", "title"])
    current.append(["P-1", "Legal aid"])
    old.sheet_state = first_state
    workbook.active = active  # an index: openpyxl lets it name a hidden sheet, as some tools write
    return workbook


@pytest.mark.parametrize("active", [1, 0], ids=["active-visible", "active-hidden"])
def test_excel_reads_the_visible_sheet_not_a_hidden_first_one(home: Home, active: int) -> None:
    path = _save_workbook(home, _two_sheet_workbook("hidden", active), "hidden_first.xlsx")
    result = ingest_file(path, home, agency="undp")
    assert (result.state, result.rows_loaded) == ("loaded", 1), result.reason
    assert [row["programme_id"] for row in _programmes(home)] == ["P-1"]


def test_excel_reads_the_active_sheet_and_warns_naming_the_visible_sheets_it_skipped(
    home: Home, caplog: pytest.LogCaptureFixture
) -> None:
    workbook = _two_sheet_workbook("visible", 1)
    workbook.create_sheet("notes")  # type: ignore[attr-defined]  # empty: not worth a word
    path = _save_workbook(home, workbook, "two_sheets.xlsx")
    with caplog.at_level(logging.WARNING, logger="ingest.tabular"):
        result = ingest_file(path, home, agency="undp")
    assert (result.state, result.rows_loaded) == ("loaded", 1), result.reason
    assert [row["programme_id"] for row in _programmes(home)] == ["P-1"]
    [warning] = [record.getMessage() for record in caplog.records if record.name == "ingest.tabular"]
    assert "two_sheets.xlsx" in warning and "'programmes'" in warning and "'old'" in warning
    assert "'notes'" not in warning


EXCEL_ERRORS = ["#N/A", "#REF!", "#DIV/0!", "#VALUE!", "#NAME?", "#NUM!", "#NULL!"]


def test_excel_error_values_reject_their_row_naming_row_field_and_cell(home: Home) -> None:
    openpyxl = pytest.importorskip("openpyxl")
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    sheet.append(["programme_id", "title", "countries", "budget", "notes", "currency"])
    sheet.append(["P-0", "Fine", "KE", 100, "#DIV/0!", "USD"])  # an error in a column not loaded costs nothing
    for number, error in enumerate(EXCEL_ERRORS, start=1):
        row = [f"P-{number}", "Title", "KE", 100, None, "USD"]
        row[(number % 3) + 1] = error  # title, countries or budget
        sheet.append(row)
    assert sheet["E2"].data_type == "e" and sheet["C3"].data_type == "e"
    result = ingest_file(_save_workbook(home, workbook, "errors.xlsx"), home, agency="undp")
    assert (result.state, result.rows_loaded, result.rows_rejected) == ("loaded", 1, 7), result.reason
    assert [row["programme_id"] for row in _programmes(home)] == ["P-0"]
    problems = _rejected(home, "errors.xlsx")
    fields = ["title", "countries", "budget"]
    assert [(problem["record_number"], problem["field"]) for problem in problems] == [
        (number + 1, fields[number % 3]) for number in range(1, 8)
    ]
    assert problems[0]["message_for_agency"] == (
        "errors.xlsx: row 2 (P-1), field 'countries': cell C3 holds the Excel error #N/A, not a value; "
        "correct the formula or type the value, and drop the file again"
    )
    assert all(error in problem["message"] for error, problem in zip(EXCEL_ERRORS, problems, strict=True))


def test_an_excel_formula_without_a_saved_value_rejects_its_row(home: Home) -> None:
    openpyxl = pytest.importorskip("openpyxl")
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    sheet.append(["programme_id", "title", "description", "budget", "currency"])
    sheet.append(["P-1", "Unsaved", "x", "=1000*12", "USD"])
    sheet.append(["P-2", "Saved", "x", "=1000*13", "USD"])
    sheet.append(["P-3", "Empty text result", '=""', 5, "USD"])
    path = _save_workbook(home, workbook, "formulas.xlsx")
    # What Excel writes once it has calculated: the value after the formula, t="str" for a text result.
    _rewrite_sheet_xml(path, "<f>1000*13</f><v></v>", "<f>1000*13</f><v>13000</v>")
    _rewrite_sheet_xml(path, '<c r="C4"><f>""</f><v></v>', '<c r="C4" t="str"><f>""</f><v></v>')
    result = ingest_file(path, home, agency="undp")
    assert (result.state, result.rows_loaded, result.rows_rejected) == ("loaded", 2, 1), result.reason
    loaded = {row["programme_id"]: (row["description"], row["budget_value"]) for row in _programmes(home)}
    assert loaded == {"P-2": ("x", 13000.0), "P-3": (None, 5.0)}
    [problem] = _rejected(home, "formulas.xlsx")
    assert (problem["record_number"], problem["field"]) == (1, "budget")
    assert "cell D2 holds a formula without a saved value" in problem["message"]
    assert "open and save the file in Excel, or paste values" in problem["message"]


def test_excel_formulas_with_saved_values_load_their_values(tmp_path: Path) -> None:
    from ingest.tabular import read_tabular

    workbook = _programme_workbook(rows=2)
    workbook.active["D3"] = "=SUM(D2:D2)*2"  # type: ignore[attr-defined]
    path = tmp_path / "saved.xlsx"
    workbook.save(path)  # type: ignore[attr-defined]
    _rewrite_sheet_xml(path, "<f>SUM(D2:D2)*2</f><v></v>", "<f>SUM(D2:D2)*2</f><v>2000</v>")
    table = read_tabular(path, "excel")
    assert [row["budget"] for _, row in table.rows] == ["1000", "2000"]
    assert table.problems == []


# ------------------------------------------------------------------------------------------ JSON shapes and values


@pytest.mark.parametrize(
    "nested",
    [
        {"partners": [{"id": "ORG-1", "name": "Kenya Legal Aid Society"}, {"id": "ORG-2", "name": "FIDA Kenya"}]},
        {"budgets": [{"period_start": "2024-01-01", "value": 250000}, {"period_start": "2025-01-01", "value": 250000}]},
    ],
    ids=["partners", "budgets"],
)
def test_a_single_json_programme_holding_a_list_of_objects_is_one_record(home: Home, nested: dict) -> None:
    document = {"programme_id": "UNDP-KE-1", "title": "Justice programme", "budget": 500000} | nested
    result = ingest_file(drop(home, "undp", "one.json", json.dumps(document)), home, agency="undp")
    assert (result.state, result.rows_loaded, result.rows_rejected) == ("loaded", 1, 0), result.reason
    [programme] = _programmes(home)
    assert (programme["programme_id"], programme["title"], programme["budget_value"]) == (
        "UNDP-KE-1",
        "Justice programme",
        500000.0,
    )


def test_a_json_wrapper_without_record_fields_yields_its_one_list_of_records(home: Home) -> None:
    document = {"exported": "2026-10-01", "data": [{"id": "P-1", "name": "Legal aid"}, {"id": "P-2", "name": "Water"}]}
    result = ingest_file(drop(home, "undp", "wrapped.json", json.dumps(document)), home, agency="undp")
    assert (result.state, result.rows_loaded) == ("loaded", 2), result.reason
    assert sorted(row["programme_id"] for row in _programmes(home)) == ["P-1", "P-2"]


def test_a_json_wrapper_with_several_lists_takes_the_one_named_as_records_or_says_which_it_found(
    home: Home,
) -> None:
    records = [{"id": "P-1", "name": "Legal aid"}]
    named = {"data": records, "meta": [{"page": 1, "pages": 1}]}
    result = ingest_file(drop(home, "undp", "paged.json", json.dumps(named)), home, agency="undp")
    assert (result.state, result.rows_loaded) == ("loaded", 1), result.reason
    unnamed = {"first": records, "second": [{"id": "P-2", "name": "Water"}]}
    result = ingest_file(drop(home, "undp", "two.json", json.dumps(unnamed)), home, agency="undp")
    assert result.state == "quarantined"
    assert "two.json: the object holds several lists of objects (first, second), and none is a list of" in (
        result.reason
    )
    both = {"data": records, "projects": [{"id": "P-3", "name": "Roads"}]}
    result = ingest_file(drop(home, "undp", "both.json", json.dumps(both)), home, agency="undp")
    assert result.state == "quarantined"
    assert "both.json: the object holds several lists of programmes (data, projects); send one" in result.reason


@pytest.mark.parametrize(("document", "kind"), [('"text"', "string"), ("42", "number"), ("null", "null")])
def test_a_json_scalar_says_what_it_holds_and_what_is_accepted(home: Home, document: str, kind: str) -> None:
    result = ingest_file(drop(home, "undp", "scalar.json", document), home, agency="undp")
    assert result.state == "quarantined"
    assert f"scalar.json: holds a JSON {kind}, not programmes: send an array of programme objects" in result.reason
    assert "one object per line" in result.reason


def test_multi_language_json_values_join_their_languages_and_other_objects_stay_json(tmp_path: Path) -> None:
    from ingest.tabular import read_tabular

    record = {
        "programme_id": "P-1",
        "title": {"en": "Legal aid", "fr": "Aide juridique"},
        "description": {"fr": "Accès", "en-GB": "Access", "es": ""},
        "marker": {"code": "GEN", "level": 2},
        "partners": [{"ref": "ORG-1", "role": "funding"}, "FIDA"],
    }
    path = tmp_path / "languages.json"
    path.write_text(json.dumps([record]), encoding="utf-8")
    [(_, row)] = read_tabular(path, "json").rows
    assert row["title"] == "Legal aid | Aide juridique"
    assert row["description"] == "Accès | Access"
    assert row["marker"] == '{"code": "GEN", "level": 2}'
    assert row["partners"] == '{"ref": "ORG-1", "role": "funding"};FIDA'


@pytest.mark.parametrize("content", ["", "\n  \n", "[]", "{}", '{"programmes": []}'])
def test_a_json_file_without_records_says_so(home: Home, content: str) -> None:
    result = ingest_file(drop(home, "undp", "none.json", content), home, agency="undp")
    assert result.state == "quarantined"
    assert result.reason.startswith("none.json: holds no records"), result.reason


def test_an_excel_number_shown_with_leading_zeros_keeps_them(tmp_path: Path) -> None:
    """An id typed as the number 123 and formatted 00000 reads 00123 in Excel: that is the agency's id."""
    import openpyxl

    from ingest.tabular import read_tabular

    workbook = openpyxl.Workbook()
    sheet = workbook.active
    sheet.append(["programme_id", "title", "budget"])
    sheet.append([123, "Legal aid", 1500])
    sheet["A2"].number_format = "00000"
    sheet["C2"].number_format = "#,##0"
    path = tmp_path / "padded.xlsx"
    workbook.save(path)
    [(_, row)] = read_tabular(path, "excel").rows
    assert (row["programme_id"], row["budget"]) == ("00123", "1500")
