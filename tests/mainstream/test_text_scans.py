"""Programme texts are scanned for criteria phrases once per scan version (int_text_spans), for real builds."""

from __future__ import annotations

from pathlib import Path

import duckdb

from mainstream.cli import main
from mainstream.home import SAMPLE_DATA_DIR, Home
from mainstream.pipeline import build_audit_publish, ingest_paths
from tests.helpers import FIXTURES


def _query(path: Path, sql: str) -> list[tuple]:
    with duckdb.connect(str(path), read_only=True) as connection:
        return connection.execute(sql).fetchall()


def test_a_build_keeps_the_spans_an_earlier_build_found_and_a_rebuild_scans_again(tmp_path: Path) -> None:
    """A later build does not scan a text again: a span planted in the build file for a published text reaches the
    published evidence, which only a kept span can; a full refresh (process --rebuild) scans every text again."""
    home = Home(tmp_path / "home").ensure()
    ingest_paths([FIXTURES / "iati" / "gold_dev.xml"], home)
    build_audit_publish(home)
    programme_id = "XM-DAC-41122-Costa Rica-1020/A0/06/002/003"
    with duckdb.connect(str(home.build_db)) as connection:
        [(text_key,)] = connection.execute(
            "select any_value(texts.text_key) from intermediate.int_programme_texts as texts"
            " join intermediate.int_text_spans as spans using (text_key)"
            " where texts.programme_text_id like ? and spans.span_number > 0",
            [f"{programme_id}|%"],
        ).fetchall()
        connection.execute(
            "update intermediate.int_text_spans set matched_span = 'peacebuilding' where text_key = ?", [text_key]
        )

    def peace_evidence() -> list[tuple]:
        return _query(
            home.published_db,
            "select rule_id::varchar from fct_programme_evidence"
            f" where programme_id = '{programme_id}' and rule_id = 'text.peace.peacebuilding'",
        )

    assert peace_evidence() == []
    build_audit_publish(home)
    assert peace_evidence() == [("text.peace.peacebuilding",)]
    build_audit_publish(home, full_refresh=True)
    assert peace_evidence() == []


def test_a_retracted_extract_leaves_nothing_it_matched_in_the_marts(tmp_path: Path) -> None:
    """The spans of texts no longer published are forgotten by the next build, so the words only a retracted
    extract matched are not even values of the published ENUM types (they would be readable with enum_range)."""
    home = Home(tmp_path / "home").ensure()
    ingest_paths([FIXTURES / "iati" / "gold_dev.xml"], home)
    [withdrawn] = ingest_paths([SAMPLE_DATA_DIR / "csv" / "undp" / "programmes.csv"], home, agency="undp")
    build_audit_publish(home)
    [(only_withdrawn,)] = _query(
        home.published_db,
        """
        select list(distinct e.matched_text::varchar)
        from fct_programme_evidence e join dim_programme p using (programme_id)
        where p.extract_id = ? and e.matched_text::varchar not in (
            select e2.matched_text::varchar from fct_programme_evidence e2
            join dim_programme p2 using (programme_id) where p2.extract_id <> ?)
        """.replace("?", f"'{withdrawn.extract_id}'"),
    )
    assert only_withdrawn, "the CSV's programmes match words no other programme does"

    assert main(["--home", str(home.root), "retract", withdrawn.extract_id, "--reason", "test data"]) == 0

    with duckdb.connect(str(home.build_db), read_only=True) as connection:
        [(stale_texts,)] = connection.execute(
            "select count(distinct spans.text_key) from intermediate.int_text_spans as spans"
            " anti join intermediate.int_programme_texts as texts on texts.text_key = spans.text_key"
        ).fetchall()
    assert stale_texts == 0
    [(published_words,)] = _query(
        home.published_db, "select enum_range(any_value(matched_text)) from fct_programme_evidence"
    )
    assert not set(only_withdrawn) & set(published_words)


def test_spans_of_another_scan_version_or_from_before_scan_versions_are_scanned_again(tmp_path: Path) -> None:
    """The pre-hook forgets rows whose scan_version is not the current scan's (the phrases changed since), and
    replaces a table built before scan versions existed; either way the build scans every text again, so a span
    planted in those rows does not survive."""
    home = Home(tmp_path / "home").ensure()
    ingest_paths([FIXTURES / "iati" / "gold_dev.xml"], home)
    build_audit_publish(home)

    def planted_spans() -> int:
        with duckdb.connect(str(home.build_db), read_only=True) as connection:
            [(planted,)] = connection.execute(
                "select count(*) from intermediate.int_text_spans where matched_span = 'planted span'"
            ).fetchall()
        return planted

    with duckdb.connect(str(home.build_db)) as connection:
        [(current_version,)] = connection.execute(
            "select any_value(scan_version) from intermediate.int_text_spans"
        ).fetchall()
        connection.execute(
            "update intermediate.int_text_spans set scan_version = 'scan-earlier', matched_span = 'planted span'"
            " where span_number = 1"
        )
    build_audit_publish(home)
    assert planted_spans() == 0

    with duckdb.connect(str(home.build_db)) as connection:
        connection.execute(
            "create or replace table intermediate.int_text_spans as"
            " select text_key, span_number, case when span_number = 1 then 'planted span' else matched_span end"
            " as matched_span from intermediate.int_text_spans"
        )
    build_audit_publish(home)
    assert planted_spans() == 0
    with duckdb.connect(str(home.build_db), read_only=True) as connection:
        rows, of_current_scan = connection.execute(
            "select count(*), count(*) filter (where scan_version = ?) from intermediate.int_text_spans",
            [current_version],
        ).fetchone()
    assert rows == of_current_scan > 0
