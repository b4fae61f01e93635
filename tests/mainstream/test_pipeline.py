"""The whole pipeline for real: ingest → dbt build → GX audit → publish, on real IATI records and a CSV."""

from __future__ import annotations

import csv
import json
import re
import shutil
from pathlib import Path

import duckdb
import pytest

from mainstream.cli import main
from mainstream.home import DBT_PROJECT_DIR, SAMPLE_DATA_DIR, Home
from mainstream.ledger import Ledger
from mainstream.pipeline import (
    AuditBlockedError,
    BuildChangedError,
    audit,
    build,
    build_audit_publish,
    built_run_id,
    ingest_paths,
    publish_run,
    start_run,
)
from tests.helpers import FIXTURES

pytestmark = pytest.mark.xdist_group("pipeline")


@pytest.fixture(scope="module")
def published_home(tmp_path_factory: pytest.TempPathFactory) -> Home:
    home = Home(tmp_path_factory.mktemp("pipeline") / "home").ensure()
    ingest_paths([FIXTURES / "iati" / "gold_dev.xml", SAMPLE_DATA_DIR / "csv" / "undp" / "programmes.csv"], home)
    build_audit_publish(home)
    return home


def _query(path: Path, sql: str) -> list[tuple]:
    with duckdb.connect(str(path), read_only=True) as connection:
        return connection.execute(sql).fetchall()


def test_published_marts_hold_every_programme_with_lineage(published_home: Home) -> None:
    rows = _query(
        published_home.published_db, "select source_format, count(*) from dim_programme group by 1 order by 1"
    )
    assert rows == [("csv", 12), ("iati_xml", 33)]
    agencies = _query(
        published_home.published_db,
        "select agency_code, count(*) from dim_programme where source_file = 'gold_dev.xml' group by 1 order by 1",
    )
    assert agencies == [
        ("fao", 3),
        ("iom", 5),
        ("ocha-cbpf", 4),
        ("ocha-cerf", 2),
        ("undp", 10),
        ("unhcr", 1),
        ("unicef", 2),
        ("unido", 1),
        ("unwomen", 2),
        ("who", 3),
    ], "the agency of IATI XML comes from reporting-org"
    csv_agencies = _query(
        published_home.published_db, "select distinct agency_code from dim_programme where source_format = 'csv'"
    )
    assert csv_agencies == [("undp",)], "the agency of a CSV comes from its folder"
    lineage = _query(
        published_home.published_db,
        "select count(*) from dim_programme where extract_id is null or content_hash is null or record_number is null",
    )
    assert lineage == [(0,)]


def test_every_tag_carries_rule_field_matched_text_and_criteria_version(published_home: Home) -> None:
    [(tags, incomplete, versions)] = _query(
        published_home.published_db,
        """
        select count(*),
               count(*) filter (where rule_id is null or source_field is null or matched_text is null),
               count(distinct criteria_version)
        from fct_programme_tag
        """,
    )
    assert tags > 100 and incomplete == 0 and versions == 1
    rights_without_marker = _query(
        published_home.published_db, "select count(*) from dim_programme where is_rights <> (hr_marker >= 2)"
    )
    assert rights_without_marker == [(0,)]
    no_pillar = _query(
        published_home.published_db,
        "select count(*) from dim_programme where not (is_peace or is_development or is_rights)",
    )
    assert no_pillar == [(0,)]


def test_every_text_evidence_is_found_in_the_published_text_it_cites(published_home: Home) -> None:
    """An analyst can read each text tag's words where they were found: dim_programme_text's field, normalised."""
    [(evidence, without_text, not_found)] = _query(
        published_home.published_db,
        r"""
        select
            count(*),
            count(*) filter (where texts.programme_id is null),
            count(*) filter (where not contains(
                regexp_replace(
                    replace(replace(strip_accents(lower(texts.published_text)), chr(8217), chr(39)), chr(8216), chr(39)),
                    '\s+', ' ', 'g'
                ),
                evidence.matched_text::varchar
            ))
        from fct_programme_evidence as evidence
        left join dim_programme_text as texts
            on texts.programme_id = evidence.programme_id
            and texts.source_field::varchar = evidence.source_field::varchar
        where evidence.rule_kind = 'text'
        """,
    )
    assert evidence > 100
    assert (without_text, not_found) == (0, 0)


def test_gbv_child_protection_record_is_principal_with_cited_evidence(published_home: Home) -> None:
    [(marker, justification, groups)] = _query(
        published_home.published_db,
        """
        select p.hr_marker, p.marker_justification,
               list(t.criterion_code order by t.criterion_code) filter (where t.criterion_type = 'group')
        from dim_programme p join fct_programme_tag t using (programme_id)
        where p.programme_id = 'XM-DAC-41122-Costa Rica-1020/A0/06/002/003'
        group by all
        """,
    )
    assert marker == 3
    assert justification.startswith("Marker 3 (principal): ")
    assert "children" in groups


def test_every_justification_cites_evidence_in_plain_words_with_its_rule(published_home: Home) -> None:
    """Each citation reads 'what the rule recognises: "matched text" in field [rule id]': the words are the rule's
    evidence_label from the criteria seeds, and the rule id and matched text find the programme's own evidence."""
    labels: dict[str, str] = {}
    for seed in ("criteria_text_rules.csv", "criteria_code_rules.csv"):
        with (DBT_PROJECT_DIR / "seeds" / "criteria" / seed).open(encoding="utf-8") as rules_file:
            labels |= {row["rule_id"]: row["evidence_label"] for row in csv.DictReader(rules_file)}
    rows = _query(
        published_home.published_db,
        """
        select p.programme_id, p.hr_marker, p.marker_justification,
               list(distinct e.rule_id::varchar || '|' || e.matched_text::varchar) filter (where e.rule_id is not null)
        from dim_programme p left join fct_programme_evidence e using (programme_id)
        group by all
        """,
    )
    citation = re.compile(r'(?P<label>[^;]+?): "(?P<text>[^"]*)" in (?P<field>[^\[;]+) \[(?P<rule>[^\]]+)\]')
    cited = 0
    for programme_id, marker, justification, evidence in rows:
        body = justification.split("): ", 1)[1]
        citations = [match.groupdict() for match in citation.finditer(body)]
        if marker == 0 and not citations:
            continue
        assert 1 <= len(citations) <= 3, (programme_id, justification)
        for found in citations:
            assert found["label"].lstrip("; ") == labels[found["rule"]], (programme_id, found)
            assert f"{found['rule']}|{found['text']}" in evidence, (programme_id, found)
        cited += len(citations)
    assert cited > 50


def test_eval_command_reports_metrics_as_json(published_home: Home, capsys: pytest.CaptureFixture[str]) -> None:
    code = main(
        ["--home", str(published_home.root), "eval", "--labels", str(FIXTURES / "gold" / "dev.jsonl"), "--json"]
    )
    report = json.loads(capsys.readouterr().out)
    assert code == 0
    assert report["evaluated"] == 33 and report["not_found"] == []
    assert set(report) >= {"peace", "development", "rights", "humanitarian", "hr_marker", "groups"}
    assert 0 <= report["hr_marker"]["exact"] <= report["hr_marker"]["within_one"] <= 1
    assert sum(map(sum, report["hr_marker"]["confusion"]["matrix"])) == 33
    # Issue 3's quality targets, held on the dev set the criteria were calibrated on: a rule change that
    # breaks a label here is a regression.
    floors = {"peace": 0.90, "development": 0.90, "rights": 0.90, "humanitarian": 0.93, "groups": 0.85}
    below = {label: report[label]["f1"] for label, floor in floors.items() if report[label]["f1"] < floor}
    assert not below, f"F1 below the targets on the dev set: {below}"
    assert report["hr_marker"]["exact"] >= 0.75 and report["hr_marker"]["within_one"] >= 0.95


def test_failed_audit_blocks_publication_and_is_recorded(published_home: Home, tmp_path: Path) -> None:
    home = Home(tmp_path / "home")
    shutil.copytree(published_home.root, home.root)
    before = _query(home.published_db, "select run_id from publication")
    with duckdb.connect(str(home.build_db)) as connection:
        connection.execute("update marts.dim_programme set hr_marker = 7 where programme_id like 'UNDP-CSV-%'")
    run, ledger = start_run(home, trigger="test")
    (home.warehouse / "build.stamp").write_text(run.run_id)  # as if this run had built the tampered file
    with pytest.raises(AuditBlockedError) as blocked:
        audit(home, run, ledger)
    assert any(
        item.startswith("dim_programme.hr_marker: expect_column_values_to_be_in_set")
        for item in blocked.value.run.failed_expectations
    )
    assert _query(home.published_db, "select run_id from publication") == before, "previous publication stays"
    recorded = Ledger(home.state_db).get_run(run.run_id)
    assert recorded.state == "audit_failed" and recorded.audit_success is False
    assert recorded.failed_expectations == blocked.value.run.failed_expectations
    assert json.loads(next(home.gx_results.glob(f"{run.run_id}.json")).read_text())["success"] is False


def test_a_run_whose_build_another_run_replaced_is_neither_audited_nor_published(
    published_home: Home, tmp_path: Path
) -> None:
    """Airflow builds, audits and publishes in three tasks: a build that lands in between must not ship."""
    home = Home(tmp_path / "home")
    shutil.copytree(published_home.root, home.root)
    before = _query(home.published_db, "select run_id from publication")
    audited, ledger = start_run(home, trigger="airflow:first")
    build(home, audited, ledger)
    audit(home, audited, ledger)
    assert built_run_id(home) == audited.run_id
    # Another run rebuilds the file (here: a build that fails its audit) before the first run publishes.
    rebuilt, _ = start_run(home, trigger="cli")
    build(home, rebuilt, ledger)
    with duckdb.connect(str(home.build_db)) as connection:
        connection.execute("update marts.dim_programme set hr_marker = 9")
    with pytest.raises(BuildChangedError, match=rebuilt.run_id):
        publish_run(home, audited, ledger)
    assert _query(home.published_db, "select run_id from publication") == before, "previous publication stays"
    assert Ledger(home.state_db).get_run(audited.run_id).state == "superseded"
    # A build that never finished leaves no run's build in the file: nothing built before it may be audited.
    (home.warehouse / "build.stamp").unlink()
    waiting, _ = start_run(home, trigger="airflow:second")
    waiting.run_id = rebuilt.run_id
    with pytest.raises(BuildChangedError, match="holds no finished build"):
        audit(home, waiting, ledger)


def test_status_reports_drops_audit_and_publication(published_home: Home, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--home", str(published_home.root), "status", "--json"]) == 0
    status = json.loads(capsys.readouterr().out)
    assert {drop["file_name"] for drop in status["drops"]} == {"gold_dev.xml", "programmes.csv"}
    assert status["last_publication"]["state"] == "published"
    assert status["last_publication"]["programmes"] == 45
    assert status["last_audit"]["audit_success"] is True


def test_gx_validation_results_stay_under_the_home_not_in_the_project(published_home: Home) -> None:
    from mainstream.audit import AUDITED_MARTS
    from mainstream.home import EXPECTATIONS_DIR

    stored = list((published_home.gx_results / "gx").rglob("*.json"))
    assert len(stored) >= len(AUDITED_MARTS), "one GX validation result per audited mart, under MAINSTREAM_HOME"
    started = min(path.stat().st_mtime for path in stored)
    in_project = EXPECTATIONS_DIR / "uncommitted" / "validations"
    written_there = (
        [p for p in in_project.rglob("*.json") if p.stat().st_mtime >= started] if in_project.exists() else []
    )
    assert written_there == [], "the installed expectations/ folder must not grow with every run"


def test_codes_differing_only_in_case_are_both_published(tmp_path: Path) -> None:
    # The big marts store matched codes as ENUMs built from the matches; values that differ only in case
    # must each keep their own value (a case-insensitive de-duplication would fail the build).
    home = Home(tmp_path / "home").ensure()
    ingest_paths([FIXTURES / "iati" / "case_variants.xml"], home)
    build_audit_publish(home)
    evidence = _query(
        home.published_db,
        "select programme_id, matched_text::varchar from fct_programme_evidence "
        "where source_field = 'humanitarian_scope:2-1' order by programme_id",
    )
    assert evidence == [
        ("XM-DAC-41114-CASE-LOWER", "hcovd20 (significance 2)"),
        ("XM-DAC-41114-CASE-UPPER", "HCOVD20 (significance 2)"),
    ]


def test_peace_false_friends_are_guarded_but_stabilisation_of_areas_is_peace(tmp_path: Path) -> None:
    # Nutrition "stabilization centers" and UN Women's "Peace & security & humanitarian actions" label are
    # guard phrases (criteria_text_phrases); stabilising areas retaken from armed groups stays peace.
    home = Home(tmp_path / "home").ensure()
    ingest_paths([FIXTURES / "iati" / "peace_false_friends.xml"], home)
    build_audit_publish(home)
    peace_by_programme = dict(
        _query(home.published_db, "select programme_id, is_peace from dim_programme order by programme_id")
    )
    assert peace_by_programme == {
        "XM-DAC-41114-FF-STABILISATION": True,
        "XM-DAC-41146-FF-D4": False,
        "XM-OCHA-CBPF-FF-NUTRITION": False,
    }


def test_criteria_changes_read_what_they_name(tmp_path: Path) -> None:
    # One programme per criteria change of the fourth and fifth sessions (docs/criteria.md), each written so that
    # only that change's phrase can decide the tag asserted.
    home = Home(tmp_path / "home").ensure()
    ingest_paths([FIXTURES / "iati" / "criteria_change_phrases.xml"], home)
    build_audit_publish(home)
    tags = {
        programme_id.removeprefix("XM-DAC-41114-PH-"): (marker, humanitarian)
        for programme_id, marker, humanitarian in _query(
            home.published_db, "select programme_id, hr_marker, is_humanitarian from dim_programme"
        )
    }
    groups = set(_query(home.published_db, "select programme_id, group_code::varchar from bridge_programme_group"))
    needs_rule = {
        programme_id
        for (programme_id,) in _query(
            home.published_db,
            "select programme_id from fct_programme_evidence where rule_id = 'text.protection.needs'",
        )
    }
    # Protection needs to be met are an objective (significant); social protection needs (safety nets) are not.
    assert tags["PROTECTION-NEEDS"][0] == 2
    assert needs_rule == {"XM-DAC-41114-PH-PROTECTION-NEEDS"}
    # Eighth session: nor are social protection interventions protection services (once the scan found "protection
    # interventions" in another pass than "social protection", they set marker 2).
    assert tags["SOCIAL-PROTECTION-INTERVENTIONS"][0] == 0
    # A negation cue negates only the phrase just after it: districts "without GBV and protection services" need
    # the services the programme brings (a cue two words before negated them until the eighth session).
    assert tags["WITHOUT-PROTECTION-SERVICES"][0] == 2
    # "Rights-based" counts in any phrase, not only before "approach".
    assert tags["RIGHTS-BASED"][0] == 2
    # The national response to COVID-19, and a COVID-19 medical response, are an emergency response; a national
    # response to HIV is a standing programme.
    assert tags["NATIONAL-RESPONSE"][1] and tags["MEDICAL-RESPONSE"][1]
    assert not tags["NATIONAL-RESPONSE-HIV"][1]
    # "With and without disabilities" names persons with disabilities; "female migrants" names women.
    assert ("XM-DAC-41114-PH-WITH-AND-WITHOUT", "persons_with_disabilities") in groups
    assert ("XM-DAC-41114-PH-FEMALE-MIGRANTS", "women_girls") in groups
    # "Con o sin" (with or without) names what follows both ways; a bare "sin" still negates it.
    assert ("XM-DAC-41114-PH-CON-O-SIN", "migrants") in groups
    assert ("XM-DAC-41114-PH-SIN", "migrants") not in groups
    # Fifth session, from a criteria maintainer's review: words that named the wrong thing.
    rights = set(_query(home.published_db, "select programme_id, right_code::varchar from bridge_programme_right"))
    peace = {
        programme_id
        for (programme_id,) in _query(home.published_db, "select programme_id from dim_programme where is_peace")
    }
    assert ("XM-DAC-41114-PH-ARMED-MILITANTS", "hr_defenders") not in groups  # French militants are activists
    assert ("XM-DAC-41114-PH-MILITANTS-DROITS", "hr_defenders") in groups
    assert ("XM-DAC-41114-PH-ROMA-CITY", "minorities") not in groups  # Spanish Roma is Rome
    assert ("XM-DAC-41114-PH-REFUGEE-STATUS-MENTION", "asylum_non_refoulement") not in rights
    assert ("XM-DAC-41114-PH-REFUGEE-STATUS-GRANTED", "asylum_non_refoulement") in rights
    assert "XM-DAC-41114-PH-HOUSEHOLD-TENSIONS" not in peace
    assert ("XM-DAC-41114-PH-NIVEAU-DE-VIE", "adequate_standard_of_living") in rights
    assert ("XM-DAC-41114-PH-NOT-LIMITED-TO", "family_child_protection") in rights  # "not" negates nothing
    # Sixth session, from an analyst's review: rights served where the words only set the scene.
    assert ("XM-DAC-41114-PH-SCHOOL-CLOSURES", "education") not in rights  # schools closed: the setting
    assert ("XM-DAC-41114-PH-HYGIENE-EDUCATION", "education") not in rights  # education on a topic
    assert ("XM-DAC-41114-PH-SOCIOECONOMIC-IMPACT", "work") not in rights  # an impact studied, not livelihoods
    assert ("XM-DAC-41114-PH-SDG-11A", "housing") not in rights  # a target serves only the right it names
    assert ("XM-DAC-41114-PH-SDG-11-1", "housing") in rights
    basis = dict(
        _query(
            home.published_db,
            "select programme_id, evidence_basis from bridge_programme_right where right_code = 'education'",
        )
    )
    assert basis["XM-DAC-41114-PH-SCHOOLS-REPAIRED"] == "body_single"  # the guard leaves other schools alone
    # From an OHCHR-style review: codes set no duty-bearer area or principle; group treaties need their group.
    criteria = set(
        _query(
            home.published_db,
            "select programme_id, criterion_type::varchar, criterion_code::varchar from fct_programme_tag"
            " where criterion_type in ('duty_bearer_area', 'principle')",
        )
    )
    election_code = "XM-DAC-41114-PH-ELECTIONS-CODE"
    assert not {row for row in criteria if row[0] == election_code}, "15151 and a gender marker alone set none"
    assert ("XM-DAC-41114-PH-TRANSPARENCY", "principle", "transparency") in criteria
    treaties = set(_query(home.published_db, "select programme_id, treaty_code::varchar from bridge_programme_treaty"))
    assert ("XM-DAC-41114-PH-CLINICS-FOR-ALL", "ICESCR") in treaties
    assert ("XM-DAC-41114-PH-CLINICS-FOR-ALL", "CEDAW") not in treaties
    assert ("XM-DAC-41114-PH-CLINICS-FOR-WOMEN", "CEDAW") in treaties
    # Seventh session: protection monitoring is the human rights monitoring area, at the marker
    # text.protection.services already gave it; awareness of child rights is human rights education.
    assert ("XM-DAC-41114-PH-PROTECTION-MONITORING", "duty_bearer_area", "human_rights_monitoring") in criteria
    assert tags["PROTECTION-MONITORING"][0] == 2
    assert ("XM-DAC-41114-PH-CHILD-RIGHTS-AWARENESS", "duty_bearer_area", "human_rights_education") in criteria
    # From a second OHCHR-style review: slavery, forced labour and trafficking are a right of their own, so ICCPR
    # art. 8 no longer reaches every livelihood programme; community engagement is no participation principle.
    assert ("XM-DAC-41114-PH-LIVELIHOODS", "work") in rights
    assert ("XM-DAC-41114-PH-LIVELIHOODS", "ICCPR") not in treaties
    assert ("XM-DAC-41114-PH-TRAFFICKING", "freedom_from_slavery_trafficking") in rights
    assert ("XM-DAC-41114-PH-TRAFFICKING", "ICCPR") in treaties
    assert ("XM-DAC-41114-PH-COMMUNITY-ENGAGEMENT", "principle", "participation") not in criteria
