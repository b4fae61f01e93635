"""IATI activity XML becomes programme records; unusable activities become problems; unreadable files raise."""

from __future__ import annotations

import json
import resource
import sys
import time
from datetime import date
from pathlib import Path

import pytest

from ingest.errors import UnreadableFileError
from ingest.iati_xml import iter_iati_activities
from ingest.records import CodeRecord, ProgrammeRecord, RecordProblem
from tests.helpers import FIXTURES

IATI = FIXTURES / "iati"
GOLD_XML = IATI / "gold_dev.xml"
GOLD_LABELS = FIXTURES / "gold" / "dev.jsonl"
SAMPLE_IATI = Path(__file__).resolve().parents[2] / "sample_data" / "iati"
#: The full development corpus; it exists only on the development machine, so the test using it skips elsewhere.
FULL_CORPUS = Path("/work/shared/data/iati/un-agencies")

DPORTAL_ROOT = (
    '<iati-activities xmlns:ns0="http://d-portal.org/xmlns/dstore" '
    'xmlns:ns1="http://d-portal.org/xmlns/iati-activities" version="2.03">'
)


def _parse(path: Path) -> list[ProgrammeRecord | RecordProblem]:
    return list(iter_iati_activities(path))


def _records(path: Path) -> dict[str, ProgrammeRecord]:
    return {item.programme_id: item for item in _parse(path) if isinstance(item, ProgrammeRecord)}


def _one(tmp_path: Path, activity: str, root: str = DPORTAL_ROOT) -> ProgrammeRecord | RecordProblem:
    """Parse a document holding the single activity given as XML text."""
    path = tmp_path / "one.xml"
    path.write_text(f'<?xml version="1.0" encoding="utf-8"?>\n{root}\n{activity}\n</iati-activities>\n', "utf-8")
    [item] = _parse(path)
    return item


def _record(tmp_path: Path, body: str, attributes: str = "") -> ProgrammeRecord:
    """Parse one minimal valid activity with extra ``body`` elements and activity ``attributes`` (a title of its
    own after them: a ``body`` title comes first, and is the one read)."""
    item = _one(
        tmp_path,
        f"<iati-activity {attributes}><iati-identifier>TEST-1</iati-identifier>"
        f'<reporting-org ref="XM-TEST"><narrative>Test org</narrative></reporting-org>{body}'
        "<title><narrative>Minimal activity</narrative></title></iati-activity>",
    )
    assert isinstance(item, ProgrammeRecord), item
    return item


def _codes(record: ProgrammeRecord, code_type: str) -> list[CodeRecord]:
    return [code for code in record.codes if code.code_type == code_type]


@pytest.fixture(scope="module")
def gold() -> dict[str, ProgrammeRecord]:
    return _records(GOLD_XML)


# ------------------------------------------------------------------------------------------ real activities


def test_real_unicef_activity_is_mapped_field_by_field(gold: dict[str, ProgrammeRecord]) -> None:
    record = gold["XM-DAC-41122-Costa Rica-1020/A0/06/002/003"]
    assert record.record_number == 9
    assert record.agency_ref == "XM-DAC-41122"
    assert record.reporting_org_name == "UNICEF"
    assert record.title == "COVID 19 RESPONSE FOR CHILD PROTECTION"
    # Double spaces and the line break inside the published narrative are normalised.
    assert record.description == (
        "Highly vulnerable children, adolescents and women at increased risk of violence, exploitation, abuse "
        "and neglect, due to COVID-19, are protected through social and protection services."
    )
    assert record.objectives is None and record.target_groups is None and record.other_description is None
    assert record.languages == "es"  # as tagged by the publisher, although the text is English
    assert record.activity_status == "2"
    assert record.start_date == date(2020, 1, 1)
    assert record.end_date == date(2022, 12, 31)
    assert record.humanitarian_flag is True
    assert record.default_currency == "USD"
    # Only revised (type 2) budgets are published: 131885 + 2000 + 20000.
    assert record.budget_value == pytest.approx(153885.0)
    assert record.budget_currency == "USD"

    sectors = _codes(record, "sector")
    assert CodeRecord("sector", "1", "15160", percentage=24.0, narrative="Public finance management (PFM)") in sectors
    assert (
        CodeRecord("sector", "99", "23-01-13", percentage=50.1, narrative="Child Protection - Emergency Preparedness")
        in sectors
    )
    # The publisher repeats IASC cluster 10 ("Protection") three times with different shares: kept as published.
    assert [code.percentage for code in sectors if code.vocabulary == "10"] == [24.0, 25.9, 50.1]
    assert len(sectors) == 10
    assert _codes(record, "policy_marker") == [CodeRecord("policy_marker", "1", "1", significance="1")]
    assert _codes(record, "humanitarian_scope") == [
        CodeRecord(
            "humanitarian_scope", "99", "Non-HAC", significance="1", narrative="Non-Humanitarian Action for Children"
        )
    ]
    assert _codes(record, "recipient_country") == [
        CodeRecord("recipient_country", "ISO3166-1", "CR", percentage=100.0, narrative="Costa Rica")
    ]
    assert _codes(record, "recipient_region") == [
        CodeRecord("recipient_region", "1", "489", percentage=0.0, narrative="LACR")
    ]
    assert _codes(record, "tag") == []


def test_objectives_and_dac_policy_markers_of_a_real_fao_activity(gold: dict[str, ProgrammeRecord]) -> None:
    record = gold["XM-DAC-41301-683861"]
    assert record.title == (
        "Food security for households most affected by the COVID-19 crisis in at-risk low-income urban areas"
    )
    assert record.description is None  # FAO publishes only description type 2
    assert record.objectives is not None
    assert record.objectives.startswith("To address the food security needs of selected beneficiaries")
    assert record.humanitarian_flag is None  # no @humanitarian published
    assert record.budget_value == pytest.approx(999999.53)
    assert [(code.vocabulary, code.code, code.significance) for code in _codes(record, "policy_marker")] == [
        ("1", "1", "1"),
        ("1", "5", "0"),
        ("1", "6", "0"),
        ("1", "7", "0"),
        ("1", "8", "0"),
    ]
    assert _codes(record, "sector") == [CodeRecord("sector", "1", "31120", percentage=100.0)]


def test_un_women_peace_sector_and_gender_marker(gold: dict[str, ProgrammeRecord]) -> None:
    record = gold["XM-DAC-41146-BDI_D_4.3"]
    assert [(code.vocabulary, code.code, code.percentage) for code in _codes(record, "sector")] == [
        ("99", "D4", 100.0),
        ("1", "15220", 100.0),
        ("7", "16", 50.0),
        ("7", "5", 50.0),
    ]
    assert _codes(record, "sector")[0].narrative == "Peace & security & humanitarian actions"
    assert _codes(record, "policy_marker") == [CodeRecord("policy_marker", "1", "1", significance="2")]


def test_leading_zeros_and_agency_vocabularies_are_kept_exactly(gold: dict[str, ProgrammeRecord]) -> None:
    iom = gold["XM-DAC-47066-PB.0040"]
    assert ("98", "01") in [(code.vocabulary, code.code) for code in _codes(iom, "sector")]
    assert ("99", "PB") in [(code.vocabulary, code.code) for code in _codes(iom, "sector")]
    # IOM's own gender marker scale: vocabulary 99, no @significance.
    assert [(c.vocabulary, c.code, c.significance) for c in _codes(iom, "policy_marker")] == [("99", "1", None)]

    unesco = _records(SAMPLE_IATI / "unesco.xml")["XM-DAC-41304-570MLI4000"]
    assert _codes(unesco, "policy_marker") == [CodeRecord("policy_marker", "1", "01", significance="1")]
    assert ("98", "01") in [(code.vocabulary, code.code) for code in _codes(unesco, "sector")]


def test_multi_language_narratives_are_joined_in_document_order(gold: dict[str, ProgrammeRecord]) -> None:
    record = gold["XM-DAC-41121-2020-AME-CRI"]
    assert record.title == (
        "L'opération du HCR au Costa Rica (2020) | Oficina del ACNUR en Costa Rica (2020) | "
        "UNHCR operation in Costa Rica (2020)"
    )
    assert record.languages == "en,es,fr"
    assert record.description == (
        "Cette activité montre les détails de l'opération du HCR au Costa Rica pour 2020, y compris le budget, "
        "les financements, les dépenses et les résultats. | This activity shows details of the UNHCR operation "
        "in Costa Rica for 2020 including the budget, funding, expenditure and results."
    )
    assert record.target_groups is not None
    assert record.target_groups.startswith("El ACNUR, la Agencia de la ONU para los Refugiados")
    assert " | Le HCR, l'Agence des Nations Unies pour les réfugiés" in record.target_groups
    assert record.other_description is not None
    assert record.other_description.startswith("This activity includes budget and incoming transactions")
    assert (
        CodeRecord(
            "humanitarian_scope",
            "99",
            "GLOBAL-APPEAL-2020-2021",
            "2",
            None,
            "Appel global 2020-2021 | Global Appeal 2020-2021",
        )
        in record.codes
    )
    assert (
        CodeRecord(
            "humanitarian_scope", "1-2", "EP-2020-000012-001", "1", None, "Novel Coronavirus Outbreak - Jan 2020"
        )
        in record.codes
    )
    assert record.budget_value == pytest.approx(26852308.47)

    unesco = _records(SAMPLE_IATI / "unesco.xml")["XM-DAC-41304-570MLI4000"]
    assert unesco.reporting_org_name == (
        "Organisation des Nations unies pour l'éducation, la science et la culture (UNESCO) | "
        "United Nations Educational, Scientific and Cultural Organization (UNESCO)"
    )


def test_transaction_sectors_stand_in_when_the_activity_declares_none(gold: dict[str, ProgrammeRecord]) -> None:
    # WHO declares 19 transaction sectors: 72010 on several transactions, others with the code only in the
    # narrative (no @code, skipped). One code results, without a percentage.
    who = gold["XM-DAC-928-SD-2020-21-13.003.EM01.SUD03"]
    assert _codes(who, "sector") == [CodeRecord("sector", "1", "72010")]
    assert _codes(who, "tag") == [CodeRecord("tag", "3", "3.D")]
    assert [code.code for code in _codes(who, "humanitarian_scope")] == ["HCOVD20", "HSDN19", "HSDN20"]
    cerf = gold["XM-OCHA-CERF-20-RR-IOM-021"]
    assert _codes(cerf, "sector") == [CodeRecord("sector", "1", "72010")]
    assert cerf.budget_value is None and cerf.budget_currency is None  # CERF publishes no budget


def test_activity_sectors_win_over_transaction_sectors(tmp_path: Path) -> None:
    record = _record(
        tmp_path,
        '<sector code="15160" percentage="100"/>'
        '<transaction><sector code="15160"/></transaction><transaction><sector code="72010"/></transaction>',
    )
    assert _codes(record, "sector") == [CodeRecord("sector", "1", "15160", percentage=100.0)]


def test_gold_development_activities_all_load(gold: dict[str, ProgrammeRecord]) -> None:
    expected = [json.loads(line)["id"] for line in GOLD_LABELS.read_text("utf-8").splitlines() if line.strip()]
    items = _parse(GOLD_XML)
    assert all(isinstance(item, ProgrammeRecord) for item in items)
    assert [item.programme_id for item in items if isinstance(item, ProgrammeRecord)] == expected
    assert len(expected) == 33
    assert [item.record_number for item in items] == list(range(1, 34))
    assert all(record.title and (record.description or record.objectives) for record in gold.values())


def test_sample_data_files_load_without_problems() -> None:
    files = sorted(SAMPLE_IATI.glob("*.xml"))
    assert len(files) == 10
    for path in files:
        items = _parse(path)
        assert items, path.name
        assert all(isinstance(item, ProgrammeRecord) for item in items), path.name
        assert len({item.agency_ref for item in items if isinstance(item, ProgrammeRecord)}) == 1, path.name


# ------------------------------------------------------------------------------------------ tolerance


def test_mixed_quality_file_keeps_every_usable_activity() -> None:
    items = _parse(IATI / "mixed_quality.xml")
    assert [type(item).__name__ for item in items] == [
        "ProgrammeRecord",
        "ProgrammeRecord",
        "RecordProblem",
        "ProgrammeRecord",
        "ProgrammeRecord",
    ]
    assert items[2] == RecordProblem(3, "iati-identifier", "missing or empty iati-identifier")
    assert items[2].describe("mixed_quality.xml", "activity") == (
        "mixed_quality.xml: activity 3, field 'iati-identifier': missing or empty iati-identifier"
    )
    records = [item for item in items if isinstance(item, ProgrammeRecord)]
    assert [(record.record_number, record.programme_id) for record in records] == [
        (1, "XM-DAC-41114-PROJECT-00133417"),
        (2, "XM-DAC-47066-RR.0075"),
        (4, "XM-DAC-41114-PROJECT-00132518"),
        (5, "XM-DAC-41301-684421"),
    ]
    damaged = records[-1]
    assert damaged.budget_value is None  # published value "n/a"
    assert damaged.budget_currency is None
    assert damaged.start_date is None  # actual start "2020-08-32", and no planned start to fall back on
    assert damaged.end_date == date(2021, 7, 31)
    assert damaged.title == (
        "Livelihood support to daily wage-earners displaced by COVID-19 to hard-core unemployed rural "
        "communities of Faridpur district"
    )
    assert ("1", "31163") in [(code.vocabulary, code.code) for code in _codes(damaged, "sector")]
    assert records[1].budget_value == pytest.approx(200000.05)


def test_missing_reporting_org_ref_is_a_problem_naming_the_activity(tmp_path: Path) -> None:
    item = _one(
        tmp_path,
        "<iati-activity><iati-identifier> XM-TEST-9 </iati-identifier>"
        '<reporting-org ns0:ref="XM-DAC-41114" type="40"><narrative>UNDP</narrative></reporting-org>'
        "</iati-activity>",
    )
    assert item == RecordProblem(1, "reporting-org/@ref", "missing or empty reporting-org/@ref", "XM-TEST-9")


@pytest.mark.parametrize("title", ["", "<title/>", "<title><narrative>  </narrative></title>"])
def test_an_activity_without_a_title_is_a_problem_naming_it_as_a_csv_row_would_be(tmp_path: Path, title: str) -> None:
    item = _one(
        tmp_path,
        f'<iati-activity><iati-identifier>XM-T-1</iati-identifier><reporting-org ref="XM-T"/>{title}'
        "<description><narrative>Legal aid for women</narrative></description></iati-activity>",
    )
    assert item == RecordProblem(
        1, "title", "missing or empty title (title/narrative); every programme needs a title", "XM-T-1"
    )


def test_empty_identifier_is_a_problem(tmp_path: Path) -> None:
    item = _one(
        tmp_path, '<iati-activity><iati-identifier>  </iati-identifier><reporting-org ref="X"/></iati-activity>'
    )
    assert item == RecordProblem(1, "iati-identifier", "missing or empty iati-identifier")


def test_dportal_namespaced_attributes_are_ignored(tmp_path: Path) -> None:
    record = _record(
        tmp_path,
        '<title ns0:lang="fr"><narrative>Legal aid</narrative></title>'
        '<activity-status ns0:code="5" code="2"/>'
        '<sector ns0:code="99999" ns0:vocabulary="99" code="15160" ns0:percentage="10"/>'
        '<budget ns0:type="2"><value ns0:currency="EUR">100</value></budget>',
        attributes='ns0:dataset="undp-ken" ns0:index="7" ns1:version="2.01" ns0:humanitarian="1" '
        'ns0:default-currency="EUR"',
    )
    assert record.programme_id == "TEST-1"
    assert record.humanitarian_flag is None
    assert record.default_currency is None
    assert record.activity_status == "2"
    assert _codes(record, "sector") == [CodeRecord("sector", "1", "15160")]
    assert (record.budget_value, record.budget_currency) == (100.0, None)
    assert record.languages == "en"


def test_namespaced_elements_of_unhcr_do_not_disturb_the_record() -> None:
    records = _records(SAMPLE_IATI / "unhcr.xml")
    assert set(records) == {"XM-DAC-41121-2020-AME-GTM", "XM-DAC-41121-2020-AME-RA"}
    assert records["XM-DAC-41121-2020-AME-GTM"].languages == "en,es,fr"
    assert records["XM-DAC-41121-2020-AME-GTM"].budget_value == pytest.approx(34628454.52)


@pytest.mark.parametrize(
    ("budgets", "expected"),
    [
        # Original budgets (type 1 or no @type) are summed across periods; revised ones are then ignored.
        (
            '<budget type="1"><value>100</value></budget><budget><value>50.5</value></budget>'
            '<budget type="2"><value>999</value></budget>',
            (150.5, "USD"),
        ),
        # Without an original budget, the revised ones are summed.
        (
            '<budget type="2"><value currency="EUR">10</value></budget><budget type="2"><value>5</value></budget>',
            (10.0, "EUR"),
        ),
        # Unparsable and non-finite values are skipped; an original budget with only bad values gives way.
        (
            '<budget type="1"><value>n/a</value></budget><budget type="1"><value>1,000</value></budget>'
            '<budget type="1"><value>NaN</value></budget><budget type="2"><value> 7 </value></budget>',
            (7.0, "USD"),
        ),
        # Lines in another currency than the first are not added to its total.
        (
            '<budget><value currency="USD">10</value></budget><budget><value currency="EUR">20</value></budget>'
            "<budget><value>30</value></budget>",
            (40.0, "USD"),
        ),
        ("<budget><value/></budget>", (None, None)),
        ("", (None, None)),
    ],
)
def test_budget_totals(tmp_path: Path, budgets: str, expected: tuple[float | None, str | None]) -> None:
    record = _record(tmp_path, budgets, attributes='default-currency="USD"')
    assert (record.budget_value, record.budget_currency) == expected
    assert record.default_currency == "USD"


@pytest.mark.parametrize(
    ("dates", "start", "end"),
    [
        (
            '<activity-date type="1" iso-date="2020-01-01"/><activity-date type="2" iso-date="2020-02-01"/>'
            '<activity-date type="3" iso-date="2021-01-01"/><activity-date type="4" iso-date="2021-02-01"/>',
            date(2020, 2, 1),
            date(2021, 2, 1),
        ),
        (
            '<activity-date type="1" iso-date="2020-01-01T00:00:00"/><activity-date type="3" iso-date="2021-01-01Z"/>',
            date(2020, 1, 1),
            date(2021, 1, 1),
        ),
        # An invalid actual date falls back to the planned one; invalid dates alone become None.
        (
            '<activity-date type="2" iso-date="2020-02-30"/><activity-date type="1" iso-date="2020-01-01"/>'
            '<activity-date type="4" iso-date="31/12/2021"/><activity-date type="3"/>',
            date(2020, 1, 1),
            None,
        ),
        ('<activity-date type="start-actual" iso-date="2019-05-01"/>', date(2019, 5, 1), None),
        # A year outside 1945-2100 is a typing slip (0201 for 2021): left out like any date that is not one.
        (
            '<activity-date type="2" iso-date="0201-03-01"/><activity-date type="1" iso-date="2021-01-01"/>'
            '<activity-date type="3" iso-date="2920-12-31"/>',
            date(2021, 1, 1),
            None,
        ),
    ],
)
def test_dates_prefer_actual_over_planned(tmp_path: Path, dates: str, start: date | None, end: date | None) -> None:
    record = _record(tmp_path, dates)
    assert (record.start_date, record.end_date) == (start, end)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ('humanitarian="1"', True),
        ('humanitarian="true"', True),
        ('humanitarian="0"', False),
        ('humanitarian="false"', False),
        ('humanitarian="maybe"', None),
        ("", None),
    ],
)
def test_humanitarian_flag(tmp_path: Path, value: str, expected: bool | None) -> None:
    assert _record(tmp_path, "", attributes=value).humanitarian_flag is expected


def test_narratives_whitespace_languages_and_iati_1_text(tmp_path: Path) -> None:
    record = _record(
        tmp_path,
        '<title><narrative xml:lang="FR">  Accès à la\n   justice </narrative><narrative/>'
        '<narrative xml:lang="EN">Access to <!-- note -->justice</narrative></title>'
        "<description>General text, IATI 1.x style</description>"
        '<description type="2"><narrative>Objective one</narrative></description>'
        '<description type="2"><narrative>Objective two</narrative></description>'
        '<description type="9"><narrative xml:lang="de">Unbekannt</narrative></description>',
        attributes='xml:lang="es"',
    )
    assert record.title == "Accès à la justice | Access to justice"
    assert record.description == "General text, IATI 1.x style"
    assert record.objectives == "Objective one | Objective two"
    assert record.target_groups is None
    # A description of a type IATI does not define is kept as an other description, not dropped: the criteria
    # read it. Narratives without xml:lang inherit the activity's language.
    assert record.other_description == "Unbekannt"
    assert record.languages == "de,en,es,fr"
    assert record.reporting_org_name == "Test org"


def test_iati_1_words_for_vocabularies_description_types_and_budget_types_are_read(tmp_path: Path) -> None:
    """IATI 1.x files name vocabularies and types in words: DAC sectors must reach the criteria as vocabulary 1."""
    record = _record(
        tmp_path,
        '<sector vocabulary="DAC" code="15160"/><sector vocabulary="DAC-3" code="151"/>'
        '<policy-marker vocabulary="DAC" code="1" significance="2"/>'
        '<description type="objectives"><narrative>Objective</narrative></description>'
        '<budget type="Original"><value currency="usd">100</value></budget>'
        '<budget type="3"><value>7</value></budget>',
        attributes='default-currency="USD"',
    )
    assert {(code.vocabulary, code.code) for code in record.codes if code.code_type == "sector"} == {
        ("1", "15160"),
        ("2", "151"),
    }
    assert [(code.vocabulary, code.code) for code in record.codes if code.code_type == "policy_marker"] == [("1", "1")]
    assert record.objectives == "Objective"
    assert (record.budget_value, record.budget_currency) == (100.0, "USD")
    assert [problem.field for problem in record.value_problems] == ["budget/@type"]


def test_iati_1_dates_flags_and_percentages_are_read_and_dates_left_out_are_reported(tmp_path: Path) -> None:
    record = _record(
        tmp_path,
        '<activity-date type="Start-Actual" iso-date="2020-03-01"/><activity-date type="end-planned">2021-12-31'
        '</activity-date><activity-date type="end" iso-date="2022-01-01"/><activity-date type="4" iso-date=""/>'
        '<sector code="15160" percentage="50%"/>',
        attributes='humanitarian="yes"',
    )
    assert (record.start_date, record.end_date) == (date(2020, 3, 1), date(2021, 12, 31))
    assert record.humanitarian_flag is True
    assert [code.percentage for code in record.codes if code.code_type == "sector"] == [50.0]
    assert {problem.field for problem in record.value_problems} == {"activity-date/@type", "activity-date/@iso-date"}


def test_a_revised_budget_supersedes_the_original_for_its_period(tmp_path: Path) -> None:
    """UN Women publishes an original and a revised budget for every year: the revision is the budget."""

    def line(kind: str, year: int, value: int) -> str:
        return (
            f'<budget type="{kind}"><period-start iso-date="{year}-01-01"/><period-end iso-date="{year}-12-31"/>'
            f"<value>{value}</value></budget>"
        )

    record = _record(tmp_path, line("1", 2020, 100) + line("1", 2021, 200) + line("2", 2021, 250))
    assert record.budget_value == 350.0


def test_overlapping_budget_periods_and_malformed_codes_are_reported(tmp_path: Path) -> None:
    record = _record(
        tmp_path,
        '<budget><period-start iso-date="2020-01-01"/><period-end iso-date="2022-12-31"/><value>300</value></budget>'
        '<budget><period-start iso-date="2020-01-01"/><period-end iso-date="2020-12-31"/><value>100</value></budget>'
        '<recipient-country code="UGA"/><recipient-country code="ke"/><sector vocabulary="1" code="1516O"/>'
        '<sector vocabulary="1" code="15160"/>',
    )
    assert record.budget_value == 400.0  # summed, but said so
    assert [(code.code_type, code.code) for code in record.codes] == [("sector", "15160"), ("recipient_country", "KE")]
    messages = {problem.field: problem.message for problem in record.value_problems}
    assert "2020-01-01..2020-12-31 and 2020-01-01..2022-12-31 overlap" in messages["budget/period-start"]
    assert "'UGA' is not an ISO 3166-1 alpha-2 country code" in messages["recipient-country/@code"]
    assert "'1516O' is not a 5-digit DAC purpose code" in messages["sector/@code"]


def test_a_pretty_printed_identifier_is_one_line_without_zero_width_characters(tmp_path: Path) -> None:
    xml = (
        '<iati-activities version="2.03"><iati-activity><iati-identifier>\u200bXM-DAC-41114-\n    SP3 </iati-identifier>'
        '<reporting-org ref="XM-DAC-41114"/><title><narrative>T</narrative></title></iati-activity></iati-activities>'
    )
    path = tmp_path / "pretty.xml"
    path.write_text(xml, encoding="utf-8")
    [record] = list(iter_iati_activities(path))
    assert record.programme_id == "XM-DAC-41114- SP3"


def test_languages_default_to_the_activity_language_then_english(tmp_path: Path) -> None:
    assert _record(tmp_path, "", attributes='xml:lang="PT"').languages == "pt"
    assert _record(tmp_path, "").languages == "en"


def test_code_elements_are_trimmed_defaulted_and_skipped_when_empty(tmp_path: Path) -> None:
    record = _record(
        tmp_path,
        '<sector code=" 15160 " vocabulary=" " percentage="abc"><narrative> Human rights </narrative></sector>'
        '<sector code=""/><sector vocabulary="1"><narrative>72010</narrative></sector>'
        '<policy-marker code="1" significance=" 2 "/><policy-marker significance="1"/>'
        '<tag code="16.10"/><tag vocabulary="3" code="5.A"/>'
        '<humanitarian-scope type="1" vocabulary="1-2" code="EP-2020-000012-001"/>'
        '<recipient-country code="ke" percentage="60.5"/><recipient-country/>'
        '<recipient-region code="289"/><recipient-region vocabulary="2" code="015" percentage="40"/>',
    )
    assert record.codes == [
        CodeRecord("sector", "1", "15160", narrative="Human rights"),
        CodeRecord("policy_marker", "1", "1", significance="2"),
        CodeRecord("tag", "1", "16.10"),
        CodeRecord("tag", "3", "5.A"),
        CodeRecord("humanitarian_scope", "1-2", "EP-2020-000012-001", significance="1"),
        CodeRecord("recipient_country", "ISO3166-1", "KE", percentage=60.5),
        CodeRecord("recipient_region", "1", "289"),
        CodeRecord("recipient_region", "2", "015", percentage=40.0),
    ]


# ------------------------------------------------------------------------------------------ unreadable files


@pytest.mark.parametrize(
    ("name", "fragments"),
    [
        ("broken_syntax.xml", ["broken_syntax.xml", "not well-formed XML", "line 53", "Premature end of data"]),
        ("not_iati.xml", ["not_iati.xml", "not an IATI activity file", "<iati-organisations>"]),
        ("empty_activities.xml", ["empty_activities.xml", "no <iati-activity> element"]),
    ],
)
def test_unreadable_files_raise_naming_the_file(name: str, fragments: list[str]) -> None:
    yielded: list[ProgrammeRecord | RecordProblem] = []
    with pytest.raises(UnreadableFileError) as raised:
        yielded.extend(iter_iati_activities(IATI / name))
    for fragment in fragments:
        assert fragment in str(raised.value)
    # Only activities complete before the break may have been yielded.
    assert [item.programme_id for item in yielded] in ([], ["XM-DAC-41114-PROJECT-00133417"])


@pytest.mark.parametrize(
    ("content", "fragments"),
    [
        (b"", ["x.xml", "empty"]),
        (b"%PDF-1.4 not xml", ["x.xml", "not well-formed XML at line 1"]),
        (
            b'<?xml version="1.0"?>\n<iati-activities>\n<iati-activity>&nbsp;</iati-activity>\n</iati-activities>',
            ["x.xml", "line 3", "nbsp"],
        ),
        (b"<iati-activities>\n<iati-activity>\n</iati-activities>", ["x.xml", "line 3", "mismatch"]),
        (
            b'<feed xmlns="http://www.w3.org/2005/Atom"><iati-activity/></feed>',
            ["x.xml", "<{http://www.w3.org/2005/Atom}feed>"],
        ),
    ],
)
def test_other_unreadable_content(tmp_path: Path, content: bytes, fragments: list[str]) -> None:
    path = tmp_path / "x.xml"
    path.write_bytes(content)
    with pytest.raises(UnreadableFileError) as raised:
        _parse(path)
    for fragment in fragments:
        assert fragment in str(raised.value)


def test_external_entities_are_never_resolved(tmp_path: Path) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text("TOP-SECRET", "utf-8")
    item = _one(
        tmp_path,
        '<iati-activity><iati-identifier>X-1</iati-identifier><reporting-org ref="X"/>'
        "<title><narrative>&leak;</narrative></title></iati-activity>",
        root=f'<!DOCTYPE iati-activities [<!ENTITY leak SYSTEM "{secret.as_uri()}">]>\n{DPORTAL_ROOT}',
    )
    assert isinstance(item, ProgrammeRecord)
    assert "TOP-SECRET" not in (item.title or "")


# ------------------------------------------------------------------------------------------ scale


def test_memory_stays_flat_on_a_large_file(tmp_path: Path) -> None:
    """About 60 MB of activities: without freeing each parsed activity the tree alone would take ~500 MB."""
    path = tmp_path / "large.xml"
    title = "Human rights and access to justice " * 60
    sectors = '<sector code="15160" percentage="50"/>' * 20
    activity = (
        '<iati-activity ns0:dataset="x"><iati-identifier>BIG-{n}</iati-identifier><reporting-org ref="XM-BIG"/>'
        f"<title><narrative>{title}</narrative></title>{sectors}</iati-activity>\n"
    )
    with path.open("w", encoding="utf-8") as handle:
        handle.write(DPORTAL_ROOT + "\n")
        for number in range(20_000):
            handle.write(activity.replace("{n}", str(number)))
        handle.write("</iati-activities>\n")
    before_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    count = sum(1 for item in iter_iati_activities(path) if isinstance(item, ProgrammeRecord))
    grown_mib = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before_kib) / 1024
    assert count == 20_000
    assert grown_mib < 150, f"peak memory grew by {grown_mib:.0f} MiB while streaming {path.stat().st_size >> 20} MiB"


@pytest.mark.skipif(not FULL_CORPUS.is_dir(), reason="the full IATI corpus exists only on the development machine")
def test_every_real_activity_of_the_full_corpus_loads() -> None:
    started = time.perf_counter()
    records = 0
    problems: list[tuple[str, RecordProblem]] = []
    for path in sorted(FULL_CORPUS.glob("*.xml")):
        for item in iter_iati_activities(path):
            if isinstance(item, ProgrammeRecord):
                records += 1
            else:
                problems.append((path.name, item))
    elapsed = time.perf_counter() - started
    print(f"\nfull corpus: {records} records, {len(problems)} problems in {elapsed:.2f}s", file=sys.stderr)
    assert records == 3229
    assert problems == []


@pytest.mark.parametrize(
    ("budgets", "fragments"),
    [
        ("<budget><value>-152000</value></budget><budget><value>-152000</value></budget>", ["-304000", "negative"]),
        ('<budget type="1"><value>99999999999999999</value></budget>', ["99999999999999999", "too large"]),
        (
            "<budget><value>6e15</value></budget><budget><value>6e15</value></budget>",
            ["12000000000000000", "too large"],
        ),
    ],
)
def test_a_negative_or_out_of_range_budget_is_dropped_with_its_reason(
    tmp_path: Path, budgets: str, fragments: list[str]
) -> None:
    record = _record(tmp_path, budgets, attributes='default-currency="USD"')
    assert (record.budget_value, record.budget_currency) == (None, None)
    [problem] = [problem for problem in record.value_problems if "without a budget" in problem.message]
    assert (problem.record_number, problem.field, problem.programme_id) == (1, "budget/value", "TEST-1")
    assert problem.record_loaded
    for fragment in fragments:
        assert fragment in problem.message


def test_budget_lines_and_dates_left_out_are_reported_not_silently_dropped(tmp_path: Path) -> None:
    """A line in another currency, a value that is not a number and a date that is not a date all leave the
    activity loaded, each with a problem naming its field, so the agency sees what did not arrive."""
    record = _record(
        tmp_path,
        '<budget><value currency="EUR">100000</value></budget><budget><value>900000</value></budget>'
        '<budget><value>1,250,000</value></budget><activity-date type="1" iso-date="01/02/2024"/>',
        attributes='default-currency="USD"',
    )
    assert (record.budget_value, record.budget_currency) == (100000.0, "EUR")
    problems = {problem.field: problem.message for problem in record.value_problems}
    assert set(problems) == {"budget/value/@currency", "budget/value", "activity-date/@iso-date"}
    assert "900000 USD is left out" in problems["budget/value/@currency"]
    assert "'1,250,000' is not a number" in problems["budget/value"]
    assert "'01/02/2024' (type 1) is not a date" in problems["activity-date/@iso-date"]
    assert all(problem.record_loaded and problem.programme_id == "TEST-1" for problem in record.value_problems)


def test_negative_budget_lines_adding_up_to_zero_or_more_are_kept(tmp_path: Path) -> None:
    record = _record(tmp_path, "<budget><value>500</value></budget><budget><value>-200.25</value></budget>")
    assert record.budget_value == pytest.approx(299.75)
    # Netted, but said so: a negative line is often a correction the agency should check.
    [note] = record.value_problems
    assert (note.field, note.record_loaded) == ("budget/value", True) and "-200.25 are netted" in note.message


def test_related_activities_are_kept_with_their_relation_type(gold: dict[str, ProgrammeRecord]) -> None:
    """A UNDP output names its project (type 1) and a sibling output (type 3); the project names its outputs (2)."""
    output = gold["XM-DAC-41114-OUTPUT-00121495"]
    related = {(code.vocabulary, code.code) for code in output.codes if code.code_type == "related_activity"}
    assert related == {("1", "XM-DAC-41114-PROJECT-00127449"), ("3", "XM-DAC-41114-OUTPUT-00121384")}
    project = gold["XM-DAC-41114-PROJECT-00127845"]
    children = sorted(code.code for code in project.codes if code.code_type == "related_activity")
    assert children == [f"XM-DAC-41114-OUTPUT-0012178{n}" for n in (8, 9)] + ["XM-DAC-41114-OUTPUT-00121790"]
