"""A dropped file always ends loaded and archived, duplicate, or quarantined with its reason: never lost."""

from __future__ import annotations

import errno
import io
import json
import logging
import os
import zipfile
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from ingest import drops
from ingest.drops import ingest_file
from mainstream.home import Home
from mainstream.ledger import Ledger
from mainstream.pipeline import ingest_paths
from tests.helpers import drop


def _programmes(home: Home) -> list[dict]:
    files = sorted((home.raw / "programmes").glob("2*.parquet"))
    return [row for path in files for row in pq.read_table(path).to_pylist()]


def _reason(result) -> dict:
    return json.loads(Path(result.stored_path + ".reason.json").read_text())


def _truncated_workbook() -> bytes:
    """A valid .xlsx whose first sheet's XML is cut off half-way (as an interrupted upload or copy leaves it)."""
    openpyxl = pytest.importorskip("openpyxl")
    workbook = openpyxl.Workbook()
    workbook.active.append(["programme_id", "title"])
    for number in range(20):
        workbook.active.append([f"P-{number}", f"Programme {number}"])
    whole = io.BytesIO()
    workbook.save(whole)
    damaged = io.BytesIO()
    with zipfile.ZipFile(whole) as source, zipfile.ZipFile(damaged, "w") as target:
        for item in source.infolist():
            data = source.read(item)
            target.writestr(item, data[: len(data) // 2] if item.filename == "xl/worksheets/sheet1.xml" else data)
    return damaged.getvalue()


# ------------------------------------------------------------------------------------------ unexpected failures


def test_a_json_file_not_in_utf8_is_quarantined_and_the_batch_goes_on(home: Home) -> None:
    bad = drop(home, "unicef", "a_cp1252.json", '[{"programme_id":"P-1","title":"Café for children"}]'.encode("cp1252"))
    good = drop(home, "unicef", "b_ok.csv", "programme_id,title\nP-2,Schools for children\n")
    results = ingest_paths([home.landing], home)
    assert [(result.file_name, result.state) for result in results] == [
        ("a_cp1252.json", "quarantined"),
        ("b_ok.csv", "loaded"),
    ]
    reason = results[0].reason
    assert "a_cp1252.json" in reason and "0xe9" in reason and "line 1" in reason and "UTF-8" in reason
    assert _reason(results[0])["reason"] == reason
    assert not bad.exists() and not good.exists()
    assert [row["programme_id"] for row in _programmes(home)] == ["P-2"]
    assert sorted(row["state"] for row in Ledger(home.state_db).recent_drops()) == ["loaded", "quarantined"]


def test_a_truncated_workbook_is_quarantined_as_damaged(home: Home) -> None:
    path = drop(home, "undp", "cut.xlsx", _truncated_workbook())
    result = ingest_file(path, home, agency="undp")
    assert result.state == "quarantined"
    assert "cut.xlsx" in result.reason and "damaged" in result.reason
    assert Path(result.stored_path).exists() and not path.exists()


def test_any_unexpected_error_quarantines_the_file_with_its_traceback_logged(
    home: Home, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    def broken(*args: object, **kwargs: object) -> int:
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(drops, "write_extract", broken)
    path = drop(home, "undp", "fine.csv", "programme_id,title\nP-1,Legal aid\n")
    with caplog.at_level(logging.ERROR, logger="ingest.drops"):
        result = ingest_file(path, home, agency="undp")
    assert result.state == "quarantined"
    assert "fine.csv" in result.reason and "RuntimeError" in result.reason and "disk on fire" in result.reason
    assert _reason(result)["file"] == "fine.csv"
    assert not path.exists()
    assert any(record.exc_info for record in caplog.records), "the traceback is logged"
    [row] = Ledger(home.state_db).recent_drops()
    assert row["state"] == "quarantined"


def test_a_full_disk_leaves_the_file_in_place_for_a_retry_instead_of_quarantining_it(
    home: Home, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A full disk is the machine's fault, not the agency's: the file must not end in quarantine (the agency would
    have to send it again), nor leave half a Parquet file or a ledger row behind. The retry loads it."""
    from ingest import raw_zone

    real_write_table = raw_zone.pq.write_table

    def onto_a_full_disk(table: object, where: object, **options: object) -> None:
        # What pyarrow raises when the disk fills during the write (errno 28), after part of the file is written.
        real_write_table(table, where, **options)
        raise OSError(errno.ENOSPC, "Error writing bytes to file. Detail: [errno 28] No space left on device")

    path = drop(home, "undp", "fine.csv", "programme_id,title\nP-1,Legal aid\n")
    monkeypatch.setattr(raw_zone.pq, "write_table", onto_a_full_disk)
    with pytest.raises(drops.StorageFullError) as raised:
        ingest_file(path, home, agency="undp")
    message = str(raised.value)
    assert "fine.csv" in message and "No space left on device" in message and "retried" in message
    assert path.exists(), "the file stays where it was dropped"
    assert not [item for item in home.quarantine.rglob("*") if item.is_file()], "nothing quarantined"
    assert not [item for item in home.raw.rglob("*") if item.is_file()], "no raw extract, no temporary file"
    assert Ledger(home.state_db).recent_drops() == []

    monkeypatch.setattr(raw_zone.pq, "write_table", real_write_table)
    retried = ingest_file(path, home, agency="undp")
    assert retried.state == "loaded" and retried.rows_loaded == 1
    assert [row["programme_id"] for row in _programmes(home)] == ["P-1"]


def test_a_long_file_name_is_shortened_in_archive_and_quarantine_never_blocking_the_file(home: Home) -> None:
    """A name the agency's system allowed (212 characters, 252 bytes) is too long once prefixed with the extract id: the file
    could be neither archived nor quarantined, and every retry failed on it. Stored names keep the extension."""
    long_stem = "programme-extract-" + "é" * 40 + "x" * 150  # 208 characters, 248 bytes: fits, until prefixed
    good = ingest_file(drop(home, "undp", long_stem + ".csv", "programme_id,title\nP-1,Legal aid\n"), home, "undp")
    bad = ingest_file(drop(home, "undp", long_stem[:-1] + ".csv", "programme_id,colour\nP-2,red\n"), home, "undp")
    assert (good.state, bad.state) == ("loaded", "quarantined")
    for stored in (Path(good.stored_path), Path(bad.stored_path), Path(bad.stored_path + ".reason.json")):
        assert stored.exists() and len(os.fsencode(stored.name)) <= 255
    assert Path(good.stored_path).name.endswith("~.csv") and good.file_name == long_stem + ".csv"
    assert Path(bad.stored_path).name.startswith(bad.extract_id + "__programme-extract-é")


# ------------------------------------------------------------------------------------------ duplicates


def test_identical_content_from_another_agency_is_a_duplicate_naming_that_agency(home: Home) -> None:
    """Programmes are keyed by their identifier: loading the same file under a second agency would silently hand
    that agency the first one's programmes, so the second drop is a duplicate that says whose it is."""
    content = "programme_id,title\nJP-1,Joint programme on child protection\n"
    undp = ingest_file(drop(home, "undp", "joint.csv", content), home, agency="undp")
    unicef = ingest_file(drop(home, "unicef", "joint_programme.csv", content), home, agency="unicef")
    again = ingest_file(drop(home, "undp", "joint_copy.csv", content), home, agency="undp")
    assert (undp.state, unicef.state, again.state) == ("loaded", "duplicate", "duplicate")
    assert f"{undp.extract_id} (agency undp)" in unicef.reason
    assert undp.extract_id in again.reason and "(agency" not in again.reason
    assert [row["agency_ref"] for row in _programmes(home)] == ["undp"]
    assert Path(unicef.stored_path).exists(), "the duplicate is archived, not lost"
    # IATI XML names its agency inside: the same content is a duplicate whatever folder it was dropped in.
    xml = (
        '<iati-activities version="2.03"><iati-activity><iati-identifier>XM-1</iati-identifier>'
        '<reporting-org ref="XM-DAC-41114"/><title><narrative>T</narrative></title></iati-activity></iati-activities>'
    )
    first = ingest_file(drop(home, "undp", "a.xml", xml), home, agency="undp")
    second = ingest_file(drop(home, "unicef", "b.xml", xml), home, agency="unicef")
    assert (first.state, second.state) == ("loaded", "duplicate")
    # Named by the agency code the warehouse uses: UNDP's reporting-org is landing/undp/, not another agency.
    assert "(agency undp)" in second.reason
    third = ingest_file(drop(home, "undp", "c.xml", xml), home, agency="undp")
    assert third.state == "duplicate" and "(agency" not in third.reason


def test_a_loaded_file_sent_again_without_its_agency_is_a_duplicate_not_quarantined(home: Home, tmp_path) -> None:
    """A backfill folder re-run without `--agency`: the content is loaded already, under the earlier load's agency,
    so the file is a duplicate naming that load; only new content needs the agency."""
    content = "programme_id,title\nBF-1,Backfilled programme\n"
    first = ingest_file(drop(home, "undp", "backfill.csv", content), home, agency="undp")
    share = tmp_path / "2025"
    share.mkdir()
    (share / "backfill.csv").write_text(content, encoding="utf-8")
    (share / "new.csv").write_text("programme_id,title\nBF-2,New programme\n", encoding="utf-8")
    again = ingest_file(share / "backfill.csv", home, agency=None)
    new = ingest_file(share / "new.csv", home, agency=None)
    assert (first.state, again.state, new.state) == ("loaded", "duplicate", "quarantined")
    assert first.extract_id in again.reason
    assert "landing/<agency>/" in new.reason


def test_an_earlier_file_sent_again_after_a_correction_is_loaded_again(home: Home) -> None:
    """v1, then v2 replacing its programme, then v1 again (the agency reverts v2): the third drop is not a
    duplicate, as its programmes' published versions are v2's; it loads, and its versions are the latest."""
    v1 = "programme_id,title,budget\nABA-1,Version A,100\n"
    first = ingest_file(drop(home, "undp", "v1.csv", v1), home, agency="undp")
    v2 = "programme_id,title,budget\nABA-1,Version B,999\n"
    second = ingest_file(drop(home, "undp", "v2.csv", v2), home, agency="undp")
    revert = ingest_file(drop(home, "undp", "v3_revert.csv", v1), home, agency="undp")
    assert (first.state, second.state, revert.state) == ("loaded", "loaded", "loaded")
    assert f"identical to extract {first.extract_id}" in revert.reason
    latest = max(_programmes(home), key=lambda row: (row["loaded_at"], row["extract_id"]))
    assert (latest["title"], latest["source_file"]) == ("Version A", "v3_revert.csv")
    # Sent once more, v1 changes nothing: the revert's extract is still the latest, so it is a duplicate.
    again = ingest_file(drop(home, "undp", "v1_again.csv", v1), home, agency="undp")
    assert again.state == "duplicate" and revert.extract_id in again.reason


# ------------------------------------------------------------------------------------------ IATI values


def test_a_programme_id_another_agency_loaded_is_rejected_naming_that_agency(home: Home) -> None:
    """The warehouse keeps each programme id's latest version: UNICEF's "P-001" must not replace UNDP's."""
    undp = ingest_file(
        drop(home, "undp", "q3.csv", "programme_id,title\nP-001,Legal aid\nP-002,Courts\n"), home, "undp"
    )
    assert undp.state == "loaded"
    unicef = ingest_file(
        drop(home, "unicef", "q3.csv", "programme_id,title\nP-001,Child protection\nU-9,Schools\n"), home, "unicef"
    )
    assert unicef.state == "loaded" and unicef.rows_loaded == 1 and unicef.rows_rejected == 1
    assert "row 1 (P-001), field 'programme_id': already loaded by agency undp" in unicef.reason
    loaded = {(row["programme_id"], row["agency_ref"]) for row in _programmes(home)}
    assert loaded == {("P-001", "undp"), ("P-002", "undp"), ("U-9", "unicef")}
    only_theirs = ingest_file(
        drop(home, "unicef", "q4.csv", "programme_id,title\nP-002,Courts again\n"), home, "unicef"
    )
    assert only_theirs.state == "quarantined" and "already loaded by agency undp" in only_theirs.reason


def test_an_agency_may_update_its_own_programmes_whatever_format_names_it(home: Home) -> None:
    """UNDP's IATI file names its agency by its IATI ref (XM-DAC-41114, any case), its CSV by the folder."""
    xml = (
        '<iati-activities version="2.03"><iati-activity><iati-identifier>XM-DAC-41114-P-1</iati-identifier>'
        '<reporting-org ref="xm-dac-41114 "><narrative>UNDP</narrative></reporting-org>'
        "<title><narrative>Legal aid</narrative></title></iati-activity></iati-activities>"
    )
    assert ingest_file(drop(home, "undp", "undp.xml", xml), home).state == "loaded"
    update = ingest_file(
        drop(home, "undp", "fix.csv", "programme_id,title\nXM-DAC-41114-P-1,Legal aid v2\n"), home, "undp"
    )
    assert update.state == "loaded" and update.rows_rejected == 0
    foreign = ingest_file(drop(home, "unicef", "x.csv", "programme_id,title\nXM-DAC-41114-P-1,Mine\n"), home, "unicef")
    assert foreign.state == "quarantined" and "already loaded by agency undp" in foreign.reason


def test_iati_budget_out_of_range_is_dropped_and_recorded_but_the_activity_loads(home: Home) -> None:
    xml = (
        '<?xml version="1.0" encoding="UTF-8"?>\n<iati-activities version="2.03">'
        '<iati-activity default-currency="USD"><iati-identifier>XM-1</iati-identifier>'
        '<reporting-org ref="XM-DAC-41114"><narrative>UNDP</narrative></reporting-org>'
        '<title><narrative>Big</narrative></title><budget type="1"><value currency="USD">99999999999999999</value>'
        "</budget></iati-activity>"
        '<iati-activity><iati-identifier>XM-2</iati-identifier><reporting-org ref="XM-DAC-41114"/>'
        '<title><narrative>Minus</narrative></title><budget><value currency="USD">-152000</value></budget>'
        '<budget><value currency="USD">-152000</value></budget></iati-activity></iati-activities>'
    )
    result = ingest_file(drop(home, "undp", "bigbudget.xml", xml), home)
    assert (result.state, result.rows_loaded, result.rows_rejected) == ("loaded", 2, 0)
    assert {row["programme_id"]: row["budget_value"] for row in _programmes(home)} == {"XM-1": None, "XM-2": None}
    rejected = json.loads(next(home.quarantine.glob("*bigbudget.xml.rejected.json")).read_text())
    messages = [problem["message_for_agency"] for problem in rejected["problems"]]
    assert len(messages) == 2
    assert messages[0].startswith("bigbudget.xml: activity 1 (XM-1), field 'budget/value': ")
    assert "99999999999999999" in messages[0] and "too large" in messages[0]
    assert messages[1].startswith("bigbudget.xml: activity 2 (XM-2), field 'budget/value': ")
    assert "-304000" in messages[1] and "negative" in messages[1]
    assert "2 value(s) left out or flagged" in result.reason


# ------------------------------------------------------------------------------------------ names and agencies


def _undecodable(folder: Path, name: bytes) -> Path:
    """A path whose file name is not valid UTF-8 (as Python sees it: with surrogate escapes)."""
    return Path(os.fsdecode(os.fsencode(str(folder)) + b"/" + name))


def test_a_file_name_that_is_not_utf8_is_loaded_and_recorded(home: Home) -> None:
    folder = home.landing / "undp"
    folder.mkdir(parents=True)
    path = _undecodable(folder, b"caf\xe9.csv")
    path.write_text("programme_id,title,start_date\nP-1,Legal aid,2024-01-01\nP-2,Water,31/31/2024\n")
    result = ingest_file(path, home, agency="undp")
    assert (result.state, result.rows_loaded, result.rows_rejected) == ("loaded", 1, 1), result.reason
    assert result.file_name == "caf\\xe9.csv"
    assert os.listdir(os.fsencode(str(folder))) == []
    archived = [name for folder in home.archive.iterdir() for name in os.listdir(os.fsencode(str(folder)))]
    assert len(archived) == 1 and archived[0].endswith(b"__caf\xe9.csv"), "the file keeps its name on disk"
    [rejected] = home.quarantine.glob("*.rejected.json")
    assert json.loads(rejected.read_text())["file"] == "caf\\xe9.csv"
    [row] = Ledger(home.state_db).recent_drops()
    assert (row["file_name"], row["state"]) == ("caf\\xe9.csv", "loaded")
    assert [programme["source_file"] for programme in _programmes(home)] == ["caf\\xe9.csv"]


def test_a_file_name_that_is_not_utf8_is_quarantined_with_its_reason(home: Home) -> None:
    folder = home.landing / "undp"
    folder.mkdir(parents=True)
    path = _undecodable(folder, b"r\xe9sum\xe9.pdf")
    path.write_bytes(b"%PDF-1.4")
    result = ingest_file(path, home, agency="undp")
    assert result.state == "quarantined"
    assert "r\\xe9sum\\xe9.pdf" in result.reason and "unsupported file type" in result.reason
    # The ledger's stored_path shows the name escaped too; the reason file sits beside the file itself.
    assert result.stored_path.endswith("__r\\xe9sum\\xe9.pdf")
    [reason] = home.quarantine.glob("*.reason.json")
    assert json.loads(reason.read_text())["file"] == "r\\xe9sum\\xe9.pdf"
    kept = os.listdir(os.fsencode(str(home.quarantine)))
    assert any(name.endswith(b"__r\xe9sum\xe9.pdf") for name in kept), "the file itself is kept"
    [row] = Ledger(home.state_db).recent_drops()
    assert row["state"] == "quarantined"


def test_agency_folder_names_are_one_agency_whatever_their_case(home: Home) -> None:
    from mainstream.airflow_tasks import requests_from_claimed, requests_from_events, requests_from_params

    content = "programme_id,title\nP-1,Legal aid\n"
    claimed = home.claimed / "UNDP" / "0123456789ab__a.csv"
    claimed.parent.mkdir(parents=True)
    claimed.write_text(content)
    [request] = requests_from_claimed(home)
    assert request.agency == "undp"
    event = type("Event", (), {"extra": {"path": "/x.csv", "agency": " UNDP "}})()
    assert [request.agency for request in requests_from_events({"a": [event]})] == ["undp"]
    assert [request.agency for request in requests_from_params({"paths": ["/x"], "agency": "Undp"})] == ["undp"]
    first = ingest_file(claimed, home, agency=request.agency)
    again = ingest_paths([drop(home, "Undp", "b.csv", content)], home)
    direct = ingest_file(drop(home, "x", "c.csv", content), home, agency="UNDP")
    assert (first.state, first.agency_ref) == ("loaded", "undp")
    assert [(drop_.state, drop_.agency_ref) for drop_ in (*again, direct)] == [("duplicate", "undp")] * 2
    # Lineage names the file as the agency dropped it, not with the watcher's claim prefix.
    assert [programme["source_file"] for programme in _programmes(home)] == ["a.csv"]


def test_an_iati_file_of_two_publishers_says_so_and_publishes_each_under_its_own(home: Home) -> None:
    activities = "".join(
        f'<iati-activity><iati-identifier>{ref}-1</iati-identifier><reporting-org ref="{ref}"/>'
        f"<title><narrative>Schools</narrative></title></iati-activity>"
        for ref in ("XM-DAC-41114", "XM-DAC-41122")
    )
    path = drop(home, "undp", "two.xml", f'<iati-activities version="2.03">{activities}</iati-activities>')
    result = ingest_file(path, home)
    assert result.state == "loaded" and result.rows_loaded == 2
    assert "holds the activities of 2 agencies (undp, unicef)" in result.reason
    assert "the ledger names the first activity's (XM-DAC-41114)" in result.reason
    published = {row["programme_id"]: row["agency_ref"] for row in pq.read_table(home.raw / "programmes").to_pylist()}
    assert published == {"XM-DAC-41114-1": "XM-DAC-41114", "XM-DAC-41122-1": "XM-DAC-41122"}


def test_an_iati_file_of_two_references_of_one_agency_carries_no_note(home: Home) -> None:
    activities = "".join(
        f'<iati-activity><iati-identifier>{ref}-1</iati-identifier><reporting-org ref="{ref}"/>'
        f"<title><narrative>Decent work</narrative></title></iati-activity>"
        for ref in ("XM-DAC-41302", "XM-DAC-41144")  # both ILO's (ref_agencies)
    )
    path = drop(home, "ilo", "ilo.xml", f'<iati-activities version="2.03">{activities}</iati-activities>')
    result = ingest_file(path, home)
    assert (result.state, result.rows_loaded, result.reason) == ("loaded", 2, None)
