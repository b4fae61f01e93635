"""Build (dbt), audit (Great Expectations) and publish the marts whenever new extracts reach the raw zone.

Runs on every ``raw_extracts`` asset event (events that arrive while a run is busy are collapsed into the
next run: ``max_active_runs=1``), or by hand: ``airflow dags trigger mainstream_publish`` (with
``--conf '{"full_refresh": true}'`` to build from scratch, every programme text scanned again). A failed audit
fails the ``audit`` task with the failed expectations and keeps the previous publication.
"""

from __future__ import annotations

from datetime import timedelta

from airflow.sdk import Param, dag, task

from mainstream.assets import published_marts, raw_extracts


@dag(
    dag_id="mainstream_publish",
    schedule=[raw_extracts],
    catchup=False,
    max_active_runs=1,
    tags=["mainstream"],
    default_args={"retries": 1, "retry_delay": timedelta(seconds=10)},
    params={
        "full_refresh": Param(
            False,
            type="boolean",
            description=(
                "Build from scratch (dbt build --full-refresh): scan every programme text again instead of only "
                "the texts not scanned with the current phrases."
            ),
        ),
    },
    doc_md=__doc__,
)
def mainstream_publish():
    @task
    def build(**context) -> str:
        from mainstream.airflow_tasks import build_from_context

        return build_from_context(context)

    # The ledger's run id is passed as ``pipeline_run``: ``run_id`` is a reserved context key.
    @task
    def audit(pipeline_run: str) -> str:
        from mainstream.airflow_tasks import audit_run

        return audit_run(pipeline_run)

    @task(outlets=[published_marts])
    def publish(pipeline_run: str) -> dict:
        from mainstream.airflow_tasks import publish_audited_run

        return publish_audited_run(pipeline_run)

    publish(audit(build()))


mainstream_publish()
