"""Move exhausted customer requests back to the requests queue after an outage.

The poison function reports each request that failed every delivery (retries_exhausted) and parks its message
in `{queue}-exhausted`; this command sends those — and any still waiting in `{queue}-poison` — back. A parked copy
expires PARKED_MESSAGE_TTL_DAYS (30) after it was parked; after that, the CRM sends the request again.

    python -m ops.replay_poison --dry-run            # your roles, then what is waiting; moves nothing, hides nothing
    python -m ops.replay_poison                      # move them back
    python -m ops.replay_poison --account-url https://<account>.queue.core.windows.net --max 500

Locally it reads CrmQueue and CUSTOMER_REQUESTS_QUEUE from the environment (`.local/stack.env` while
`scripts/run --serve` runs); against Azure it signs in with Entra (DefaultAzureCredential: `az login`).

A replay is as safe as any redelivery: the ledger resumes each request where it stopped (with the same
MS-RequestId), and a request whose customer was already created publishes its `created` event again.
"""

from __future__ import annotations

import argparse
import json
import sys

from azure.core.exceptions import ResourceNotFoundError
from azure.storage.queue import QueueClient

from ops.roles import add_role_arguments, needs, report
from ops.storage import Storage, add_storage_arguments, run, storage_from
from ops.terminal import shown

SOURCES = ("-exhausted", "-poison")


def replay(source: QueueClient, target: QueueClient, *, limit: int) -> int:
    """Move up to `limit` messages from `source` to `target` (copy, then delete); returns how many moved.
    A missing source queue has nothing to move."""
    moved = 0
    while moved < limit:
        try:
            batch = list(
                source.receive_messages(
                    messages_per_page=32, max_messages=min(32, limit - moved), visibility_timeout=60
                )
            )
        except ResourceNotFoundError:
            return moved
        if not batch:
            break
        for message in batch:
            target.send_message(message.content)
            source.delete_message(message)
            moved += 1
    return moved


def waiting(source: QueueClient, *, show: int = 32) -> tuple[int, list[str]] | None:
    """How many messages a queue holds (the service's approximate count, those in flight included) and the
    requestIds of the first visible ones, as safe to print (`shown`: a parked message is anybody's text); peeks, so
    nothing is hidden. None when the queue does not exist."""
    try:
        count = source.get_queue_properties().approximate_message_count or 0
        peeked = source.peek_messages(max_messages=min(show, 32)) if count and show else []
    except ResourceNotFoundError:
        return None
    return count, [_request_id(m.content) for m in peeked]


def _request_id(content: object) -> str:
    try:
        data = json.loads(str(content))
    except ValueError:
        return "?"
    found = data.get("requestId") if isinstance(data, dict) else None
    return "?" if found is None or found == "" else shown(found)


def main() -> int:
    parser = argparse.ArgumentParser(
        prog="python -m ops.replay_poison", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    add_storage_arguments(parser)
    parser.add_argument("--max", type=int, default=10_000, help="move at most this many messages per queue")
    parser.add_argument("--dry-run", action="store_true", help="check your roles, show what is waiting (a peek)")
    add_role_arguments(parser)
    args = parser.parse_args()
    return run("replay_poison", storage_from(args, parser), lambda storage: _replay(storage, args))


def _replay(storage: Storage, args: argparse.Namespace) -> int:
    if args.dry_run and report(needs("replay_poison", args.queue, "", ""), args, storage=storage) == 1:
        return 1  # a role is missing: the listing would be refused
    target = storage.queue(args.queue)
    if not args.dry_run and waiting(target, show=0) is None:
        print(f"{shown(args.queue)}: no such queue in {storage.where}: nothing to replay into", file=sys.stderr)
        return 1
    for suffix in SOURCES:
        name = f"{args.queue}{suffix}"
        source = storage.queue(name)
        if not args.dry_run:
            moved = replay(source, target, limit=args.max)
            print(f"moved {moved} message(s) from {shown(name)} to {shown(args.queue)}")
        elif (found := waiting(source)) is None:
            print(f"{shown(name)}: no such queue, nothing waiting")
        else:
            count, ids = found
            listed = f": {', '.join(ids)}{' …' if count > len(ids) else ''}" if ids else ""
            print(f"{shown(name)}: {count} message(s) waiting{listed}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
