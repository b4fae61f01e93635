"""Publishing is atomic and never blocked by analysts holding the published file."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import duckdb
import pytest

from mainstream.publish import publish


def _build_file(path: Path, programmes: list[str]) -> Path:
    with duckdb.connect(str(path)) as connection:
        connection.execute("create schema marts")
        connection.execute("create schema criteria")
        connection.execute("create schema staging")
        connection.execute("create table marts.dim_programme (programme_id varchar)")
        connection.executemany("insert into marts.dim_programme values (?)", [[p] for p in programmes])
        connection.execute("create table criteria.criteria_pillars as select 'peace' as pillar_code")
        connection.execute("create table staging.private_table as select 1 as x")
        connection.execute("create schema intermediate")
        connection.execute(
            "create table intermediate.int_criteria_version as select 'crit-0123456789ab' as criteria_version"
        )
    return path


def _programmes(connection: duckdb.DuckDBPyConnection) -> list[str]:
    return [row[0] for row in connection.execute("select programme_id from dim_programme order by 1").fetchall()]


def test_publish_copies_marts_and_criteria_but_not_private_schemas(tmp_path: Path) -> None:
    build = _build_file(tmp_path / "build.duckdb", ["A", "B"])
    published = tmp_path / "published" / "mainstream.duckdb"
    publication = publish(build, published, "run-1", {"success": True})
    assert sorted(publication.tables) == ["criteria.criteria_pillars", "main.dim_programme"]
    with duckdb.connect(str(published), read_only=True) as connection:
        assert _programmes(connection) == ["A", "B"]
        assert connection.execute("select run_id, criteria_version from publication").fetchone() == (
            "run-1",
            "crit-0123456789ab",
        )
        schemas = {row[0] for row in connection.execute("select schema_name from duckdb_schemas()").fetchall()}
        assert "staging" not in schemas
    assert list(published.parent.iterdir()) == [published], "no temporary file is left behind"


def test_reader_holding_the_published_file_neither_blocks_nor_sees_half_a_publication(tmp_path: Path) -> None:
    published = tmp_path / "published" / "mainstream.duckdb"
    publish(_build_file(tmp_path / "build1.duckdb", ["A", "B"]), published, "run-1", {})
    analyst = duckdb.connect(str(published), read_only=True)
    try:
        assert _programmes(analyst) == ["A", "B"]
        publish(_build_file(tmp_path / "build2.duckdb", ["C", "D", "E"]), published, "run-2", {})
        assert _programmes(analyst) == ["A", "B"], "an open connection keeps its whole snapshot"
        # A new analyst process opens the new publication (in this process DuckDB would reuse the open instance).
        assert _read_in_another_process(published) == "run-2:C,D,E"
    finally:
        analyst.close()


def _read_in_another_process(published: Path) -> str:
    script = (
        "import duckdb, sys; c = duckdb.connect(sys.argv[1], read_only=True); "
        "run = c.execute('select run_id from publication').fetchone()[0]; "
        "ids = [r[0] for r in c.execute('select programme_id from dim_programme order by 1').fetchall()]; "
        "print(run + ':' + ','.join(ids))"
    )
    completed = subprocess.run(
        [sys.executable, "-c", script, str(published)], capture_output=True, text=True, check=True
    )
    return completed.stdout.strip()


def test_failed_publication_keeps_the_previous_one(tmp_path: Path) -> None:
    published = tmp_path / "published" / "mainstream.duckdb"
    publish(_build_file(tmp_path / "build1.duckdb", ["A"]), published, "run-1", {})
    empty_build = tmp_path / "empty.duckdb"
    duckdb.connect(str(empty_build)).close()
    with pytest.raises(RuntimeError, match="no marts to publish"):
        publish(empty_build, published, "run-2", {})
    with duckdb.connect(str(published), read_only=True) as connection:
        assert connection.execute("select run_id from publication").fetchone() == ("run-1",)
    assert list(published.parent.iterdir()) == [published]
