"""Validate's own time: the request model and the whole pre-flight for a good and a bad request, with Partner
Center's latency taken out (an in-process Partner Center that answers at once), then end to end through the
local stack (HTTP, key check, the emulator's answers) for comparison.

    .venv/bin/python -m bench.validate [--calls 200] [--no-stack]
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import json
import statistics
import sys
import time
from collections.abc import Awaitable, Callable
from typing import Any

import httpx

from devhost.stack import ROOT, Stack
from handlers.api import validate_request
from tests.fakes import FakePartnerCenter, dependencies, sample

JSON = "application/json"
ROUTE = "/customer-requests/validate"


def requests() -> dict[str, bytes]:
    good = sample("se-wingtip-toys")
    taken = sample("se-wingtip-toys")
    taken["customer"]["domainPrefix"] = "contoso"  # taken in the emulator too
    broken = sample("se-wingtip-toys")
    broken["customer"]["email"] = "nope"
    broken["customer"]["address"]["country"] = "UK"
    return {name: json.dumps(r).encode() for name, r in (("good", good), ("taken", taken), ("invalid", broken))}


def summary(seconds: list[float]) -> dict[str, float]:
    ordered = sorted(seconds)
    return {
        "p50_ms": round(statistics.median(ordered) * 1000, 3),
        "p95_ms": round(ordered[int(len(ordered) * 0.95) - 1] * 1000, 3),
        "max_ms": round(ordered[-1] * 1000, 3),
    }


async def timed(call: Callable[[], Awaitable[Any]], count: int) -> list[float]:
    seconds = []
    for _ in range(count):
        started = time.perf_counter()
        await call()
        seconds.append(time.perf_counter() - started)
    return seconds


async def own_time(count: int) -> dict[str, Any]:
    partner_center = FakePartnerCenter()
    partner_center.taken_domains.add("contoso.onmicrosoft.com")
    deps = dependencies(partner_center)
    results = {}
    for name, body in requests().items():
        answer = await validate_request(body, JSON, deps)
        results[name] = {"valid": json.loads(answer.body)["valid"], **summary(
            await timed(functools.partial(validate_request, body, JSON, deps), count))}  # fmt: skip
    return results


async def through_stack(count: int) -> dict[str, Any]:
    stack = Stack(
        log_dir=ROOT / ".local" / "bench-validate", extra_env={"PARTNER_CENTER_MAX_REQUESTS_PER_MINUTE": "60000"}
    )
    stack.start()
    try:
        results = {}
        headers = {"x-functions-key": stack.function_key, "Content-Type": JSON}
        async with httpx.AsyncClient(base_url=stack.http_url, headers=headers, timeout=30) as client:
            await client.post("/customer-requests/validate", content=requests()["good"])  # first call builds the worker
            for name, body in requests().items():
                answer = await client.post(ROUTE, content=body)
                seconds = await timed(functools.partial(client.post, ROUTE, content=body), count)
                results[name] = {"valid": answer.json()["valid"], **summary(seconds)}
        return results
    finally:
        stack.stop()


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.validate", description=__doc__)
    parser.add_argument("--calls", type=int, default=200)
    parser.add_argument("--no-stack", action="store_true")
    args = parser.parse_args()
    figures: dict[str, Any] = {"own_time_partner_center_instant": asyncio.run(own_time(args.calls))}
    if not args.no_stack:
        figures["end_to_end_local_stack"] = asyncio.run(through_stack(max(10, args.calls // 4)))
    print(json.dumps(figures, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
