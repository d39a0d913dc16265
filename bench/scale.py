"""Scale against the quota: several local hosts on one queue, one ledger and one emulator that enforces Partner
Center's per-tenant limit as a strict sliding window. Each host gets `quota / hosts` as its budget, as the Bicep
gives each instance `500 / maximumInstanceCount`; together they must use the quota (>= 90 %) without exceeding it
(429s < 1 %), exactly once.

    .venv/bin/python -m bench.scale                        # 3 hosts, 3,000 requests, 500/min scaled 10x in time
    .venv/bin/python -m bench.scale --hosts 1 --requests 1000

The limit is 500 calls per 60 s scaled in time (5,000/min in a 6 s window = 500 per 6 s), so a run takes minutes,
not an hour; the pacer and the window see the same shape either way.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict
from typing import Any

from bench.soak import request
from bench.soak_figures import count_outcomes, measure_pace
from devhost.stack import Stack


def run_scale(
    requests: int = 3000, *, hosts: int = 3, per_minute: int = 5000, window: float = 6.0, timeout: float = 1200
) -> dict[str, Any]:
    """Drain a backlog of `requests` with `hosts` local hosts sharing `per_minute`; returns the figures."""
    stack = Stack(
        host_args=["--max-polling-interval", "0.2"],
        extra_env={"PARTNER_CENTER_MAX_REQUESTS_PER_MINUTE": str(per_minute // hosts)},
    ).start(host=False)
    tag = f"sc{int(time.time()) % 100000}"
    try:
        stack.admin("POST", "ratelimit", {"perMinute": per_minute, "windowSeconds": window})
        queue = stack.queue()
        bodies = [json.dumps(request(i, tag)) for i in range(requests)]
        with ThreadPoolExecutor(8) as pool:  # a CRM backfill: the whole backlog before any host starts
            list(pool.map(queue.send_message, bodies))
        started = time.time()
        env = {**os.environ, **stack.env}
        for n in range(hosts):
            stack.processes[f"host{n}"] = stack._spawn(
                f"host{n}", [sys.executable, "-m", "devhost", *stack.host_args], env
            )
        wanted = {f"soak-{tag}-{i:05d}" for i in range(requests)}
        deadline = started + timeout
        while time.time() < deadline and stack.admin("GET", "state")["events"] < requests:
            time.sleep(1.0)
        time.sleep(2)  # stray redeliveries show themselves
        events = stack.events()
        outcomes = count_outcomes(wanted, events, stack.admin("GET", "customers"))
        calls = stack.admin("GET", "calls")
        pace = measure_pace(calls, budget_per_minute=per_minute)
        last = max((c["at"] for c in calls), default=started)
        return {
            "hosts": hosts,
            "requests": requests,
            "quota": f"{per_minute}/min, a strict {window:g} s window ({per_minute * window / 60:g} calls per window)",
            "budget_per_host": per_minute // hosts,
            **asdict(pace),
            "throttled_percent": round(100 * pace.throttled_calls / max(pace.partner_center_calls, 1), 2),
            "drain_seconds_from_host_start": round(last - started, 1),
            **asdict(outcomes),
            "exactly_once": (
                outcomes.customers_created == requests == outcomes.created_requests
                and outcomes.duplicate_domains == outcomes.lost == outcomes.failed_events == 0
                and outcomes.contradictory_outcomes == 0
            ),
        }
    finally:
        for n in range(hosts):
            process = stack.processes.pop(f"host{n}", None)
            if process is not None and process.poll() is None:
                process.terminate()
                process.wait(timeout=30)
        stack.stop()


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.scale", description=__doc__)
    parser.add_argument("--requests", type=int, default=3000)
    parser.add_argument("--hosts", type=int, default=3)
    parser.add_argument("--per-minute", type=int, default=5000, help="the tenant's limit (500/min scaled 10x)")
    parser.add_argument("--window", type=float, default=6.0, help="the limit's sliding window in seconds")
    args = parser.parse_args()
    report = run_scale(args.requests, hosts=args.hosts, per_minute=args.per_minute, window=args.window)
    print(json.dumps(report, indent=2))
    good = report["exactly_once"] and report["budget_percent"] >= 90 and report["throttled_percent"] < 1
    return 0 if good else 1


if __name__ == "__main__":
    sys.exit(main())
