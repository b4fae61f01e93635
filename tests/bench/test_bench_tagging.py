"""The benchmark harness itself, on a few hundred programmes: it must keep working for the 1M figures."""

from __future__ import annotations

import json
from pathlib import Path

import duckdb
import pytest

from bench.bench_tagging import run

pytestmark = pytest.mark.xdist_group("bench")


def test_benchmark_times_each_model_and_reuses_its_raw_zone(tmp_path: Path) -> None:
    results_dir = tmp_path / "results"
    first = run(300, tmp_path / "home", results_dir=results_dir, drop_count=20)
    raw_files = {path: path.stat().st_mtime_ns for path in (tmp_path / "home" / "raw").rglob("*.parquet")}
    # The later drop is timed, then taken out of the raw zone again; the build file still holds its programmes.
    after_drop = first["dbt_run_tagging_models_after_a_drop"]
    assert after_drop["programmes_added"] == 20 and after_drop["seconds"] > 0
    assert "int_text_spans" in after_drop["model_seconds"]
    assert not [path for path in raw_files if "bench-drop" in path.name]
    with duckdb.connect(str(tmp_path / "home" / "warehouse" / "build.duckdb"), read_only=True) as connection:
        [(programmes,)] = connection.execute("select count(*) from marts.dim_programme").fetchall()
    assert programmes == 320

    written = json.loads((results_dir / "tagging-300.json").read_text())
    assert written["programmes"] == 300 and written["targets"] == {"seconds": 30, "peak_rss_mb": 4096}
    tagging = first["dbt_run_tagging_models"]
    assert tagging["seconds"] > 0 and tagging["peak_rss_mb"] > 0
    model_seconds = list(tagging["model_seconds"].items())
    assert {"int_text_spans", "dim_programme", "fct_programme_tag"} <= dict(model_seconds).keys()
    assert "bridge_programme_right" not in dict(model_seconds), "only the tagging models are in the tagging run"
    assert [seconds for _, seconds in model_seconds] == sorted((s for _, s in model_seconds), reverse=True)

    run(300, tmp_path / "home", reuse_raw=True, results_dir=results_dir, drop_count=20)
    assert {path: path.stat().st_mtime_ns for path in raw_files} == raw_files, "the raw zone was regenerated"
