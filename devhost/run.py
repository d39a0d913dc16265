"""The main job, locally: start the stack, enqueue the sample requests, print each outcome.

python -m devhost.run            # exit when every sample has its outcome (the queue is drained)
python -m devhost.run --serve    # then keep running; .local/stack.env says how to send more and look inside
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shlex
import signal
import sys
import time
from pathlib import Path
from typing import Any

from devhost.stack import LOCAL, QUEUE, ROOT, Stack

STACK_FILE = LOCAL / "stack.env"


def describe(event: dict[str, Any]) -> str:
    """One readable line per outcome event."""
    data = event.get("data", {})
    who = f"{data.get('requestId') or '?'} ({data.get('crmAccountId') or '?'})"
    kind = event.get("type", "")
    if kind.endswith(".created"):
        reseller = f", for reseller {data['associatedPartnerId']}" if data.get("associatedPartnerId") else ""
        return (
            f"CREATED  {who}: customer {data['customerId']}, tenant {data['tenantId']}, domain {data['domain']}, "
            f"admin {data['adminUserPrincipalName']}{reseller}"
        )
    if kind.endswith("agreement.confirmed"):
        return f"MCA OK   {who}: attested for customer {data['customerId']} (template {data['templateId']})"
    if kind.endswith("consent.required"):
        return f"CONSENT  App+User sign-in needed ({data.get('reason')}): {data.get('message')}"
    errors = "; ".join(e["message"] for e in data.get("errors", [])) or data.get("message", "")
    retry = "retryable" if data.get("retryable") else "not retryable"
    label = "MCA FAIL" if kind.endswith("agreement.failed") else "FAILED  "
    return f"{label} {who}: {data.get('reason')} ({retry}): {errors}"


def write_stack_file(stack: Stack, path: Path = STACK_FILE) -> Path:
    """What a developer needs while the stack runs, as a shell file (mode 600: it holds Azurite's key)."""
    settings = {
        "CrmQueue": stack.env["CrmQueue"],
        "AzureWebJobsStorage": stack.env["AzureWebJobsStorage"],
        "CUSTOMER_REQUESTS_QUEUE": stack.env.get("CUSTOMER_REQUESTS_QUEUE", QUEUE),
        "EMULATOR_URL": stack.emulator_url,
        "SSL_CERT_FILE": str(stack.ca_file),
    }
    logs = stack.log_dir.relative_to(ROOT) if stack.log_dir.is_relative_to(ROOT) else stack.log_dir
    lines = [
        f"# The local stack of scripts/run --serve (pid {os.getpid()}); valid while it runs, removed when it stops.",
        "# Send a request:    scripts/send samples/requests/se-wingtip-toys.json   (its outcome prints in --serve)",
        "# Use it in a shell: set -a; . .local/stack.env; set +a",
        "# Then:              .venv/bin/python -m ops.status     .venv/bin/python -m ops.replay_poison --dry-run",
        '# Outcome events:    curl -s --cacert "$SSL_CERT_FILE" "$EMULATOR_URL/_emulator/events"',
        '# Partner Center:    curl -s --cacert "$SSL_CERT_FILE" "$EMULATOR_URL/_emulator/customers"   (also calls,',
        "#                    state, faults: docs/developing.md, The emulator)",
        f"# Logs:              {logs}/host.log, emulator.log, azurite.log",
        *(f"{name}={shlex.quote(value)}" for name, value in settings.items()),
    ]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.touch(mode=0o600)
    path.chmod(0o600)
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


class AccessLog:
    """Appends the calls the emulator answered to its log, as access lines (the emulator records them but logs
    none): `time status method path endpoint MS-RequestId [fault]`."""

    def __init__(self, stack: Stack) -> None:
        self.stack = stack
        self.path = stack.log_dir / "emulator.log"
        self.written = 0

    def append_new(self) -> None:
        total = int(self.stack.admin("GET", "state")["calls"])
        if total < self.written:  # the emulator was reset
            self.written = 0
        if total == self.written:
            return
        calls = self.stack.admin("GET", "calls")
        with open(self.path, "a", encoding="utf-8") as log:
            for call in calls[self.written :]:
                at = time.strftime("%Y-%m-%dT%H:%M:%S", time.localtime(call["at"]))
                fault = f" fault={call['fault']}" if call.get("fault") else ""
                log.write(
                    f"{at} {call['status']} {call['method']} {call['path']} {call['endpoint']} "
                    f"ms-request-id={call.get('ms_request_id') or '-'}{fault}\n"
                )
        self.written = len(calls)


def curl_lines(stack: Stack) -> str:
    """How to call each HTTP route of the running stack with curl, each with its own route's function key (read from
    a file, never shown)."""

    def key(family: str) -> str:
        return f"-H @{stack.key_header_file(family).relative_to(ROOT)}"

    json_body, xml_body = (
        "-H 'Content-Type: application/json' --data-binary",
        "-H 'Content-Type: text/xml' --data-binary",
    )
    calls = [
        ("a §1 request", f"-X POST {key('intake')} {json_body} @samples/requests/se-wingtip-toys.json",
         "customer-requests"),
        ("its state", key("status"), "customer-requests/crm-se-0001"),
        ("would it pass?", f"-X POST {key('validate')} {json_body} @samples/failing/nl-domain-taken.json",
         "customer-requests/validate"),
        ("Dynamics 365", f"-X POST {key('dataverse')} {json_body} @samples/crm/dataverse-account-create.json",
         "crm/dataverse"),
        ("Salesforce", f"-X POST {key('salesforce')} {xml_body} @samples/crm/salesforce-accounts.xml",
         "crm/salesforce"),
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
    stack = Stack(host_args=["--max-polling-interval", "0.5"], app_user=True)
    print(f"Starting Azurite, the emulator and the local Functions host (logs in {stack.log_dir}) ...", flush=True)
    access: AccessLog | None = None
    try:
        stack.start()
        access = AccessLog(stack)
        if args.serve:
            print(f"How to send requests and look inside: {write_stack_file(stack).relative_to(ROOT)}", flush=True)

        print(curl_lines(stack), flush=True)
        queue = stack.queue()
        for path in files:
            queue.send_message(path.read_text(encoding="utf-8"))  # host.json messageEncoding: none
            print(f"enqueued {path.parent.name}/{path.name}", flush=True)
        seen: set[str] = set()
        deadline = time.monotonic() + args.timeout
        expected = len(files) + sum(1 for path in files if "mcaAcceptance" in path.read_text(encoding="utf-8"))
        while len(seen) < expected or args.serve:
            for event in stack.events():
                if event["id"] not in seen:
                    seen.add(event["id"])
                    print(describe(event), flush=True)
            access.append_new()
            if not args.serve and time.monotonic() > deadline:
                print(f"timed out: {len(seen)} of {expected} outcomes", file=sys.stderr)
                return 1
            time.sleep(0.3)
        created = sum(1 for e in stack.events() if e["type"].endswith(".created"))
        failed = sum(1 for e in stack.events() if e["type"].endswith("customer.failed"))
        attested = sum(1 for e in stack.events() if e["type"].endswith("agreement.confirmed"))
        print(f"drained: {len(files)} requests, {created} created ({attested} with MCA confirmed), {failed} failed")
        print(json.dumps(stack.admin("GET", "state")["counters"]))
        return 0
    except KeyboardInterrupt:
        return 0
    finally:
        if args.serve:
            STACK_FILE.unlink(missing_ok=True)
        if access is not None:
            with contextlib.suppress(Exception):  # the last calls, if the emulator still answers
                access.append_new()
        stack.stop()


if __name__ == "__main__":
    sys.exit(main())
