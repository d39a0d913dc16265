"""Performance against a raw baseline: overhead, throughput by concurrency, quota pacing, tokens, cold start, RSS.

    .venv/bin/python -m bench.perf                  # everything, figures as JSON (about 3 minutes)
    .venv/bin/python -m bench.perf --only quota     # one section: overhead, throughput, quota, cold

Each section starts its own stack (Azurite, emulator, and for the function the local host) and reports one run.
The in-process sections (cold start, overhead) live in bench/perf_in_process.py.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import ssl
import sys
import time
from datetime import datetime
from typing import Any

import httpx

from bench.perf_in_process import cold_start, measure_overhead
from bench.soak import PARTNER_CENTER, request
from devhost.stack import Stack

WARMUP_WAVES = 4  # throughput: waves left out while the lockstep start spreads out (see `throughput`)

# --- the raw baseline: one client, one token, only the unavoidable calls, one after another --------------------


async def raw_baseline(stack: Stack, messages: int, concurrency: int) -> dict[str, Any]:
    env = stack.env
    async with httpx.AsyncClient(verify=ssl.create_default_context(cafile=str(stack.ca_file)), timeout=30) as http:
        token_response = await http.post(
            f"{env['PARTNER_CENTER_AUTHORITY_HOST']}/{env['PARTNER_CENTER_TENANT_ID']}/oauth2/v2.0/token",
            data={
                "grant_type": "client_credentials",
                "client_id": env["PARTNER_CENTER_CLIENT_ID"],
                "client_secret": env["PARTNER_CENTER_CLIENT_SECRET"],
                "scope": "https://api.partnercenter.microsoft.com/.default",
            },
        )
        token = token_response.json()["access_token"]
        base = env["PARTNER_CENTER_API_URL"]
        run = f"rb{concurrency}x{int(time.time()) % 100000}"
        pending = [request(i, run) for i in range(messages)]
        done: list[float] = []

        async def one(body: dict[str, Any]) -> None:
            headers = {"Authorization": f"Bearer {token}", "MS-RequestId": body["requestId"], "MS-CorrelationId": "x"}
            customer, address = body["customer"], body["customer"]["address"]
            await http.head(f"{base}/v1/domains/{customer['domainPrefix']}.onmicrosoft.com", headers=headers)
            await http.post(f"{base}/v1/validations/address", json=address, headers=headers)
            billing = {
                "email": customer["email"],
                "culture": customer["culture"],
                "language": customer["language"],
                "companyName": customer["companyName"],
                "defaultAddress": address,
            }
            domain = {"domain": f"{customer['domainPrefix']}.onmicrosoft.com"}
            created = await http.post(
                f"{base}/v1/customers", headers=headers, json={"companyProfile": domain, "billingProfile": billing}
            )
            event = {"specversion": "1.0", "id": body["requestId"], "source": "/raw", "type": "raw"}
            await http.post(
                env["EVENTS_TOPIC_ENDPOINT"],
                json=[{**event, "data": created.json()}],
                headers={"aeg-sas-key": env["EVENTS_TOPIC_KEY"], "Content-Type": "application/cloudevents-batch+json"},
            )
            done.append(time.perf_counter())

        async def worker() -> None:
            while pending:
                await one(pending.pop())

        await asyncio.gather(*(worker() for _ in range(concurrency)))
    return {"messages_per_second": round(steady_rate(sorted(done), after_first=concurrency * WARMUP_WAVES), 2)}


def steady_rate(times: list[float], *, after_first: int) -> float:
    """Completions per second after the first `after_first` (the warm-up batch): those completed after the
    `after_first`-th, over the time from it to the last. Counting from the next completion instead would put one
    batch fewer in the window than it holds, overstating the rate when completions come in waves."""
    window = times[after_first - 1 :]
    return (len(window) - 1) / (window[-1] - window[0]) if len(window) > 1 and window[-1] > window[0] else 0.0


def event_seconds(event: dict[str, Any]) -> float:
    return datetime.fromisoformat(event["time"].replace("Z", "+00:00")).timestamp()


# --- the function through the local host -------------------------------------------------------------------------


def latency_faults(pc_ms: float, eg_ms: float) -> list[dict[str, Any]]:
    return [
        {"target": PARTNER_CENTER, "kind": "latency", "delayMs": pc_ms, "times": None},
        {"target": "events.publish", "kind": "latency", "delayMs": eg_ms, "times": None},
    ]


def host_rss_mb(stack: Stack) -> float:
    status = open(f"/proc/{stack.processes['host'].pid}/status").read()  # noqa: SIM115
    return round(int(next(line.split()[1] for line in status.splitlines() if line.startswith("VmHWM"))) / 1024, 1)


def enqueue(stack: Stack, messages: int, tag: str) -> set[str]:
    queue = stack.queue()
    for i in range(messages):
        queue.send_message(json.dumps(request(i, tag)))
    return {f"soak-{tag}-{i:05d}" for i in range(messages)}


def run_function(stack: Stack, messages: int, tag: str, *, already: int, timeout: float = 600) -> list[dict[str, Any]]:
    """Wait for the outcomes of the `messages` requests enqueued under `tag` (`already`: events before them)."""
    wanted = {f"soak-{tag}-{i:05d}" for i in range(messages)}
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        # Poll the count (cheap for the emulator, which shares the CPU with the function); fetch events when due.
        if stack.admin("GET", "state")["events"] - already >= messages:
            events = [e for e in stack.events() if e["data"].get("requestId") in wanted]
            if len({e["data"]["requestId"] for e in events}) >= messages:
                return events
        time.sleep(0.25)
    raise TimeoutError(f"{tag}: not all {messages} outcomes arrived")


def core_split(*, share_cores: bool) -> tuple[set[int], set[int]]:
    """(the function's cores, the stand-ins' cores). The function gets one core, as a 2048 MB Flex Consumption
    instance has one vCPU; the stand-ins for remote services (Azurite, the emulator) and this script's polling get
    the rest, so their CPU does not count against the function. Every core for both when sharing or on one core."""
    cores = sorted(os.sched_getaffinity(0))
    if share_cores or len(cores) < 2:
        return set(cores), set(cores)
    return {cores[-1]}, set(cores[:-1])


def pin(pid: int, cores: set[int]) -> None:
    """Every thread of a process onto these cores (threads started later inherit it)."""
    for tid in os.listdir(f"/proc/{pid}/task"):
        with contextlib.suppress(ProcessLookupError):
            os.sched_setaffinity(int(tid), cores)


def throughput(concurrencies: list[int], pc_ms: float, eg_ms: float, *, share_cores: bool = False) -> dict[str, Any]:
    """Steady rates of the function and the raw baseline, each on the same single core (unless `share_cores`).

    The whole backlog waits in the queue before the host starts, so executions begin in lockstep: every one wants
    the CPU at the same moments, and the first waves take longer until their starts have spread out. The first
    WARMUP_WAVES waves (which also fetch the token, fill the rules cache and open connections) are left out of the
    steady rate; the rate from the end of the first wave is reported beside it."""
    critical_path = (pc_ms * 2 + eg_ms) / 1000  # pre-flight round (parallel), create, event
    everywhere = os.sched_getaffinity(0)
    function_cores, stand_in_cores = core_split(share_cores=share_cores)
    results: dict[str, Any] = {
        "critical_path_ms": critical_path * 1000,
        "cores": "shared by all"
        if function_cores == stand_in_cores
        else "function and baseline on one core, stand-ins on the other",
        "by_concurrency": {},
    }
    for concurrency in concurrencies:
        messages = max(40, concurrency * (WARMUP_WAVES + 12))
        stack = Stack(
            host_args=["--max-concurrency", str(concurrency), "--batch-size", str(min(32, concurrency)),
                       "--max-polling-interval", "0.05"],
            extra_env={"PARTNER_CENTER_MAX_REQUESTS_PER_MINUTE": "1000000"},
        ).start(host=False)  # fmt: skip
        try:
            for name in ("azurite", "emulator"):
                pin(stack.processes[name].pid, stand_in_cores)
            os.sched_setaffinity(0, stand_in_cores)
            stack.admin("POST", "faults", latency_faults(pc_ms, eg_ms))
            tag = f"tp{concurrency}x{int(time.time()) % 100000}"
            enqueue(stack, messages, tag)
            stack.start_host()
            pin(stack.processes["host"].pid, function_cores)
            events = run_function(stack, messages, tag, already=0)
            times = sorted(event_seconds(e) for e in events)
            function_rate = steady_rate(times, after_first=concurrency * WARMUP_WAVES)
            os.sched_setaffinity(0, function_cores)
            baseline = asyncio.run(raw_baseline(stack, messages, concurrency))
            ideal = concurrency / critical_path
            results["by_concurrency"][str(concurrency)] = {
                "messages": messages,
                "function_per_second": round(function_rate, 2),
                "baseline_per_second": baseline["messages_per_second"],
                "ratio_to_baseline": round(function_rate / baseline["messages_per_second"], 2),
                "ideal_per_second": round(ideal, 2),
                "fraction_of_ideal": round(function_rate / ideal, 3),
                "fraction_of_ideal_after_first_wave": round(steady_rate(times, after_first=concurrency) / ideal, 3),
                "host_peak_rss_mb": host_rss_mb(stack),
            }
        finally:
            os.sched_setaffinity(0, everywhere)
            stack.stop()
    return results


def quota(
    messages: int,
    per_minute: int,
    window_seconds: float | None = None,
    other_tools: float = 0.0,
) -> dict[str, Any]:
    """Partner Center's 500 calls/min, scaled 10× in time: the emulator allows `per_minute` (a token bucket, or a
    strict sliding window of `window_seconds`), less the share `other_tools` use; the function paces to the whole
    budget; a backlog of `messages` is enqueued at once. The ideal drain is at the rate the limit leaves."""
    limit = per_minute * (1 - other_tools)
    stack = Stack(
        host_args=["--max-polling-interval", "0.05"],
        extra_env={"PARTNER_CENTER_MAX_REQUESTS_PER_MINUTE": str(per_minute)},
    ).start()
    try:
        stack.admin("POST", "ratelimit", {"perMinute": limit, "windowSeconds": window_seconds})
        tag = f"q{int(time.time()) % 100000}"
        stack.kill_host()
        enqueue(stack, messages, tag)  # a CRM backfill: the whole backlog at once
        started = time.time()
        stack.start_host()
        events = run_function(stack, messages, tag, already=0, timeout=900)
        last_outcome = max(event_seconds(e) for e in events)
        drain = last_outcome - started
        calls = [c for c in stack.admin("GET", "calls") if c["endpoint"] in PARTNER_CENTER.split(",")]
        working = last_outcome - min(c["at"] for c in calls)  # from the first Partner Center call
        throttled = sum(1 for c in calls if c["status"] == 429)
        answered = len(calls)
        ideal_drain = (answered - throttled) / (limit / 60)
        counters = stack.admin("GET", "state")["counters"]
        return {
            "messages": messages,
            "budget_per_minute": per_minute,
            "limit_per_minute": round(limit, 1),
            "limit": f"sliding window of {window_seconds} s" if window_seconds else "token bucket, 1 s of burst",
            "partner_center_calls_answered": answered,
            "throttled_429": throttled,
            "throttled_fraction": round(throttled / answered, 4),
            "drain_seconds_from_host_start": round(drain, 1),
            "drain_seconds_from_first_call": round(working, 1),
            "calls_over_rate_seconds": round(ideal_drain, 1),
            "drain_vs_ideal_from_host_start": round(drain / ideal_drain, 3),
            "drain_vs_ideal_from_first_call": round(working / ideal_drain, 3),
            "token_requests": counters.get("tokens_issued", 0),
            "token_requests_per_1000_messages": round(counters.get("tokens_issued", 0) * 1000 / messages, 2),
            "outcomes_created": sum(1 for e in events if e["type"].endswith(".created")),
        }
    finally:
        stack.stop()


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.perf", description=__doc__)
    parser.add_argument("--only", choices=["overhead", "throughput", "quota", "cold"])
    parser.add_argument("--overhead-messages", type=int, default=200)
    parser.add_argument("--concurrency", type=int, nargs="+", default=[1, 4, 16, 32])
    parser.add_argument("--pc-latency-ms", type=float, default=200)
    parser.add_argument("--eg-latency-ms", type=float, default=20)
    parser.add_argument(
        "--share-cores", action="store_true", help="throughput: leave every process on every core (no pinning)"
    )
    parser.add_argument("--quota-messages", type=int, default=1000)
    parser.add_argument("--quota-per-minute", type=int, default=5000, help="500/min scaled 10x in time")
    parser.add_argument(
        "--quota-other-tools", type=float, default=0.0, help="the share of the limit other tools use (0.2: 20 %%)"
    )
    parser.add_argument(
        "--quota-window-seconds", type=float, help="a strict sliding window instead of a token bucket (6: 500 per 6 s)"
    )
    args = parser.parse_args()
    report: dict[str, Any] = {}
    if args.only in (None, "cold"):
        report["cold_start"] = cold_start()
    if args.only in (None, "overhead"):
        # Pacing is lifted: its waits are deliberate, not overhead (the quota section measures them).
        stack = Stack(extra_env={"PARTNER_CENTER_MAX_REQUESTS_PER_MINUTE": "1000000"}).start(host=False)
        try:
            report["overhead"] = asyncio.run(measure_overhead(stack, args.overhead_messages))
        finally:
            stack.stop()
    if args.only in (None, "throughput"):
        report["throughput"] = throughput(
            args.concurrency, args.pc_latency_ms, args.eg_latency_ms, share_cores=args.share_cores
        )
    if args.only in (None, "quota"):
        report["quota"] = quota(
            args.quota_messages, args.quota_per_minute, args.quota_window_seconds, args.quota_other_tools
        )
    print(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
