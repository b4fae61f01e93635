"""The DAGs' behaviour, run in-process with ``dag.test()`` on a throwaway Airflow SQLite database."""

from __future__ import annotations

import shutil
from pathlib import Path

import duckdb
import pytest

from mainstream.home import DAGS_DIR, Home
from mainstream.ledger import Ledger, RunRecord, utc_now_precise
from tests import airflow_env
from tests.helpers import FIXTURES

# dag.test() runs share one Airflow database per process: keep them on one xdist worker.
pytestmark = pytest.mark.xdist_group("airflow-dag-test")

FIXTURE = FIXTURES / "iati" / "unhcr_small.xml"
PROGRAMME_IDS = ["XM-DAC-41121-2020-AME-ARGMCO", "XM-DAC-41121-2020-AME-HND", "XM-DAC-41121-2020-AME-PER"]


@pytest.fixture(scope="module")
def airflow_db() -> Path:
    return airflow_env.migrate()


@pytest.fixture
def dags(airflow_db):
    """Freshly parsed DAGs for each test: ``dag.test(run_conf=...)`` leaves the conf in the DAG's params."""
    from airflow.dag_processing.dagbag import DagBag

    bag = DagBag(dag_folder=str(DAGS_DIR))
    assert bag.import_errors == {}
    return bag.dags


def _task_states(dag_run) -> dict[str, str]:
    return {ti.task_id: str(ti.state) for ti in dag_run.get_task_instances()}


def _drop(home: Home, agency: str, source: Path) -> Path:
    target = home.landing / agency / source.name
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(source, target)
    return target


def test_ingest_dag_archives_a_drop_and_records_it_loaded(dags, home: Home):
    dropped = _drop(home, "unhcr", FIXTURE)

    dag_run = dags["mainstream_ingest"].test(run_conf={"paths": [str(dropped)], "agency": "unhcr"})

    assert str(dag_run.state) == "success"
    assert _task_states(dag_run) == {"ingest_drops": "success"}
    assert not dropped.exists(), "a file under landing/ is moved, not copied"
    archived = list(home.archive.rglob(f"*__{FIXTURE.name}"))
    assert len(archived) == 1
    assert archived[0].read_bytes() == FIXTURE.read_bytes()
    [drop] = Ledger(home.state_db).recent_drops()
    assert (drop["state"], drop["rows_loaded"], drop["rows_rejected"]) == ("loaded", 3, 0)
    assert drop["agency_ref"] == "XM-DAC-41121", "IATI XML names its agency by reporting-org"
    assert drop["stored_path"] == str(archived[0])
    assert any((home.raw / "programmes").glob(f"{drop['extract_id']}.parquet"))


def test_ingest_dag_also_ingests_files_waiting_in_claimed(dags, home: Home):
    """A claimed file whose asset event reached no run (apache/airflow#56050) is ingested by the next run."""
    waiting = home.claimed / "unhcr" / f"0123456789ab__{FIXTURE.name}"
    waiting.parent.mkdir(parents=True)
    shutil.copyfile(FIXTURE, waiting)

    dag_run = dags["mainstream_ingest"].test()

    assert _task_states(dag_run) == {"ingest_drops": "success"}
    assert not waiting.exists()
    [drop] = Ledger(home.state_db).recent_drops()
    assert (drop["state"], drop["rows_loaded"], drop["agency_ref"]) == ("loaded", 3, "XM-DAC-41121")


def test_ingest_dag_fails_at_once_for_a_missing_path(dags, home: Home, tmp_path: Path):
    dag_run = dags["mainstream_ingest"].test(run_conf={"paths": [str(tmp_path / "typo.csv")]})

    assert _task_states(dag_run) == {"ingest_drops": "failed"}
    [ti] = dag_run.get_task_instances()
    assert ti.try_number == 1, "a missing path is not retried"


def test_ingest_dag_fails_at_once_for_a_path_in_the_home_s_own_files(dags, home: Home):
    reason_file = home.quarantine / "x__extract.csv.reason.json"
    reason_file.write_text('{"reason": "bad"}')

    dag_run = dags["mainstream_ingest"].test(run_conf={"paths": [str(reason_file)], "agency": "undp"})

    assert _task_states(dag_run) == {"ingest_drops": "failed"}
    [ti] = dag_run.get_task_instances()
    assert ti.try_number == 1, "a refused path is not retried"
    assert Ledger(home.state_db).recent_drops() == [] and reason_file.exists()


def test_ingest_dag_skips_when_nothing_new_is_loaded(dags, home: Home):
    """A duplicate loads no rows: the task is skipped, so no raw_extracts event triggers a rebuild."""
    first = _drop(home, "unhcr", FIXTURE)
    assert str(dags["mainstream_ingest"].test(run_conf={"paths": [str(first)]}).state) == "success"
    # A build that started after the first load holds its rows (else the next run emits for them: they wait).
    Ledger(home.state_db).record_run(
        RunRecord(run_id="built", trigger="test", state="published", started_at="2999-01-01T00:00:00+00:00")
    )
    again = _drop(home, "unhcr", FIXTURE)

    dag_run = dags["mainstream_ingest"].test(run_conf={"paths": [str(again)]})

    assert _task_states(dag_run) == {"ingest_drops": "skipped"}
    states = sorted(drop["state"] for drop in Ledger(home.state_db).recent_drops())
    assert states == ["duplicate", "loaded"]


def test_ingest_dag_builds_for_a_retraction_no_build_reflects_yet(dags, home: Home, tmp_path: Path):
    """`mainstream retract --no-build` (or a retraction whose build was stopped): the next ingest run emits
    raw_extracts even when it loads nothing new, so mainstream_publish takes the extract out of the publication."""
    from mainstream.pipeline import ingest_paths
    from mainstream.retraction import retract_extract

    [kept] = ingest_paths([FIXTURE], home)
    extra = tmp_path / "undp" / "extra.csv"
    extra.parent.mkdir()
    extra.write_text("programme_id,title\nX-1,Test data\n", encoding="utf-8")
    [withdrawn] = ingest_paths([extra], home, agency="undp")
    Ledger(home.state_db).record_run(
        RunRecord(run_id="built", trigger="test", state="published", started_at=utc_now_precise())
    )
    retract_extract(home, withdrawn.extract_id, "test data")
    again = _drop(home, "unhcr", FIXTURE)

    dag_run = dags["mainstream_ingest"].test(run_conf={"paths": [str(again)]})

    assert _task_states(dag_run) == {"ingest_drops": "success"}
    [drop] = [
        row
        for row in Ledger(home.state_db).recent_drops()
        if row["extract_id"] not in (kept.extract_id, withdrawn.extract_id)
    ]
    assert drop["state"] == "duplicate"


def test_publish_dag_builds_audits_and_publishes_the_ingested_programmes(dags, home: Home):
    from mainstream.pipeline import ingest_paths

    [drop] = ingest_paths([_drop(home, "unhcr", FIXTURE)], home)
    assert drop.state == "loaded"

    dag_run = dags["mainstream_publish"].test()

    assert _task_states(dag_run) == {"build": "success", "audit": "success", "publish": "success"}
    assert str(dag_run.state) == "success"
    with duckdb.connect(str(home.published_db), read_only=True) as connection:
        published = [
            row[0]
            for row in connection.execute(
                "select programme_id from dim_programme where extract_id = ? order by 1", [drop.extract_id]
            ).fetchall()
        ]
    assert published == PROGRAMME_IDS
    run = Ledger(home.state_db).last_run()
    assert run["state"] == "published"
    assert run["trigger"] == f"airflow:{dag_run.run_id}"
    assert run["audit_success"] is True
    assert run["published_path"] == str(home.published_db)

    # Triggered with full_refresh, the build starts from scratch: a span planted in the build file, which an
    # ordinary build keeps (tests/mainstream/test_text_scans.py), is gone.
    with duckdb.connect(str(home.build_db)) as connection:
        connection.execute("update intermediate.int_text_spans set matched_span = 'planted span' where span_number = 1")
    assert str(dags["mainstream_publish"].test(run_conf={"full_refresh": True}).state) == "success"
    with duckdb.connect(str(home.build_db), read_only=True) as connection:
        [(planted,)] = connection.execute(
            "select count(*) from intermediate.int_text_spans where matched_span = 'planted span'"
        ).fetchall()
    assert planted == 0


def test_publish_dag_skips_when_nothing_was_ever_loaded(dags, home: Home):
    dag_run = dags["mainstream_publish"].test()

    assert _task_states(dag_run) == {"build": "skipped", "audit": "skipped", "publish": "skipped"}
    assert not home.published_db.exists()
    assert Ledger(home.state_db).last_run()["state"] == "nothing_to_build"
