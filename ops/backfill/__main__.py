"""python -m ops.backfill FILE: validate every row offline (report first), optionally pre-flight them on the app's
shared Partner Center budget, enqueue each once, follow the outcomes in the ledger, and write the final report.

Resumable: the intake's table remembers what was enqueued (by requestId and content), so running the same file
again enqueues nothing twice and picks up the outcomes. Storage comes from the app's settings (CrmQueue,
AzureWebJobsStorage, CUSTOMER_REQUESTS_QUEUE, ...) or --connection-string; against Azure (shared keys off),
--account-url https://<account>.queue.core.windows.net signs in with Entra (DefaultAzureCredential: `az login`).
--dry-run validates and checks your roles, and enqueues nothing; --preflight also needs the Partner Center settings
the function has.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from pathlib import Path
from typing import Any

from handlers.api import IntakeDependencies, StorageSettings, build_intake, close, load_field_map
from ops.backfill.report import RowOutcome, write_errors_csv, write_html, write_outcomes_csv
from ops.backfill.rows import FORMATS, Row, read_rows
from ops.backfill.run import enqueue, follow, preflight
from ops.roles import add_role_arguments, needs, report
from ops.storage import INTAKE_DEFAULT, LEDGER_DEFAULT, Storage, add_storage_arguments, run, storage_from, tls


def _arguments() -> tuple[argparse.Namespace, argparse.ArgumentParser]:
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
    parser.add_argument("--dry-run", action="store_true", help="validate and check your roles; enqueue nothing")
    add_storage_arguments(parser)
    parser.add_argument("--ledger-connection-string", default=env.get("AzureWebJobsStorage"),
                        help="default: $AzureWebJobsStorage, else the queue's")  # fmt: skip
    add_role_arguments(parser)
    return parser.parse_args(), parser


def _intake(args: argparse.Namespace, storage: Storage, credential: Any) -> IntakeDependencies:
    """The intake's adapters on the account `storage` names: by connection string, or its endpoints signed in with
    `credential` (the operator's, async); the table names and the rest from the environment, as the function's."""
    if storage.connection_string:
        settings = StorageSettings(
            CrmQueue=storage.connection_string,
            AzureWebJobsStorage=args.ledger_connection_string or storage.connection_string,
            CUSTOMER_REQUESTS_QUEUE=args.queue,
        )
        return build_intake(settings)
    settings = StorageSettings(
        CrmQueue=None, AzureWebJobsStorage=None, CrmQueue__queueServiceUri=storage.queue_url,
        AzureWebJobsStorage__tableServiceUri=storage.table_url, CUSTOMER_REQUESTS_QUEUE=args.queue,
    )  # fmt: skip
    return build_intake(settings, credential=credential)


def _report(rows: list[Row], outcomes: dict[int, RowOutcome] | None, folder: Path, source: str) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    write_errors_csv(rows, folder / "errors.csv")
    if outcomes is not None:
        write_outcomes_csv(rows, outcomes, folder / "outcomes.csv")
    write_html(rows, outcomes, folder / "report.html", source=source)


async def _online(args: argparse.Namespace, rows: list[Row], folder: Path, storage: Storage) -> int:
    credential = None
    if not storage.connection_string:
        from azure.identity.aio import DefaultAzureCredential  # only where Entra is used

        credential = DefaultAzureCredential(**tls())
    deps = _intake(args, storage, credential)
    try:
        return await _steps(args, rows, folder, deps)
    finally:
        await close(deps.ledger.rows, deps.records, deps.queue, credential)


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
    args, parser = _arguments()
    folder = args.report_dir or args.file.with_name(args.file.name + ".backfill")
    try:
        kind, rows = read_rows(
            args.file, args.format, load_field_map(os.environ.get("CRM_FIELD_MAP")), args.organization
        )
    except (OSError, ValueError) as exc:
        parser.error(str(exc))
    invalid = [r for r in rows if r.errors]
    _report(rows, None, folder, str(args.file))
    print(f"{args.file} ({kind}): {len(rows)} rows, {len(rows) - len(invalid)} valid, {len(invalid)} invalid; "
          f"errors in {folder / 'errors.csv'}, report in {folder / 'report.html'}")  # fmt: skip
    if args.validate_only:
        return 1 if invalid else 0
    storage = storage_from(args, parser)
    if args.dry_run:
        wanted = needs("backfill", args.queue, os.environ.get("ONBOARDING_LEDGER_TABLE", LEDGER_DEFAULT),
                       os.environ.get("ONBOARDING_INTAKE_TABLE", INTAKE_DEFAULT))  # fmt: skip
        print(f"would enqueue {len(rows) - len(invalid)} request(s) on {args.queue}")
        return max(run("backfill", storage, lambda s: report(wanted, args, storage=s)), 1 if invalid else 0)
    try:
        return asyncio.run(_online(args, rows, folder, storage))
    except KeyboardInterrupt:
        print("interrupted: run the same command again to resume (nothing is enqueued twice)", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
