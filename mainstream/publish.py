"""Publish audited marts atomically: copy them into a new DuckDB file, then rename it over the old one.

An analyst's read-only connection to the published file never blocks a publication (the build file is
never the published file, and the new file is written under another name), and never sees half of one
(the rename is atomic; an open connection keeps reading the file it opened).
"""

from __future__ import annotations

import json
import logging
import os
from dataclasses import dataclass
from pathlib import Path

import duckdb

from mainstream.ledger import utc_now

log = logging.getLogger(__name__)

#: Schemas of the build file that are published, and the schema each lands in.
PUBLISHED_SCHEMAS = {"marts": "main", "criteria": "criteria", "reference": "reference"}


@dataclass(frozen=True)
class Publication:
    path: Path
    run_id: str
    published_at: str
    tables: list[str]


def publish(build_db: Path, published_db: Path, run_id: str, audit_summary: dict) -> Publication:
    """Copy the marts (and the criteria that explain them) from ``build_db`` to ``published_db``."""
    published_db.parent.mkdir(parents=True, exist_ok=True)
    temporary = published_db.with_name(f".{published_db.name}.{run_id}.tmp")
    temporary.unlink(missing_ok=True)
    published_at = utc_now()
    connection = duckdb.connect()
    tables: list[str] = []
    try:
        connection.execute(f"attach {_quote(build_db)} as build (read_only)")
        connection.execute(f"attach {_quote(temporary)} as publication")
        for source_schema, target_schema in PUBLISHED_SCHEMAS.items():
            names = [
                row[0]
                for row in connection.execute(
                    "select table_name from duckdb_tables() where database_name = 'build' and schema_name = ?"
                    " order by table_name",
                    [source_schema],
                ).fetchall()
            ]
            if target_schema != "main":
                connection.execute(f'create schema if not exists publication."{target_schema}"')
            for name in names:
                connection.execute(
                    f'create table publication."{target_schema}"."{name}" as '
                    f'select * from build."{source_schema}"."{name}"'
                )
                tables.append(f"{target_schema}.{name}")
        if not any(table.startswith("main.") for table in tables):
            raise RuntimeError(f"{build_db}: no marts to publish (was dbt build run?)")
        # The criteria version every tag of this publication records, once, next to the run that published it.
        connection.execute(
            "create table publication.main.publication as select ? as run_id, ?::timestamptz as published_at, "
            "? as audit_summary, (select criteria_version from build.intermediate.int_criteria_version) "
            "as criteria_version",
            [run_id, published_at, json.dumps(audit_summary)],
        )
        connection.execute("detach publication")
        connection.execute("detach build")
    except BaseException:
        connection.close()
        temporary.unlink(missing_ok=True)
        raise
    connection.close()
    _fsync(temporary)
    os.replace(temporary, published_db)
    log.info("published %d tables to %s", len(tables), published_db)
    return Publication(published_db, run_id, published_at, tables)


def _quote(path: Path) -> str:
    """A path as a SQL string literal (ATTACH takes no parameters)."""
    return "'" + str(path).replace("'", "''") + "'"


def _fsync(path: Path) -> None:
    with path.open("rb") as handle:
        os.fsync(handle.fileno())
