"""Chaos soak: N requests through Azurite → local host → function → emulator, with seeded faults and the host
killed (SIGKILL) and restarted mid-run. Reports whether every request got exactly one customer and one outcome.

    .venv/bin/python -m bench.soak --requests 1000 --kills 2
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass
from typing import Any

from devhost.stack import Stack

PARTNER_CENTER = "customers.create,domains.head,address.validate,rules.get"


def chaos_faults(seed: int) -> list[dict[str, Any]]:
    """The issue's fault mix: 10% 429 with Retry-After, 5% 503, 3% commit-then-drop, 2% Event Grid 500."""
    return [
        {"target": PARTNER_CENTER, "kind": "throttle", "retryAfter": 1, "probability": 0.10, "times": None},
        {"target": PARTNER_CENTER, "kind": "status", "status": 503, "probability": 0.05, "times": None},
        {"target": "customers.create", "kind": "commit_drop", "probability": 0.03, "times": None},
        {"target": "events.publish", "kind": "status", "status": 500, "probability": 0.02, "times": None},
    ]


def request(index: int, run: str) -> dict[str, Any]:
    """A valid Swedish request, unique per index."""
    return {
        "schemaVersion": "1.0",
        "requestId": f"soak-{run}-{index:05d}",
        "crmAccountId": f"ACC-SOAK-{index:05d}",
        "correlationId": f"{run}{index:05d}",
        "customer": {
            "companyName": f"Soak Test {index} AB",
            "domainPrefix": f"soak{run}{index:05d}",
            "email": f"it{index}@soak.example",
            "culture": "sv-SE",
            "language": "sv",
            "address": {
                "firstName": "Astrid", "lastName": "Lindqvist", "addressLine1": "Drottninggatan 1",
                "city": "Stockholm", "postalCode": "111 51", "country": "SE", "phoneNumber": "+46 8 123 456",
            },
        },
    }  # fmt: skip


@dataclass
class SoakReport:
    requests: int
    customers_created: int
    duplicate_domains: int
    created_events: int
    created_requests: int
    failed_events: int
    poisoned: int
    lost: int
    duplicate_outcomes: int
    host_kills: int
    faults_fired: dict[str, int]
    wall_seconds: float

    @property
    def exactly_once(self) -> bool:
        return (
            self.customers_created == self.requests == self.created_requests
            and self.duplicate_domains == 0
            and self.lost == 0
            and self.poisoned == 0
            and self.failed_events == 0
        )


def run_soak(
    requests: int = 1000, *, kills: int = 2, seed: int = 7, timeout: float = 900.0, stack: Stack | None = None
) -> SoakReport:
    """Run the soak on a new stack (or a given one) and count what happened."""
    own = stack is None
    stack = (
        stack
        or Stack(
            host_args=["--visibility-timeout", "1", "--max-polling-interval", "0.2", "--lease-seconds", "30"],
            extra_env={"ONBOARDING_DEADLINE_SECONDS": "20", "PARTNER_CENTER_MAX_REQUESTS_PER_MINUTE": "100000"},
        ).start()
    )
    run = f"{seed:02d}{int(time.time()) % 10000:04d}"
    try:
        stack.admin("POST", "reset")
        stack.admin("DELETE", f"faults?seed={seed}")
        stack.admin("POST", "faults", chaos_faults(seed))
        queue = stack.queue()
        started = time.monotonic()
        bodies = [json.dumps(request(i, run)) for i in range(requests)]
        with ThreadPoolExecutor(8) as pool:
            list(pool.map(queue.send_message, bodies))
        kill_at = [requests * (k + 1) // (kills + 1) for k in range(kills)]
        killed = 0
        wanted = {f"soak-{run}-{i:05d}" for i in range(requests)}
        deadline = started + timeout
        while True:
            events = [e for e in stack.events() if e["data"].get("requestId") in wanted]
            answered = {e["data"]["requestId"] for e in events}
            if killed < kills and len(answered) >= kill_at[killed]:
                stack.kill_host()
                killed += 1
                print(f"killed the host at {len(answered)} outcomes; restarting", file=sys.stderr, flush=True)
                stack.start_host()
            if answered >= wanted or time.monotonic() > deadline:
                break
            time.sleep(0.5)
        time.sleep(2)  # let stray redeliveries show themselves
        wall = time.monotonic() - started
        events = [e for e in stack.events() if e["data"].get("requestId") in wanted]
        state = stack.admin("GET", "state")
        customers = stack.admin("GET", "customers")
        domains = Counter(c["companyProfile"]["domain"] for c in customers)
        created = [e for e in events if e["type"].endswith(".created")]
        failed = [e for e in events if e["type"].endswith(".failed")]
        outcomes = Counter((e["type"], e["data"]["requestId"]) for e in events)
        return SoakReport(
            requests=requests,
            customers_created=len(customers),
            duplicate_domains=sum(n - 1 for n in domains.values() if n > 1),
            created_events=len(created),
            created_requests=len({e["data"]["requestId"] for e in created}),
            failed_events=len(failed),
            poisoned=sum(1 for e in failed if e["data"]["reason"] == "retries_exhausted"),
            lost=len(wanted - {e["data"]["requestId"] for e in events}),
            duplicate_outcomes=sum(n - 1 for n in outcomes.values() if n > 1),
            host_kills=killed,
            faults_fired={
                f"{'partner-center' if f['target'] == PARTNER_CENTER else f['target']}:{f['kind']}": f["fired"]
                for f in state["faults"]
            },
            wall_seconds=round(wall, 1),
        )
    finally:
        stack.admin("DELETE", "faults")
        if own:
            stack.stop()


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.soak", description=__doc__)
    parser.add_argument("--requests", type=int, default=1000)
    parser.add_argument("--kills", type=int, default=2)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    report = run_soak(args.requests, kills=args.kills, seed=args.seed)
    print(json.dumps({**asdict(report), "exactly_once": report.exactly_once}, indent=2))
    return 0 if report.exactly_once else 1


if __name__ == "__main__":
    sys.exit(main())
