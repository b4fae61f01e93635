"""The benchmark harness itself, on a few hundred programmes: it must keep working for the 1M figures."""

from __future__ import annotations

import json
from pathlib import Path

import duckdb
import pytest

from bench.bench_tagging import prepare_raw_zone, run
from bench.generate_programmes import generator_fingerprint
from mainstream.home import Home

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


def _raw_files(home: Home) -> dict[Path, int]:
    """The generated raw files (not the empty `_schema.parquet` files a home starts with) and when each was written."""
    return {path: path.stat().st_mtime_ns for path in home.raw.rglob("*.parquet") if not path.name.startswith("_")}


def test_a_raw_zone_is_reused_only_if_this_generator_made_it_with_this_count(tmp_path: Path) -> None:
    home = Home(tmp_path / "home").ensure()
    stamp = home.root / "bench-generator.txt"
    assert prepare_raw_zone(home, 50, reuse_raw=True), "nothing to reuse yet"
    assert stamp.read_text(encoding="utf-8") == f"{generator_fingerprint()} 50"
    generated = _raw_files(home)

    assert not prepare_raw_zone(home, 50, reuse_raw=True)
    assert _raw_files(home) == generated

    # A raw zone left by an earlier generator (or its sample) is made again, and stamped anew.
    stamp.write_text("0123456789abcdef0123456789abcdef 50", encoding="utf-8")
    assert prepare_raw_zone(home, 50, reuse_raw=True)
    assert stamp.read_text(encoding="utf-8") == f"{generator_fingerprint()} 50"
    regenerated = _raw_files(home)
    assert regenerated and all(regenerated.get(path) != mtime for path, mtime in generated.items())

    # A different count, or a zone missing its stamp (an interrupted generation), is made again too.
    assert prepare_raw_zone(home, 60, reuse_raw=True)
    stamp.unlink()
    assert prepare_raw_zone(home, 60, reuse_raw=True)
    assert not prepare_raw_zone(home, 60, reuse_raw=True)
    with duckdb.connect() as connection:
        pattern = str(home.raw / "programmes" / "*.parquet")
        assert connection.execute(f"select count(*) from read_parquet('{pattern}')").fetchone()[0] == 60
