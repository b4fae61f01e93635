"""The one directory that holds every piece of state the pipeline writes (``MAINSTREAM_HOME``)."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

#: The repository root: dbt_project/, expectations/ and sample_data/ are found relative to it.
PROJECT_ROOT = Path(__file__).resolve().parent.parent
DBT_PROJECT_DIR = PROJECT_ROOT / "dbt_project"
EXPECTATIONS_DIR = PROJECT_ROOT / "expectations"
SAMPLE_DATA_DIR = PROJECT_ROOT / "sample_data"
DAGS_DIR = PROJECT_ROOT / "dags"


@dataclass(frozen=True)
class Home:
    """Paths under ``MAINSTREAM_HOME``; nothing the pipeline writes lives anywhere else."""

    root: Path

    @classmethod
    def from_env(cls) -> Home:
        """The home named by ``MAINSTREAM_HOME``, or ``./var`` when unset."""
        return cls(Path(os.environ.get("MAINSTREAM_HOME", "var")).resolve())

    @property
    def landing(self) -> Path:
        """The embedded ingest bucket: agencies drop files into ``landing/<agency>/``."""
        return self.root / "landing"

    @property
    def claimed(self) -> Path:
        """Files taken off ``landing/`` by the watcher and not yet archived or quarantined."""
        return self.root / "claimed"

    @property
    def archive(self) -> Path:
        return self.root / "archive"

    @property
    def quarantine(self) -> Path:
        return self.root / "quarantine"

    @property
    def raw(self) -> Path:
        """Raw zone: one immutable Parquet file per extract and raw table."""
        return self.root / "raw"

    @property
    def retracted(self) -> Path:
        """Raw files of retracted extracts, one folder per extract (out of every build, kept)."""
        return self.root / "retracted"

    @property
    def warehouse(self) -> Path:
        return self.root / "warehouse"

    @property
    def build_db(self) -> Path:
        """The private DuckDB file dbt writes; analysts never open it."""
        return self.warehouse / "build.duckdb"

    @property
    def published(self) -> Path:
        return self.root / "published"

    @property
    def published_db(self) -> Path:
        """The audited marts analysts open (read-only)."""
        return self.published / "mainstream.duckdb"

    @property
    def state_db(self) -> Path:
        """SQLite ledger of drops, builds, audits and publications."""
        return self.root / "state" / "ledger.sqlite"

    @property
    def dbt_target(self) -> Path:
        return self.root / "dbt" / "target"

    @property
    def dbt_logs(self) -> Path:
        return self.root / "dbt" / "logs"

    @property
    def gx_results(self) -> Path:
        return self.root / "audit"

    @property
    def airflow_home(self) -> Path:
        return self.root / "airflow"

    def ensure(self) -> Home:
        """Create every directory of the layout (idempotent) and return self."""
        for path in (
            self.landing,
            self.claimed,
            self.archive,
            self.quarantine,
            self.raw,
            self.warehouse,
            self.published,
            self.state_db.parent,
            self.dbt_target,
            self.dbt_logs,
            self.gx_results,
        ):
            path.mkdir(parents=True, exist_ok=True)
        return self
