"""The dbt seeds Python reads too (agencies, countries, rights-holder groups): one reading of the same CSV files
dbt loads, so the ingest and the evaluation agree with the warehouse."""

from __future__ import annotations

import csv

from mainstream.home import DBT_PROJECT_DIR


def seed_rows(folder: str, name: str) -> list[dict[str, str]]:
    """The rows of ``dbt_project/seeds/<folder>/<name>.csv``, each a dict keyed by the header."""
    with (DBT_PROJECT_DIR / "seeds" / folder / f"{name}.csv").open(newline="", encoding="utf-8") as seed:
        return list(csv.DictReader(seed))
