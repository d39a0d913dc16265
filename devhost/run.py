"""The main job, locally: start the stack, enqueue the sample requests, print each outcome.

python -m devhost.run            # exit when every sample has its outcome (the queue is drained)
python -m devhost.run --serve    # then keep running; enqueue more with the printed connection
"""

from __future__ import annotations

import argparse
import json
import signal
import sys
import time
from pathlib import Path
from typing import Any

from devhost.stack import ROOT, Stack


def describe(event: dict[str, Any]) -> str:
    """One readable line per outcome event."""
    data = event.get("data", {})
    who = f"{data.get('requestId') or '?'} ({data.get('crmAccountId') or '?'})"
    if event.get("type", "").endswith(".created"):
        return (
            f"CREATED  {who}: customer {data['customerId']}, tenant {data['tenantId']}, domain {data['domain']}, "
            f"admin {data['adminUserPrincipalName']}"
        )
    errors = "; ".join(e["message"] for e in data.get("errors", [])) or data.get("message", "")
    retry = "retryable" if data.get("retryable") else "not retryable"
    return f"FAILED   {who}: {data.get('reason')} ({retry}): {errors}"


def curl_lines(stack: Stack) -> str:
    """How to call each HTTP route of the running stack with curl (the key is read from a file, never shown)."""
    key = f"-H @{stack.key_header_file.relative_to(ROOT)}"
    json_body, xml_body = (
        "-H 'Content-Type: application/json' --data-binary",
        "-H 'Content-Type: text/xml' --data-binary",
    )
    calls = [
        ("a §1 request", f"-X POST {key} {json_body} @samples/requests/se-wingtip-toys.json", "customer-requests"),
        ("its state", key, "customer-requests/crm-se-0001"),
        ("would it pass?", f"-X POST {key} {json_body} @samples/failing/nl-domain-taken.json",
         "customer-requests/validate"),
        ("Dynamics 365", f"-X POST {key} {json_body} @samples/crm/dataverse-account-create.json", "crm/dataverse"),
        ("Salesforce", f"-X POST {key} {xml_body} @samples/crm/salesforce-accounts.xml", "crm/salesforce"),
    ]  # fmt: skip
    lines = [f"HTTP functions on {stack.http_url} (with --serve they stay up; from {ROOT}):"]
    lines += [f"  # {what}\n  curl -s {options} {stack.http_url}/{route}" for what, options, route in calls]
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m devhost.run", description=__doc__)
    parser.add_argument(
        "--samples",
        nargs="+",
        default=[str(ROOT / "samples" / "requests"), str(ROOT / "samples" / "failing")],
        help="folders of request messages (default: the valid samples, then the failing ones)",
    )
    parser.add_argument("--serve", action="store_true", help="keep running after the samples are answered")
    parser.add_argument("--timeout", type=float, default=180.0, help="seconds to wait for all outcomes")
    args = parser.parse_args()

    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # stop the stack on SIGTERM too
    files = [path for folder in args.samples for path in sorted(Path(folder).glob("*.json"))]
    stack = Stack(host_args=["--max-polling-interval", "0.5"])
    print(f"Starting Azurite, the emulator and the local Functions host (logs in {stack.log_dir}) ...", flush=True)
    try:
        stack.start()
        print(curl_lines(stack), flush=True)
        queue = stack.queue()
        for path in files:
            queue.send_message(path.read_text(encoding="utf-8"))  # host.json messageEncoding: none
            print(f"enqueued {path.parent.name}/{path.name}", flush=True)
        seen: set[str] = set()
        deadline = time.monotonic() + args.timeout
        while len(seen) < len(files) or args.serve:
            for event in stack.events():
                if event["id"] not in seen:
                    seen.add(event["id"])
                    print(describe(event), flush=True)
            if not args.serve and time.monotonic() > deadline:
                print(f"timed out: {len(seen)} of {len(files)} outcomes", file=sys.stderr)
                return 1
            time.sleep(0.3)
        created = sum(1 for e in stack.events() if e["type"].endswith(".created"))
        print(f"drained: {len(files)} requests, {created} created, {len(seen) - created} failed")
        print(json.dumps(stack.admin("GET", "state")["counters"]))
        return 0
    except KeyboardInterrupt:
        return 0
    finally:
        stack.stop()


if __name__ == "__main__":
    sys.exit(main())
