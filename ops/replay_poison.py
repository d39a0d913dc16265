"""Move exhausted customer requests back to the requests queue after an outage.

The poison function reports each request that failed every delivery (retries_exhausted) and parks its message
in `{queue}-exhausted`; this command sends those — and any still waiting in `{queue}-poison` — back.

    python -m ops.replay_poison                       # uses CrmQueue and CUSTOMER_REQUESTS_QUEUE from the environment
    python -m ops.replay_poison --connection-string "..." --queue customer-requests --max 500 --dry-run

A replay is as safe as any redelivery: the ledger resumes each request where it stopped (with the same
MS-RequestId), and a request whose customer was already created publishes its `created` event again.
"""

from __future__ import annotations

import argparse
import os
import sys

from azure.storage.queue import QueueClient


def replay(source: QueueClient, target: QueueClient, *, limit: int, dry_run: bool = False) -> int:
    """Move up to `limit` messages from `source` to `target` (copy, then delete); returns how many moved."""
    moved = 0
    while moved < limit:
        batch = list(
            source.receive_messages(messages_per_page=32, max_messages=min(32, limit - moved), visibility_timeout=60)
        )
        if not batch:
            break
        for message in batch:
            if not dry_run:
                target.send_message(message.content)
                source.delete_message(message)
            moved += 1
    return moved


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m ops.replay_poison", description=__doc__)
    connection = os.environ.get("CrmQueue")  # noqa: SIM112 — the contract's name
    parser.add_argument("--connection-string", default=connection, help="default: $CrmQueue")
    parser.add_argument("--queue", default=os.environ.get("CUSTOMER_REQUESTS_QUEUE", "customer-requests"))
    parser.add_argument("--max", type=int, default=10_000, help="move at most this many messages")
    parser.add_argument("--dry-run", action="store_true", help="count without moving (messages hide for 60 s)")
    args = parser.parse_args()
    if not args.connection_string:
        parser.error("no connection string: pass --connection-string or set CrmQueue")
    target = QueueClient.from_connection_string(args.connection_string, args.queue)
    for suffix in ("-exhausted", "-poison"):
        source = QueueClient.from_connection_string(args.connection_string, f"{args.queue}{suffix}")
        moved = replay(source, target, limit=args.max, dry_run=args.dry_run)
        print(
            f"{'would move' if args.dry_run else 'moved'} {moved} message(s) from {args.queue}{suffix} to {args.queue}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
