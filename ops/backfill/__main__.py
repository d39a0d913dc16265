"""python -m ops.backfill FILE: validate every row offline (report first), optionally pre-flight them on the app's
shared Partner Center budget, enqueue each once, follow the outcomes in the ledger, and write the final report.

Resumable: the intake's table remembers what was enqueued (by requestId and content), so running the same file
again enqueues nothing twice and picks up the outcomes. Storage comes from the app's settings (CrmQueue,
AzureWebJobsStorage, CUSTOMER_REQUESTS_QUEUE, ...) or --connection-string; --preflight also needs the Partner
Center settings the function has.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from pathlib import Path

from handlers.api import (
    IntakeDependencies,
    StorageSettings,
    build_intake,
    close,
    load_field_map,
)
from ops.backfill.report import RowOutcome, write_errors_csv, write_html, write_outcomes_csv
from ops.backfill.rows import FORMATS, Row, read_rows
from ops.backfill.run import enqueue, follow, preflight


def _arguments() -> argparse.Namespace:
    env = os.environ
    parser = argparse.ArgumentParser(prog="python -m ops.backfill", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)  # fmt: skip
    parser.add_argument("file", type=Path, help="CSV or JSON Lines: §1 requests, or a Dataverse / Salesforce export")
    parser.add_argument("--format", choices=FORMATS, default="auto")
    parser.add_argument("--organization", default="backfill", help="CRM organization id, part of derived requestIds")
    parser.add_argument("--report-dir", type=Path, help="default: FILE's folder / FILE's name + .backfill")
    parser.add_argument("--validate-only", action="store_true", help="write the validation report and stop")
    parser.add_argument("--preflight", action="store_true", help="run Partner Center's checks before enqueuing")
    parser.add_argument("--timeout", type=float, default=600.0, help="seconds to follow the outcomes (0: do not)")
    parser.add_argument("--connection-string", default=env.get("CrmQueue"), help="default: $CrmQueue")
    parser.add_argument("--ledger-connection-string", default=env.get("AzureWebJobsStorage"),
                        help="default: $AzureWebJobsStorage, else the queue's")  # fmt: skip
    parser.add_argument("--queue", default=env.get("CUSTOMER_REQUESTS_QUEUE", "customer-requests"))
    return parser.parse_args()


def _intake(args: argparse.Namespace) -> IntakeDependencies:
    if not args.connection_string:
        raise SystemExit("backfill: set CrmQueue (or pass --connection-string): the storage connection string")
    settings = StorageSettings(  # the rest from the environment, as the function reads it
        CrmQueue=args.connection_string,
        AzureWebJobsStorage=args.ledger_connection_string or args.connection_string,
        CUSTOMER_REQUESTS_QUEUE=args.queue,
    )
    return build_intake(settings)


def _report(rows: list[Row], outcomes: dict[int, RowOutcome] | None, folder: Path, source: str) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    write_errors_csv(rows, folder / "errors.csv")
    if outcomes is not None:
        write_outcomes_csv(rows, outcomes, folder / "outcomes.csv")
    write_html(rows, outcomes, folder / "report.html", source=source)


async def _online(args: argparse.Namespace, rows: list[Row], folder: Path) -> int:
    deps = _intake(args)
    try:
        return await _steps(args, rows, folder, deps)
    finally:
        await close(deps.ledger.rows, deps.records, deps.queue)


async def _steps(args: argparse.Namespace, rows: list[Row], folder: Path, deps: IntakeDependencies) -> int:
    if args.preflight:
        from handlers.api import Settings, build_dependencies, log_context

        pipeline = build_dependencies(Settings())  # its Partner Center calls draw on the app's shared budget
        try:
            with log_context(function="ops.backfill"):
                refused = await preflight(rows, pipeline)
        finally:
            await close(pipeline.budget, pipeline.requeue, pipeline.parking, pipeline.ledger.rows)
        print(f"pre-flight refused {refused} row(s)", file=sys.stderr)
        _report(rows, None, folder, str(args.file))
    statuses = await enqueue(rows, deps)
    counts = {s: list(statuses.values()).count(s) for s in sorted(set(statuses.values()))}
    print(f"enqueue: {counts}", file=sys.stderr)
    followed = [r for r in rows if statuses.get(r.number) in ("sent", "known", "onboarded")]
    outcomes = await follow(followed, deps, seconds=args.timeout) if args.timeout > 0 else {}
    for number, status in statuses.items():
        if status == "busy":
            outcomes[number] = RowOutcome("busy", message="an earlier request of this CRM record is undecided")
    _report(rows, outcomes, folder, str(args.file))
    created = sum(1 for o in outcomes.values() if o.state == "created")
    failed = sum(1 for o in outcomes.values() if o.state == "failed")
    print(f"outcomes: {created} created, {failed} failed, {len(followed) - created - failed} pending; "
          f"report: {folder / 'report.html'}")  # fmt: skip
    if created + failed < len(followed):
        return 2  # some still pending when --timeout ran out: run again later to pick them up
    return 1 if failed or any(r.errors for r in rows) else 0


def main() -> int:
    args = _arguments()
    folder = args.report_dir or args.file.with_name(args.file.name + ".backfill")
    kind, rows = read_rows(args.file, args.format, load_field_map(os.environ.get("CRM_FIELD_MAP")), args.organization)
    invalid = [r for r in rows if r.errors]
    _report(rows, None, folder, str(args.file))
    print(f"{args.file} ({kind}): {len(rows)} rows, {len(rows) - len(invalid)} valid, {len(invalid)} invalid; "
          f"errors in {folder / 'errors.csv'}, report in {folder / 'report.html'}")  # fmt: skip
    if args.validate_only:
        return 1 if invalid else 0
    try:
        return asyncio.run(_online(args, rows, folder))
    except KeyboardInterrupt:
        print("interrupted: run the same command again to resume (nothing is enqueued twice)", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
