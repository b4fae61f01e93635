"""The ``mainstream`` command: demo, process, status, eval."""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from pathlib import Path

from mainstream.home import Home

log = logging.getLogger("mainstream")


def main(argv: list[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    for noisy in ("great_expectations", "dbt", "urllib3", "asyncio"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    home = Home(Path(args.home).resolve()) if args.home else Home.from_env()
    try:
        return int(args.handler(args, home) or 0)
    except BrokenPipeError:
        # The reader went away (`mainstream eval ... | head`): stop quietly, as other command-line tools do.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="mainstream",
        description="Tag UN programmes against human rights criteria and publish audited DuckDB marts.",
    )
    parser.add_argument("--home", help="state directory (default: $MAINSTREAM_HOME or ./var)")
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    commands = parser.add_subparsers(required=True, metavar="COMMAND")

    demo = commands.add_parser(
        "demo", help="start Airflow on 127.0.0.1, drop the sample extracts, wait for the publication, stop"
    )
    demo.add_argument("--timeout", type=float, default=600, help="seconds to wait for the publication")
    demo.add_argument("--port", type=int, default=0, help="Airflow API server port (default: a free one)")
    demo.set_defaults(handler=_demo)

    process = commands.add_parser(
        "process", help="ingest files/folders, build, audit and publish synchronously (no Airflow)"
    )
    process.add_argument("paths", nargs="+", type=Path, help="files or folders to ingest")
    process.add_argument("--agency", help="agency of tabular files (default: their landing/<agency>/ folder)")
    process.add_argument("--json", action="store_true", help="print the result as JSON")
    process.set_defaults(handler=_process)

    status = commands.add_parser("status", help="last drops and their state, last audit and publication")
    status.add_argument("--json", action="store_true", help="print one JSON object")
    status.add_argument("--limit", type=int, default=10, help="how many drops and runs to show")
    status.set_defaults(handler=_status)

    evaluate = commands.add_parser("eval", help="compare the latest publication with a labels file")
    evaluate.add_argument("--labels", type=Path, required=True, help="JSON lines in the rubric's format")
    evaluate.add_argument("--json", action="store_true", help="print one JSON object")
    evaluate.add_argument(
        "--disagreements",
        action="store_true",
        help="also list every programme whose tags differ from its labels, with the evidence and the label's note",
    )
    evaluate.set_defaults(handler=_eval)
    return parser


def _demo(args: argparse.Namespace, home: Home) -> int:
    from mainstream.demo import run_demo

    return run_demo(home, timeout=args.timeout, port=args.port)


def _process(args: argparse.Namespace, home: Home) -> int:
    from mainstream.pipeline import AuditBlockedError, NothingToBuildError, build_audit_publish, ingest_paths
    from mainstream.summary import format_summary, publication_summary
    from mainstream.transform import BuildFailedError

    drops = ingest_paths(args.paths, home, agency=args.agency, progress=not args.json)
    for drop in drops:
        log.info(
            "%s: %s (%d loaded, %d rejected)%s",
            drop.file_name,
            drop.state,
            drop.rows_loaded,
            drop.rows_rejected,
            f" - {drop.reason}" if drop.reason else "",
        )
    result: dict = {"drops": [drop.__dict__ for drop in drops]}
    exit_code = 0
    try:
        run = build_audit_publish(home, trigger="cli")
        result["run"] = run.__dict__
        result["summary"] = publication_summary(home.published_db)
    except AuditBlockedError as error:
        log.error("%s", error)
        result["run"] = error.run.__dict__
        exit_code = 2
    except BuildFailedError as error:
        log.error("%s", error)
        result["error"] = str(error)
        exit_code = 3
    except NothingToBuildError as error:
        log.error("%s", error)
        result["error"] = str(error)
        exit_code = 4
    if any(drop.state == "quarantined" for drop in drops) and exit_code == 0:
        log.warning("some files were quarantined: see %s", home.quarantine)
    if args.json:
        print(json.dumps(result, indent=2, default=str))
    elif "summary" in result:
        print(format_summary(result["summary"]))
    return exit_code


def _status(args: argparse.Namespace, home: Home) -> int:
    from mainstream.status import collect_status, format_status

    status = collect_status(home, limit=args.limit)
    print(json.dumps(status, indent=2, default=str) if args.json else format_status(status))
    return 0


def _eval(args: argparse.Namespace, home: Home) -> int:
    from mainstream.evaluate import evaluate_publication, format_evaluation

    report = evaluate_publication(home.published_db, args.labels, with_disagreements=args.disagreements)
    print(json.dumps(report, indent=2) if args.json else format_evaluation(report))
    return 0


if __name__ == "__main__":
    sys.exit(main())
