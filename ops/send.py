"""Enqueue customer requests (JSON files) on the requests queue, as a CRM does.

    scripts/send samples/requests/se-wingtip-toys.json          # on the local stack (scripts/run --serve)
    python -m ops.send FILE... --account-url https://<account>.queue.core.windows.net   # on Azure, with Entra
    python -m ops.send FILE... --dry-run        # read the files and check your role; enqueue nothing

The message text is the file's JSON as it is (host.json messageEncoding: none). The outcome comes back as an event
(`scripts/run --serve` prints it; `python -m ops.status` counts it).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from ops.roles import add_role_arguments, needs, report
from ops.storage import Storage, add_storage_arguments, run, storage_from
from ops.terminal import shown

MAX_BYTES = 64 * 1024  # contract §1: larger messages are invalid requests (and the queue refuses them)


def read_request(path: Path) -> tuple[str, str]:
    """The file's text and its requestId; raises ValueError when it is not a JSON object under 64 KiB."""
    text = path.read_text(encoding="utf-8")
    if len(text.encode("utf-8")) > MAX_BYTES:
        raise ValueError(f"{path}: over 64 KiB")
    data = json.loads(text)
    if not isinstance(data, dict):
        raise ValueError(f"{path}: not a JSON object")
    return text, str(data.get("requestId") or "?")


def main() -> int:
    parser = argparse.ArgumentParser(
        prog="python -m ops.send", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("files", nargs="+", type=Path, metavar="FILE", help="a customer request (contract §1)")
    add_storage_arguments(parser)
    parser.add_argument("--dry-run", action="store_true", help="read the files and check your role; enqueue nothing")
    add_role_arguments(parser)
    args = parser.parse_args()
    try:
        requests = [read_request(path) for path in args.files]
    except (OSError, ValueError) as exc:
        parser.error(str(exc))

    files = [(path, *request) for path, request in zip(args.files, requests, strict=True)]
    if args.dry_run:
        print(f"would enqueue {len(files)} request(s) on {shown(args.queue)}: {', '.join(shown(f[2]) for f in files)}")
        return run("send", storage_from(args, parser), lambda storage: report(needs("send", args.queue, "", ""), args,
                                                                                storage=storage))  # fmt: skip
    return run("send", storage_from(args, parser), lambda storage: send(storage, args.queue, files))


def send(storage: Storage, queue_name: str, files: list[tuple[Path, str, str]]) -> int:
    """Enqueue each (file, its text, its requestId) and say so; the requestId is printed `shown`: a file is anybody's
    text."""
    queue = storage.queue(queue_name)
    for path, text, request_id in files:
        queue.send_message(text)
        print(f"enqueued {shown(request_id)} ({shown(path.name)}) on {shown(queue_name)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
