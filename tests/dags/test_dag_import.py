"""The DAG files parse, declare the expected schedules and outlets, and do no I/O at parse time."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from mainstream.home import DAGS_DIR, PROJECT_ROOT

EXPECTED_DAGS = {"mainstream_ingest", "mainstream_publish"}


@pytest.fixture(scope="module")
def dagbag():
    from airflow.dag_processing.dagbag import DagBag

    return DagBag(dag_folder=str(DAGS_DIR))


def _asset_names(dag) -> list[str]:
    """The assets a DAG is scheduled on (``schedule=[a, b]`` is the condition ``AssetAll(a, b)``)."""
    return sorted(asset.name for asset in dag.timetable.asset_condition.objects)


def test_dags_import_without_errors(dagbag):
    assert dagbag.import_errors == {}
    assert set(dagbag.dag_ids) == EXPECTED_DAGS


def test_ingest_dag_runs_on_landing_drops_and_emits_raw_extracts(dagbag):
    from mainstream.assets import landing_drops, raw_extracts
    from mainstream.watcher import LandingFileTrigger

    dag = dagbag.dags["mainstream_ingest"]
    assert _asset_names(dag) == [landing_drops.name]
    assert dag.catchup is False
    assert dag.max_active_runs == 1, "concurrent ingests would race on the duplicate check"
    [watcher] = landing_drops.watchers
    assert isinstance(watcher.trigger, LandingFileTrigger)
    [task] = dag.tasks
    assert task.task_id == "ingest_drops"
    assert [asset.uri for asset in task.outlets] == [raw_extracts.uri]
    assert task.retries == 2
    assert task.retry_delay.total_seconds() == 10
    assert dag.params["paths"] == []
    assert dag.params["agency"] is None


def test_publish_dag_runs_on_raw_extracts_one_run_at_a_time(dagbag):
    from mainstream.assets import published_marts, raw_extracts

    dag = dagbag.dags["mainstream_publish"]
    assert _asset_names(dag) == [raw_extracts.name]
    assert dag.max_active_runs == 1
    assert dag.catchup is False
    assert [task.task_id for task in dag.topological_sort()] == ["build", "audit", "publish"]
    publish = dag.get_task("publish")
    assert [asset.uri for asset in publish.outlets] == [published_marts.uri]
    assert dag.get_task("build").outlets == []
    assert dag.params["full_refresh"] is False


def test_asset_uris_name_paths_under_mainstream_home():
    from mainstream.assets import home, landing_drops, published_marts, raw_extracts

    assert landing_drops.uri == home.landing.as_uri()
    assert raw_extracts.uri == home.raw.as_uri()
    assert published_marts.uri == home.published_db.as_uri()
    trigger = landing_drops.watchers[0].trigger
    assert (trigger.landing_dir, trigger.claimed_dir) == (str(home.landing), str(home.claimed))


PARSE_SCRIPT = """
import json, sys
from airflow.dag_processing.dagbag import DagBag
bag = DagBag(dag_folder=sys.argv[1])
heavy = [name for name in ("duckdb", "pyarrow", "great_expectations", "dbt", "lxml", "ingest.drops") if name in sys.modules]
print(json.dumps({"dags": sorted(bag.dag_ids), "errors": {k: str(v) for k, v in bag.import_errors.items()}, "heavy": heavy}))
"""


def test_parsing_dag_files_touches_no_files_and_imports_nothing_heavy(tmp_path: Path):
    """Parse in a fresh interpreter: no directory appears under MAINSTREAM_HOME, no heavy module is loaded."""
    mainstream_home = tmp_path / "fresh-home"
    airflow_home = tmp_path / "airflow-home"
    env = {name: value for name, value in os.environ.items() if not name.startswith("AIRFLOW")}
    env.update(
        MAINSTREAM_HOME=str(mainstream_home),
        AIRFLOW_HOME=str(airflow_home),
        AIRFLOW__CORE__LOAD_EXAMPLES="False",
        AIRFLOW__USAGE_DATA_COLLECTION__ENABLED="False",
    )
    result = subprocess.run(
        [sys.executable, "-c", PARSE_SCRIPT, str(DAGS_DIR)],
        capture_output=True,
        text=True,
        env=env,
        cwd=PROJECT_ROOT,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert report["errors"] == {}
    assert set(report["dags"]) == EXPECTED_DAGS
    assert not mainstream_home.exists(), sorted(str(p) for p in mainstream_home.rglob("*"))
    assert report["heavy"] == [], "imported at DAG parse time"
