"""Programme texts are scanned for criteria phrases once per scan version (int_text_spans), for real builds."""

from __future__ import annotations

from pathlib import Path

import duckdb

from mainstream.home import Home
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
