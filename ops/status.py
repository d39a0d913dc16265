"""What the onboarding is doing: queued, in flight, parked, created, and failed by reason.

    python -m ops.status                                   # the local stack (after sourcing .local/stack.env)
    python -m ops.status --account-url https://<account>.queue.core.windows.net --since 24   # Azure, with Entra
    python -m ops.status --json
    python -m ops.status --dry-run                         # check your roles only

It reads the queues (the service's approximate counts) and the ledger table directly (partition `onboarding`;
columns state, outcome, event_json, exhausted_from, updated_at), never through the function's code.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any

from azure.core.exceptions import AzureError, ResourceNotFoundError

from ops.roles import add_role_arguments, needs, report
from ops.storage import LEDGER_DEFAULT, Storage, add_storage_arguments, explained, run, storage_from
from ops.terminal import shown

PARTITION = "onboarding"
COLUMNS = ["state", "outcome", "event_json", "exhausted_from", "updated_at"]
QUEUES = {"queued": "", "poison": "-poison", "parked": "-exhausted"}


@dataclass
class Status:
    """One snapshot: queue lengths (None: no such queue) and the ledger's requests by where they stand."""

    queues: dict[str, int | None] = field(default_factory=dict)
    ledger_found: bool = True
    requests: int = 0
    in_flight: int = 0
    oldest_in_flight: float | None = None  # updated_at of the longest-waiting claimed request
    created: int = 0
    failed: dict[str, int] = field(default_factory=dict)  # reason → requests


def _timestamp(value: Any) -> float | None:
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, datetime):
        return value.timestamp()
    return None


def _reason(event_json: Any) -> str:
    """The stored event's reason, as safe to print (`shown`): a row's text is whatever was written to the table."""
    try:
        data = json.loads(str(event_json)).get("data") or {}
        return shown(data.get("reason") or "unknown")
    except (ValueError, AttributeError):
        return "unknown"


def summarize(rows: Iterable[Mapping[str, Any]], queues: dict[str, int | None]) -> Status:
    """Count ledger rows by where they stand: created, failed (by the stored event's reason), else in flight."""
    status = Status(queues=queues)
    failed: Counter[str] = Counter()
    for row in rows:
        status.requests += 1
        state, outcome = row.get("state"), row.get("outcome")
        if "created" in (state, outcome):
            status.created += 1
        elif "failed" in (state, outcome):
            reason = _reason(row.get("event_json"))
            failed["retries_exhausted" if reason == "unknown" and row.get("exhausted_from") else reason] += 1
        else:
            status.in_flight += 1
            updated = _timestamp(row.get("updated_at"))
            if updated is not None and (status.oldest_in_flight is None or updated < status.oldest_in_flight):
                status.oldest_in_flight = updated
    status.failed = dict(failed.most_common())
    return status


def _ago(seconds: float) -> str:
    seconds = max(seconds, 0)
    return (
        f"{seconds:.0f} s"
        if seconds < 120
        else f"{seconds / 60:.0f} min"
        if seconds < 7200
        else f"{seconds / 3600:.0f} h"
    )


def render(status: Status, queue: str, *, now: float | None = None) -> str:
    """The operator's view, one line per figure."""
    now = time.time() if now is None else now
    lines = []
    for label, suffix in QUEUES.items():
        count = status.queues.get(label)
        shown = "-" if count is None else str(count)
        note = {"queued": " (approximate: those being worked on included)", "parked": "  → python -m ops.replay_poison"}
        where = f"{queue}{suffix}" + ("  (no such queue yet)" if count is None else note.get(label, ""))
        lines.append(f"{label:<10}{shown:>6}  {where}")
    if not status.ledger_found:
        lines.append("ledger: no table yet (nothing was received)")
        return "\n".join(lines)
    oldest = f" (oldest claimed {_ago(now - status.oldest_in_flight)} ago)" if status.oldest_in_flight else ""
    lines.append(f"{'in flight':<10}{status.in_flight:>6}  claimed, no outcome yet{oldest}")
    lines.append(f"{'created':<10}{status.created:>6}")
    lines.append(f"{'failed':<10}{sum(status.failed.values()):>6}")
    for reason, count in status.failed.items():
        hint = "  (parked for a replay, or replayed since)" if reason == "retries_exhausted" else ""
        lines.append(f"{'':<10}{count:>6}  {reason}{hint}")
    lines.append(f"ledger: {status.requests} request(s)")
    return "\n".join(lines)


def read_status(storage: Storage, queue: str, table: str, since: float | None) -> Status:
    """Queue lengths and the ledger's rows (updated since `since`, epoch seconds, when given)."""
    lengths: dict[str, int | None] = {}
    for label, suffix in QUEUES.items():
        try:
            properties = storage.queue(f"{queue}{suffix}").get_queue_properties()
            lengths[label] = properties.approximate_message_count or 0
        except ResourceNotFoundError:
            lengths[label] = None
    query, parameters = "PartitionKey eq @partition", dict[str, Any](partition=PARTITION)
    if since is not None:
        query, parameters["since"] = f"{query} and updated_at ge @since", since
    client = storage.table(table)
    try:
        rows = client.query_entities(query, parameters=parameters, select=COLUMNS)
        return summarize(rows, lengths)
    except ResourceNotFoundError:
        return Status(queues=lengths, ledger_found=False)
    finally:
        client.close()


def main() -> int:
    parser = argparse.ArgumentParser(
        prog="python -m ops.status", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    add_storage_arguments(parser)
    parser.add_argument("--table", default=os.environ.get("ONBOARDING_LEDGER_TABLE", LEDGER_DEFAULT))
    parser.add_argument("--since", type=float, metavar="HOURS", help="only requests updated in the last HOURS")
    parser.add_argument("--json", action="store_true", help="the figures as JSON")
    parser.add_argument("--dry-run", action="store_true", help="check your roles and stop")
    add_role_arguments(parser)
    args = parser.parse_args()
    storage = storage_from(args, parser)
    if args.dry_run:
        return run("status", storage, lambda s: report(needs("status", args.queue, args.table, ""), args, storage=s))
    since = time.time() - args.since * 3600 if args.since is not None else None
    try:
        status = read_status(storage, args.queue, args.table, since)
    except AzureError as exc:
        print(f"status: {explained(exc)}", file=sys.stderr)
        return 1
    finally:
        storage.close()
    if args.json:
        print(json.dumps(asdict(status), indent=2))
    else:
        window = f", updated in the last {args.since:g} h" if args.since is not None else ""
        print(f"{storage.where}, queue {args.queue}, ledger {args.table}{window}")
        print(render(status, args.queue))
    return 0


if __name__ == "__main__":
    sys.exit(main())
