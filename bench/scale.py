"""Scale against the quota: several local hosts on one queue, one ledger and one emulator that enforces Partner
Center's per-tenant limit as one strict sliding window over every caller. Every host is given the whole quota as its
budget (PARTNER_CENTER_MAX_REQUESTS_PER_MINUTE, never divided by an instance count: contract rule 8), and they share
it through the budget's row in Azurite; together they must use the quota (>= 90 %) without exceeding it (429s < 1 %),
every request created once. The Table traffic passes the emulator's table proxy, which counts it by table.

    .venv/bin/python -m bench.scale                                  # 3 hosts, 3,000 requests, 500/min scaled 10x
    .venv/bin/python -m bench.scale --hosts 6 --concurrency 12      # six hosts, 8 + 4 in flight each
    .venv/bin/python -m bench.scale --hosts 1 --requests 1000
    .venv/bin/python -m bench.scale --requests 2000 --per-minute 1200 --window 3 --concurrency 48 --visibility-timeout 5
    .venv/bin/python -m bench.scale --requests 1000 --validations 100    # a validation flood beside the backlog
    .venv/bin/python -m bench.scale --storage-outage 20 30               # the budget's table fails 20-50 s in

The limit is 500 calls per 60 s scaled in time (5,000/min in a 6 s window = 500 per 6 s) by default, so a run takes
minutes, not an hour; the budget and the window see the same shape either way. `--visibility-timeout 5` shortens
the invocation (T = 15 s) so that the in-flight requests want more calls than the quota serves within one: the
backpressure case (none poisoned, none lost, deferrals counted).
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

from bench.scale_load import BUDGET_TABLE, StorageOutage, ValidationFlood, latencies, log_lines, pace_between
from bench.soak import request
from bench.soak_figures import count_outcomes, measure_pace
from devhost.hostjson import timing_overrides
from devhost.stack import Stack, _wait_port
from emulator.app import PARTNER_CENTER_ENDPOINTS


def host_env(per_minute: int, concurrency: int | None, visibility_timeout: float | None) -> dict[str, str]:
    """Every host's app settings: the whole quota as the budget, and this run's concurrency and timing."""
    env = {"PARTNER_CENTER_MAX_REQUESTS_PER_MINUTE": str(per_minute)}
    if concurrency is not None:  # in flight per host: batchSize (at most 32, as the host allows) + newBatchThreshold
        batch = min(32, max(1, round(concurrency * 2 / 3)))
        env["AzureFunctionsJobHost__extensions__queues__batchSize"] = str(batch)
        env["AzureFunctionsJobHost__extensions__queues__newBatchThreshold"] = str(max(0, concurrency - batch))
    if visibility_timeout is not None:
        env.update(timing_overrides(visibility_timeout=visibility_timeout))
    return env


def run_scale(
    requests: int = 3000,
    *,
    hosts: int = 3,
    per_minute: int = 5000,
    window: float = 6.0,
    concurrency: int | None = None,
    visibility_timeout: float | None = None,
    validations: int = 0,
    storage_outage: tuple[float, float] | None = None,
    timeout: float = 1800,
) -> dict[str, Any]:
    """Drain a backlog of `requests` with `hosts` local hosts sharing one budget of `per_minute`; the figures."""
    stack = Stack(
        host_args=["--max-polling-interval", "0.2"],
        extra_env=host_env(per_minute, concurrency, visibility_timeout),
        table_proxy=True,
    ).start(host=False)
    tag = f"sc{int(time.time()) % 100000}"
    flood: ValidationFlood | None = None
    outage: StorageOutage | None = None
    try:
        stack.admin("POST", "ratelimit", {"perMinute": per_minute, "windowSeconds": window})
        queue = stack.queue()
        bodies = [json.dumps(request(i, tag)) for i in range(requests)]
        with ThreadPoolExecutor(8) as pool:  # a CRM backfill: the whole backlog before any host starts
            list(pool.map(queue.send_message, bodies))
        started = time.time()
        start_hosts(stack, hosts)
        flood = ValidationFlood(stack, validations).start() if validations else None
        outage = StorageOutage(stack, *storage_outage).start() if storage_outage else None
        wanted = {f"soak-{tag}-{i:05d}" for i in range(requests)}
        deadline = started + timeout
        while time.time() < deadline and len(answered(stack, wanted)) < requests:
            time.sleep(1.0)
        flooded = flood.stop() if flood else None
        time.sleep(2)  # stray redeliveries show themselves
        return figures(stack, hosts, requests, per_minute, window, wanted, started, flooded, outage)
    finally:
        if flood is not None:
            flood.stop()
        if outage is not None:
            outage.cancel()
        for n in range(hosts):
            process = stack.processes.pop(f"host{n}", None)
            if process is not None and process.poll() is None:
                process.terminate()
                process.wait(timeout=30)
        stack.stop()


def start_hosts(stack: Stack, hosts: int) -> None:
    """`hosts` local hosts on the stack's queue; the first also serves the HTTP functions (validate)."""
    env = {**os.environ, **stack.env}
    for n in range(hosts):
        (stack.log_dir / f"host{n}.log").write_bytes(b"")  # this run's lines only: the figures count them
        command = [sys.executable, "-m", "devhost", *stack.host_args]
        if n == 0:
            keys = stack._function_keys()
            command += ["--http-port", str(stack.ports["http"]), "--keys-file", str(keys)]
        stack.processes[f"host{n}"] = stack._spawn(f"host{n}", command, env)
    _wait_port(stack.ports["http"], stack.processes["host0"], "host0")  # the flood's calls find it listening


def answered(stack: Stack, wanted: set[str]) -> set[str]:
    events = stack.admin("GET", "events")
    return {e["data"].get("requestId") for e in events if e["type"].startswith("csp.onboarding.customer.")} & wanted


def figures(
    stack: Stack, hosts: int, requests: int, per_minute: int, window: float, wanted: set[str], started: float,
    flooded: dict[str, Any] | None, outage: StorageOutage | None,
) -> dict[str, Any]:  # fmt: skip
    events = stack.events()
    outcomes = count_outcomes(wanted, events, stack.admin("GET", "customers"))
    calls = [c for c in stack.admin("GET", "calls") if c["endpoint"] in PARTNER_CENTER_ENDPOINTS]
    pace = measure_pace(calls, budget_per_minute=per_minute)
    counters = stack.admin("GET", "state")["counters"]
    report: dict[str, Any] = {
        "hosts": hosts,
        "requests": requests,
        "quota": f"{per_minute}/min, a strict {window:g} s window ({per_minute * window / 60:g} calls per window)",
        "budget_per_host": per_minute,
        **asdict(pace),
        "throttled_percent": round(100 * pace.throttled_calls / max(pace.partner_center_calls, 1), 2),
        "drain_seconds_from_host_start": round(max((c["at"] for c in calls), default=started) - started, 1),
        "latency_seconds_from_host_start": latencies(events, wanted, started),
        "deferrals": log_lines(stack.log_dir, hosts, "Deferred the request"),
        # Each of these spent one of its message's deliveries (the fifth failure goes to the poison queue).
        "failed_deliveries": log_lines(stack.log_dir, hosts, "Executed 'Functions.onboard_customer' (Failed"),
        "budget_storage_operations": counters.get(f"storage_requests:{BUDGET_TABLE}", 0),
        "budget_storage_operations_per_call": round(
            counters.get(f"storage_requests:{BUDGET_TABLE}", 0) / max(pace.partner_center_calls, 1), 3
        ),
        **asdict(outcomes),
        "exactly_once": (
            outcomes.customers_created == requests == outcomes.created_requests
            and outcomes.duplicate_domains == outcomes.lost == outcomes.failed_events == 0
            and outcomes.contradictory_outcomes == 0
        ),
    }
    if flooded is not None:
        report["validation_flood"] = flooded
    if outage is not None and outage.window is not None:
        began, ended = outage.window
        report["storage_outage"] = {
            "seconds": round(ended - began, 1),
            "refused_storage_requests": counters.get("storage_unavailable", 0),
            "fallback_entries": log_lines(stack.log_dir, hosts, "the shared row cannot be reached"),
            "before": pace_between(calls, began - (ended - began), began),
            "during": pace_between(calls, began, ended),
            "after": pace_between(calls, ended, ended + (ended - began)),
        }
    return report


def main() -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.scale", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--requests", type=int, default=3000)
    parser.add_argument("--hosts", type=int, default=3)
    parser.add_argument("--per-minute", type=int, default=5000, help="the tenant's limit (500/min scaled 10x)")
    parser.add_argument("--window", type=float, default=6.0, help="the limit's sliding window in seconds")
    parser.add_argument("--concurrency", type=int, help="in flight per host (host.json's 16 + 8 = 24 by default)")
    parser.add_argument("--visibility-timeout", type=float, help="host.json's visibilityTimeout (sets T = 3 x it)")
    parser.add_argument("--validations", type=int, default=0, help="callers flooding POST /validate meanwhile")
    parser.add_argument("--storage-outage", type=float, nargs=2, metavar=("START", "SECONDS"))
    args = parser.parse_args()
    report = run_scale(
        args.requests, hosts=args.hosts, per_minute=args.per_minute, window=args.window,
        concurrency=args.concurrency, visibility_timeout=args.visibility_timeout, validations=args.validations,
        storage_outage=(args.storage_outage[0], args.storage_outage[1]) if args.storage_outage else None,
    )  # fmt: skip
    print(json.dumps(report, indent=2))
    good = report["exactly_once"] and report["budget_percent"] >= 90 and report["throttled_percent"] < 1
    return 0 if good else 1


if __name__ == "__main__":
    sys.exit(main())
