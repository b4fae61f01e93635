"""Ingest each drop the landing watcher claims (or files/folders given by hand) into the Parquet raw zone.

Runs on every ``landing_drops`` asset event. Trigger it by hand for a backfill, e.g.
``airflow dags trigger mainstream_ingest --conf '{"paths": ["/data/archive/2026"], "agency": "undp"}'``.
Emits ``raw_extracts`` (which runs ``mainstream_publish``) only when programme rows were loaded, by this run or
by an earlier one or try, that no finished build holds yet; otherwise the task ends skipped.
One run at a time: drops claimed meanwhile are collapsed into the next run, and the duplicate check (same
content already loaded?) never races a concurrent ingest.
"""

from __future__ import annotations

from datetime import timedelta

from airflow.sdk import Param, dag, task

from mainstream.assets import landing_drops, raw_extracts


@dag(
    dag_id="mainstream_ingest",
    schedule=[landing_drops],
    catchup=False,
    max_active_runs=1,
    tags=["mainstream"],
    default_args={"retries": 2, "retry_delay": timedelta(seconds=10)},
    params={
        "paths": Param([], type="array", items={"type": "string"}, description="Files or folders to ingest."),
        "agency": Param(
            None, type=["null", "string"], description="Agency of tabular files given in paths (e.g. undp)."
        ),
    },
    doc_md=__doc__,
)
def mainstream_ingest():
    @task(outlets=[raw_extracts])
    def ingest_drops(**context) -> dict:
        from mainstream.airflow_tasks import ingest_from_context

        return ingest_from_context(context)

    ingest_drops()


mainstream_ingest()
