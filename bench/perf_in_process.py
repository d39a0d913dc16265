"""The in-process sections of bench.perf: cold start (import and index in a fresh interpreter) and the overhead per
message (time inside the function minus the time it waits on the network)."""

from __future__ import annotations

import json
import os
import ssl
import statistics
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable
from contextvars import ContextVar
from dataclasses import replace
from typing import Any

import httpx
from httpx_aiohttp import AiohttpTransport

from bench.soak import request
from devhost.stack import ROOT, Stack
from handlers.api import Dependencies, Ledger, Settings, build_dependencies, close, handle_message

_intervals: ContextVar[list[tuple[float, float]]] = ContextVar("network_intervals")


# --- overhead: time inside the function minus time waiting on the network ---------------------------------------


class TimedTransport(httpx.AsyncBaseTransport):
    """Records when each HTTP call of the current invocation waited on the network."""

    def __init__(self, inner: httpx.AsyncBaseTransport) -> None:
        self.inner = inner

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        start = time.perf_counter()
        response = await self.inner.handle_async_request(request)
        await response.aread()
        _intervals.get().append((start, time.perf_counter()))
        return response

    async def aclose(self) -> None:
        await self.inner.aclose()


class TimedRows:
    """The ledger's storage round trips count as network waits too (the row store under the state machine)."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner

    def __getattr__(self, name: str) -> Callable[..., Awaitable[Any]]:
        method = getattr(self.inner, name)

        async def timed(*args: Any, **kwargs: Any) -> Any:
            start = time.perf_counter()
            try:
                return await method(*args, **kwargs)
            finally:
                _intervals.get().append((start, time.perf_counter()))

        return timed


def time_the_budget(deps: Dependencies) -> ContextVar[list[tuple[float, float]]]:
    """Record each Partner Center call's wait for its slot of the shared budget (leasing a block from the row, the
    wait for its lead): waiting on storage and on the schedule, not the function's own time. Each message here is
    alone at a budget of 1,000,000/min, so each call leases its own block."""
    waits: ContextVar[list[tuple[float, float]]] = ContextVar("budget_waits")
    budget = deps.budget
    if budget is None:
        return waits
    acquire = budget.acquire

    async def timed_acquire() -> None:
        start = time.perf_counter()
        try:
            await acquire()
        finally:
            waits.get().append((start, time.perf_counter()))

    budget.acquire = timed_acquire  # type: ignore[method-assign]
    return waits


def union_seconds(intervals: list[tuple[float, float]]) -> float:
    total, end = 0.0, float("-inf")
    for start, stop in sorted(intervals):
        if stop > end:
            total += stop - max(start, end)
            end = stop
    return total


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


async def measure_overhead(stack: Stack, messages: int) -> dict[str, Any]:
    os.environ["SSL_CERT_FILE"] = stack.env["SSL_CERT_FILE"]  # MSAL runs in this process here
    settings = Settings(**{k: v for k, v in stack.env.items() if k in Settings.model_fields})  # type: ignore[arg-type]
    transport = TimedTransport(AiohttpTransport(verify=ssl.create_default_context(cafile=str(stack.ca_file))))
    http = httpx.AsyncClient(transport=transport, timeout=30)
    deps: Dependencies = build_dependencies(settings, http=http)
    deps = replace(deps, ledger=Ledger(TimedRows(deps.ledger.rows)))  # type: ignore[arg-type]
    budget_waits = time_the_budget(deps)
    overheads, walls, waits = [], [], []
    run = f"ov{int(time.time()) % 100000}"
    for i in range(messages + 5):
        body = json.dumps(request(i, run))
        token, budget_token = _intervals.set([]), budget_waits.set([])
        start = time.perf_counter()
        await handle_message(body, deps)
        wall = time.perf_counter() - start
        waited = budget_waits.get()
        network = union_seconds(_intervals.get() + waited)
        _intervals.reset(token)
        budget_waits.reset(budget_token)
        if i >= 5:  # the first messages warm the token, the rules cache and the connection pool
            overheads.append((wall - network) * 1000)
            walls.append(wall * 1000)
            waits.append(union_seconds(waited) * 1000)
    await http.aclose()
    await close(deps.ledger.rows.inner, deps.parking)  # type: ignore[attr-defined]
    return {
        "messages": messages,
        "overhead_ms_p50": round(percentile(overheads, 0.5), 2),
        "overhead_ms_p95": round(percentile(overheads, 0.95), 2),
        "wall_ms_p50": round(percentile(walls, 0.5), 2),
        "budget_wait_ms_p50": round(percentile(waits, 0.5), 2),
        "ledger": type(deps.ledger.rows.inner).__name__,  # type: ignore[attr-defined]
    }


COLD = """
import sys, time
t = time.perf_counter()
import function_app
function_app.app.get_functions()
elapsed = time.perf_counter() - t
heavy = [m for m in ("azure.identity", "azure.monitor.opentelemetry", "opentelemetry.sdk", "azure.data.tables",
                     "msal", "aiohttp", "requests", "cryptography.x509") if m in sys.modules]
print(elapsed * 1000, ",".join(heavy))
"""


def cold_start(runs: int = 7) -> dict[str, Any]:
    """Import function_app and index its functions in a fresh interpreter (telemetry export off)."""
    samples, heavy = [], ""
    for _ in range(runs):
        out = subprocess.run([sys.executable, "-c", COLD], cwd=ROOT, capture_output=True, text=True, check=True)
        value, heavy = out.stdout.split()[0], [*out.stdout.split(), ""][1]
        samples.append(float(value))
    return {
        "runs": runs,
        "import_and_index_ms_median": round(statistics.median(samples), 1),
        "import_and_index_ms_max": round(max(samples), 1),
        "heavy_modules_at_index": heavy or "none",
    }
