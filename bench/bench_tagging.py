"""Benchmark: tag N synthetic programmes (default 1,000,000) in the dbt build; report wall time and peak RSS.

    .venv/bin/python -m bench.bench_tagging --count 1000000

Generates the raw zone (not timed), seeds the criteria (not timed), then times `dbt run --full-refresh` of the
tagging models (everything upstream of dim_programme and fct_programme_tag, every text scanned) and the full
`dbt build` (every model, bridge and coverage mart, plus every data and unit test) in child processes, reading
each child's peak resident memory from the kernel. Then a later drop of --drop-count new programmes (default
1,000) is added and the tagging run timed again: it scans only the new texts. Results go to stdout and
bench/results/, with the seconds each model of the tagging runs took (from dbt's run_results.json), slowest first.

    .venv/bin/python -m bench.bench_tagging --count 1000000 --home /tmp/bench-home --reuse-raw

keeps the build under /tmp/bench-home and, on later runs, times the same raw zone again without regenerating it
(generation takes about a minute per million programmes).
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import platform
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import duckdb

from bench.generate_programmes import BENCH_EXTRACT, generate, generator_fingerprint
from ingest.raw_zone import discard_extract
from mainstream.home import DBT_PROJECT_DIR, Home
from mainstream.transform import dbt_environment

log = logging.getLogger("bench.tagging")
RESULTS_DIR = Path(__file__).parent / "results"
TAGGING_MODELS = ("+dim_programme", "+fct_programme_tag")
#: The later drop timed after the full build: new programmes in an extract of their own, removed afterwards.
DROP_EXTRACT = "bench-drop"
DEFAULT_DROP_COUNT = 1_000


def _timed_dbt(home: Home, *args: str) -> dict[str, float]:
    """Run dbt in a child process; return its wall seconds and peak RSS in MB."""
    command = [str(Path(sys.executable).parent / "dbt"), *args, "--project-dir", str(DBT_PROJECT_DIR), "--quiet"]
    environment = {**os.environ, **dbt_environment(home)}
    script = (
        "import resource, subprocess, sys, time, json; t = time.perf_counter(); "
        "code = subprocess.run(sys.argv[1:]).returncode; "
        "print(json.dumps({'seconds': time.perf_counter() - t, "
        "'peak_rss_mb': resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024, 'exit': code}))"
    )
    completed = subprocess.run(
        [sys.executable, "-c", script, *command], env=environment, capture_output=True, text=True, check=False
    )
    measured = json.loads(completed.stdout.strip().splitlines()[-1])
    if measured["exit"] != 0:
        raise RuntimeError(f"dbt {' '.join(args)} failed:\n{completed.stdout}\n{completed.stderr}")
    return {"seconds": round(measured["seconds"], 2), "peak_rss_mb": round(measured["peak_rss_mb"], 1)}


def _model_seconds(home: Home) -> dict[str, float]:
    """Seconds per model of the last dbt command, slowest first (dbt's own run_results.json)."""
    results = json.loads((home.dbt_target / "run_results.json").read_text(encoding="utf-8"))["results"]
    timed = sorted(results, key=lambda result: -result["execution_time"])
    return {result["unique_id"].rsplit(".", 1)[-1]: round(result["execution_time"], 2) for result in timed}


def _raw_programme_count(home: Home) -> int:
    folder = home.raw / "programmes"
    if not any(folder.glob("*.parquet")):
        return 0
    pattern = str(folder / "*.parquet")
    return duckdb.sql(f"select count(*) from read_parquet('{pattern}', union_by_name = true)").fetchone()[0]


def run(
    count: int,
    home_root: Path,
    reuse_raw: bool = False,
    results_dir: Path = RESULTS_DIR,
    drop_count: int = DEFAULT_DROP_COUNT,
) -> dict:
    home = Home(home_root).ensure()
    # What generated the raw zone, written only once both of its files are complete.
    stamp = home.root / "bench-generator.txt"
    fingerprint = f"{generator_fingerprint()} {count}"
    generated_by = stamp.read_text(encoding="utf-8") if stamp.exists() else None
    if reuse_raw and generated_by == fingerprint and _raw_programme_count(home) == count:
        log.info("reusing the raw zone of %d programmes under %s", count, home.raw)
    else:
        started = time.perf_counter()
        stamp.unlink(missing_ok=True)
        discard_extract(home.raw, BENCH_EXTRACT)
        generate(home.raw, count)
        stamp.write_text(fingerprint, encoding="utf-8")
        log.info("raw zone ready in %.1f s", time.perf_counter() - started)
    discard_extract(home.raw, DROP_EXTRACT)
    _timed_dbt(home, "seed")
    # --full-refresh: every text is scanned, whatever an earlier run of this home left in the build file.
    tagging = _timed_dbt(home, "run", "--full-refresh", "--select", *TAGGING_MODELS)
    tagging["model_seconds"] = _model_seconds(home)
    build = _timed_dbt(home, "build")
    # A later drop of new programmes: the tagging run scans only their texts (int_text_spans keeps the rest).
    generate(home.raw, drop_count, extract_id=DROP_EXTRACT, first_number=count)
    after_drop = _timed_dbt(home, "run", "--select", *TAGGING_MODELS)
    after_drop["model_seconds"] = _model_seconds(home)
    after_drop["programmes_added"] = drop_count
    discard_extract(home.raw, DROP_EXTRACT)
    result = {
        "benchmark": "tagging",
        "programmes": count,
        "dbt_run_tagging_models": tagging,
        "dbt_build_with_tests": build,
        "dbt_run_tagging_models_after_a_drop": after_drop,
        "measured_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": {"cpus": os.cpu_count(), "platform": platform.platform(), "python": platform.python_version()},
        "targets": {"seconds": 30, "peak_rss_mb": 4096},
    }
    results_dir.mkdir(parents=True, exist_ok=True)
    (results_dir / f"tagging-{count}.json").write_text(json.dumps(result, indent=2) + "\n")
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--count", type=int, default=1_000_000)
    parser.add_argument("--home", type=Path, help="where to build (default: a temporary directory)")
    parser.add_argument(
        "--drop-count",
        type=int,
        default=DEFAULT_DROP_COUNT,
        help="new programmes in the later drop whose tagging run is timed after the full build",
    )
    parser.add_argument(
        "--reuse-raw", action="store_true", help="with --home: keep a raw zone that already holds --count programmes"
    )
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    if args.reuse_raw and not args.home:
        parser.error("--reuse-raw needs --home")
    if args.home:
        print(json.dumps(run(args.count, args.home, reuse_raw=args.reuse_raw, drop_count=args.drop_count), indent=2))
        return
    with tempfile.TemporaryDirectory(prefix="mainstream-bench-") as directory:
        print(json.dumps(run(args.count, Path(directory), drop_count=args.drop_count), indent=2))


if __name__ == "__main__":
    main()
