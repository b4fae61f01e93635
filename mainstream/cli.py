"""The ``mainstream`` command: demo, process, retract, status, eval."""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from collections import Counter
from pathlib import Path

from mainstream.home import Home
from mainstream.signals import sigterm_raises_system_exit

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
        with sigterm_raises_system_exit():  # a stopped command stops what it started (dbt) and closes its run
            return int(args.handler(args, home) or 0)
    except FileNotFoundError as error:  # a path given on the command line, or nothing published yet
        print(f"mainstream {args.command}: {error}", file=sys.stderr)
        return 1
    except NotADirectoryError as error:  # --home, or a path given, runs through a file
        where = error.filename or error
        print(
            f"mainstream {args.command}: {where}: a folder was expected, not a file (check --home and the paths)",
            file=sys.stderr,
        )
        return 1
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
    commands = parser.add_subparsers(required=True, metavar="COMMAND", dest="command")

    demo = commands.add_parser(
        "demo", help="start Airflow on 127.0.0.1, drop the sample extracts, wait for the publication, stop"
    )
    demo.add_argument("--timeout", type=float, default=600, help="seconds to wait for the publication")
    demo.add_argument("--port", type=int, default=0, help="Airflow API server port (default: a free one)")
    demo.set_defaults(handler=_demo)

    process = commands.add_parser(
        "process",
        help="ingest files/folders, build, audit and publish synchronously (no Airflow)",
        description=(
            "Ingest the given files or folders, then build, audit and publish, in this process (no Airflow). "
            "Files under landing/ or claimed/ are moved to archive/ or quarantine/; files elsewhere are copied. "
            "Nothing is rebuilt when nothing new was loaded (every file a duplicate or quarantined), unless files "
            "loaded earlier are in no finished build yet (e.g. after a failed build): then they are built."
        ),
        epilog=(
            "exit codes: 0 published; 2 the audit blocked publication (the previous publication stays); "
            "3 the dbt build failed; 4 nothing new was loaded and nothing waits for a build, so nothing was "
            "rebuilt or republished (also when no extract was ever loaded); 5 the machine could not hold a file "
            "(disk full): files not yet loaded stay where they are, so run again once space is freed; 6 the audit "
            "or the publication could not run (an error, not failed expectations: the run is audit_error or "
            "publish_error, the previous publication stays); 143 stopped by SIGTERM (130 Ctrl-C): dbt is stopped "
            "too and the run recorded as interrupted. --rebuild "
            "rebuilds and republishes anyway, e.g. after a criteria change in dbt_project/seeds/."
        ),
    )
    process.add_argument("paths", nargs="*", type=Path, metavar="PATH", help="files or folders to ingest")
    process.add_argument("--agency", help="agency of tabular files (default: their landing/<agency>/ folder)")
    process.add_argument(
        "--rebuild",
        action="store_true",
        help=(
            "build from scratch (every programme text scanned again), audit and publish, even when nothing new "
            "is loaded (PATH may then be omitted)"
        ),
    )
    process.add_argument("--json", action="store_true", help="print the result as JSON")
    process.set_defaults(handler=_process, command_parser=process)

    retract = commands.add_parser(
        "retract",
        help="withdraw a loaded extract (e.g. sent under the wrong agency), then build, audit and publish",
        description=(
            "Withdraw one loaded extract: its raw files and its archived file (and archived copies of the same "
            "content) move to retracted/<extract_id>/ (kept, out of every build and of any backfill of archive/), "
            "and the ledger records who, when and why. The same content "
            "dropped again loads (e.g. in the right agency's folder). Then build, audit and publish: each "
            "programme's latest version among the extracts left is published, and programmes only this extract "
            "held leave the marts. `mainstream status` shows each drop's extract id."
        ),
        epilog=(
            "exit codes: 0 retracted and published (or retracted, with --no-build); 1 nothing changed: the extract "
            "is unknown, not loaded, already retracted and built without it, or no --reason was given; 4 retracted, "
            "but no extract is left to build: the publication keeps it until the corrected file loads; 2, 3, 6 as "
            "for `process`: retracted, but the build, audit or publication failed and the previous publication "
            "(with the extract) stays until a build succeeds, which the next `process` or Airflow ingest runs. "
            "Running the same command again finishes a retraction that was stopped (files left, or no build since)"
        ),
    )
    retract.add_argument("extract_id", metavar="EXTRACT_ID", help="the extract to withdraw (see `mainstream status`)")
    retract.add_argument(
        "--reason", default="", help="why (required): kept in the ledger with who retracted it and when"
    )
    retract.add_argument(
        "--no-build", action="store_true", help="retract only; the next build (any trigger) publishes the change"
    )
    retract.add_argument("--json", action="store_true", help="print the result as JSON")
    retract.set_defaults(handler=_retract)

    status = commands.add_parser(
        "status",
        help="last drops and their state, files waiting, the latest run (any state) and the last publication",
        epilog=(
            "exit code 1 (and nothing created) when the home has neither a ledger nor a landing/ folder, e.g. a "
            "mistyped --home"
        ),
    )
    status.add_argument("--json", action="store_true", help="print one JSON object")
    status.add_argument("--limit", type=_positive, default=10, help="how many drops and runs to show (at least 1)")
    status.set_defaults(handler=_status)

    evaluate = commands.add_parser("eval", help="compare the latest publication with a labels file")
    evaluate.add_argument("--labels", type=Path, required=True, help="JSON lines in the rubric's format")
    evaluate.add_argument("--json", action="store_true", help="print one JSON object")
    evaluate.add_argument(
        "--disagreements",
        action="store_true",
        help="also list every programme whose tags differ from its labels, with the evidence and the label's note",
    )
    evaluate.add_argument(
        "--by-agency",
        action="store_true",
        help="also score each publishing agency's programmes on their own",
    )
    evaluate.set_defaults(handler=_eval)
    return parser


def _positive(text: str) -> int:
    try:
        number = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a whole number of at least 1, not {text!r}") from None
    if number < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, not {number}")
    return number


def _demo(args: argparse.Namespace, home: Home) -> int:
    from mainstream.demo import run_demo

    return run_demo(home, timeout=args.timeout, port=args.port)


def _process(args: argparse.Namespace, home: Home) -> int:
    from ingest.errors import StorageFullError
    from mainstream.ledger import Ledger
    from mainstream.pipeline import BookkeepingPathError, changes_not_built, ingest_paths

    if not args.paths and not args.rebuild:
        args.command_parser.error("give the files or folders to process (PATH), or --rebuild")
    try:
        drops = ingest_paths(args.paths, home, agency=args.agency, progress=not args.json) if args.paths else []
    except StorageFullError as error:
        log.error("%s", error)
        if args.json:
            print(json.dumps({"error": str(error)}, indent=2))
        return 5
    except BookkeepingPathError as error:
        print(f"mainstream process: {error}", file=sys.stderr)
        return 1
    # Each file's outcome was logged by the ingest itself (loaded, duplicate or quarantined, with its reason).
    result: dict = {"drops": [drop.__dict__ for drop in drops]}
    loaded = sum(drop.rows_loaded for drop in drops if drop.state == "loaded")
    if not loaded and not args.rebuild:
        waiting = changes_not_built(Ledger(home.state_db)) if home.state_db.exists() else []
        if not waiting:
            counts = Counter(drop.state for drop in drops)
            found = (
                ", ".join(f"{count} {state}" for state, count in sorted(counts.items()))
                or "no file found in the given paths; hidden, partial and temporary files are skipped"
            )
            kept = (
                "the previous publication stays; use --rebuild to rebuild and republish anyway"
                if home.published_db.exists()
                else "nothing is published yet"
            )
            message = f"nothing new loaded ({found}): nothing rebuilt or republished, {kept}"
            log.warning("%s", message)
            result["error"] = message
            if args.json:
                print(json.dumps(result, indent=2, default=str))
            return 4
        log.info(
            "nothing new loaded, but %d file(s) loaded or retracted earlier are in no finished build yet (%s): "
            "building",
            len(waiting),
            ", ".join(row["file_name"] for row in waiting),
        )
    exit_code = _build_audit_publish(home, result, trigger="cli", full_refresh=args.rebuild)
    if any(drop.state == "quarantined" for drop in drops) and exit_code == 0:
        log.warning("some files were quarantined: see %s", home.quarantine)
    _print_result(result, as_json=args.json)
    return exit_code


def _build_audit_publish(home: Home, result: dict, trigger: str, full_refresh: bool = False) -> int:
    """Build, audit and publish; put the run (and the summary or the error) in ``result``; return the exit code."""
    from mainstream.pipeline import AuditBlockedError, NothingToBuildError, PipelineStepError, build_audit_publish
    from mainstream.summary import publication_summary
    from mainstream.transform import BuildFailedError

    try:
        run = build_audit_publish(home, trigger=trigger, full_refresh=full_refresh)
        result["run"] = run.__dict__
        result["summary"] = publication_summary(home.published_db)
    except AuditBlockedError as error:
        log.error("%s", error)
        result["run"] = error.run.__dict__
        return 2
    except BuildFailedError as error:
        log.error("%s", error)
        result["error"] = str(error)
        return 3
    except NothingToBuildError as error:
        log.error("%s", error)
        result["error"] = str(error)
        return 4
    except PipelineStepError as error:  # the audit or publication could not run; recorded in the ledger
        log.error("%s", error)
        log.debug("traceback", exc_info=error.__cause__)
        result["run"] = error.run.__dict__
        result["error"] = str(error)
        return 6
    return 0


def _print_result(result: dict, as_json: bool) -> None:
    from mainstream.summary import format_summary

    if as_json:
        print(json.dumps(result, indent=2, default=str))
    elif "summary" in result:
        print(format_summary(result["summary"]))


def _retract(args: argparse.Namespace, home: Home) -> int:
    from dataclasses import asdict

    from mainstream.retraction import RetractionError, retract_extract

    try:
        retraction = retract_extract(home, args.extract_id, args.reason)
    except RetractionError as error:
        print(f"mainstream retract: {error}", file=sys.stderr)
        if args.json:
            print(json.dumps({"error": str(error)}, indent=2))
        return 1
    result: dict = {"retraction": asdict(retraction)}
    if not retraction.extracts_left:
        message = (
            f"retracted {args.extract_id}, but no extract is left to build: the previous publication (with it) stays "
            "until a file loads; drop or process the corrected file now, and that build leaves it out"
        )
        log.warning("%s", message)
        result["error"] = message
        _print_result(result, as_json=args.json)
        return 4
    if args.no_build:
        log.info(
            "not rebuilt (--no-build): the publication keeps extract %s until the next build, which the next "
            "`mainstream process` or Airflow ingest runs for it",
            args.extract_id,
        )
        _print_result(result, as_json=args.json)
        return 0
    exit_code = _build_audit_publish(home, result, trigger="cli:retract")
    _print_result(result, as_json=args.json)
    return exit_code


def _status(args: argparse.Namespace, home: Home) -> int:
    from mainstream.status import NoLedgerError, collect_status, format_status

    try:
        status = collect_status(home, limit=args.limit)
    except NoLedgerError as error:
        print(f"mainstream status: {error}", file=sys.stderr)
        return 1
    print(json.dumps(status, indent=2, default=str) if args.json else format_status(status))
    return 0


def _eval(args: argparse.Namespace, home: Home) -> int:
    from mainstream.evaluate import LabelsError, evaluate_publication, format_evaluation

    try:
        report = evaluate_publication(
            home.published_db, args.labels, with_disagreements=args.disagreements, with_agencies=args.by_agency
        )
    except LabelsError as error:  # the labels file is not in the rubric's format: the message names the line
        print(f"mainstream eval: {error}", file=sys.stderr)
        return 1
    print(json.dumps(report, indent=2) if args.json else format_evaluation(report))
    return 0


if __name__ == "__main__":
    sys.exit(main())
