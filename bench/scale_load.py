"""What bench.scale adds beside the backlog and reads afterwards: a flood of POST /validate callers, the budget's
storage failing for a while, and the figures from the hosts' logs and the emulator's records."""

from __future__ import annotations

import json
import statistics
import threading
import time
import urllib.error
import urllib.request
from collections import Counter
from datetime import datetime
from pathlib import Path
from typing import Any

from bench.soak import request
from devhost.stack import Stack

BUDGET_TABLE = "onboardingbudget"  # ONBOARDING_BUDGET_TABLE's default


class ValidationFlood:
    """`callers` threads POSTing one request each to /api/customer-requests/validate, again and again, until stopped;
    counts the answers by status and their latency."""

    def __init__(self, stack: Stack, callers: int) -> None:
        self._url = f"{stack.http_url}/customer-requests/validate"
        self._key = stack.function_key
        self._body = json.dumps(request(0, "validate")).encode()
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self.statuses: Counter[int] = Counter()
        self.ok_ms: list[float] = []
        self._threads = [threading.Thread(target=self._call, daemon=True) for _ in range(callers)]

    def start(self) -> ValidationFlood:
        for thread in self._threads:
            thread.start()
        return self

    def stop(self) -> dict[str, Any]:
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=60)
        ok = sorted(self.ok_ms)
        return {
            "callers": len(self._threads),
            "answers": dict(sorted(self.statuses.items())),
            "ok_p50_ms": round(statistics.median(ok), 1) if ok else None,
        }

    def _call(self) -> None:
        while not self._stop.is_set():
            call = urllib.request.Request(self._url, data=self._body, method="POST")  # noqa: S310 — loopback
            call.add_header("Content-Type", "application/json")
            call.add_header("x-functions-key", self._key)
            started = time.monotonic()
            try:
                with urllib.request.urlopen(call, timeout=120) as answer:  # noqa: S310
                    answer.read()
                    status = answer.status
            except urllib.error.HTTPError as refused:
                status = refused.code
                retry_after = float(refused.headers.get("Retry-After") or 0)
                self._stop.wait(min(retry_after, 1.0))  # a flood: back after a moment, not after Retry-After
            except OSError:  # no answer at all (counted as 0)
                status = 0
                self._stop.wait(0.1)
            with self._lock:
                self.statuses[status] += 1
                if status == 200:
                    self.ok_ms.append((time.monotonic() - started) * 1000)


class StorageOutage:
    """The budget's table answers 503 to every request from `start` seconds after the hosts started, for `seconds`."""

    def __init__(self, stack: Stack, start: float, seconds: float) -> None:
        self._timer = threading.Timer(start, self._begin, args=(stack, seconds))
        self._timer.daemon = True
        self.window: tuple[float, float] | None = None

    def start(self) -> StorageOutage:
        self._timer.start()
        return self

    def _begin(self, stack: Stack, seconds: float) -> None:
        began = time.time()
        stack.admin("POST", "storage-faults", {"unavailable": 1.0, "tables": [BUDGET_TABLE], "times": None})
        time.sleep(seconds)
        stack.admin("DELETE", "storage-faults")
        self.window = (began, time.time())

    def cancel(self) -> None:
        self._timer.cancel()


def latencies(events: list[dict[str, Any]], wanted: set[str], started: float) -> dict[str, float]:
    """p50 / p95 / max seconds from the hosts' start to each wanted request's first outcome."""
    first: dict[str, float] = {}
    for event in events:
        request_id = event["data"].get("requestId")
        if request_id in wanted and event["type"].startswith("csp.onboarding.customer."):
            at = datetime.fromisoformat(event["time"].replace("Z", "+00:00")).timestamp()
            first[request_id] = min(at, first.get(request_id, at))
    seconds = sorted(at - started for at in first.values())
    if not seconds:
        return {}
    return {
        "p50": round(seconds[len(seconds) // 2], 1),
        "p95": round(seconds[int(len(seconds) * 0.95) - 1], 1),
        "max": round(seconds[-1], 1),
    }


def log_lines(log_dir: Path, hosts: int, text: str) -> int:
    """How many lines of the hosts' logs contain `text`."""
    return sum(
        sum(1 for line in (log_dir / f"host{n}.log").read_text(errors="replace").splitlines() if text in line)
        for n in range(hosts)
        if (log_dir / f"host{n}.log").exists()
    )


def pace_between(calls: list[dict[str, Any]], start: float, end: float) -> dict[str, float]:
    """Partner Center calls a minute (and 429s) between two times."""
    inside = [c for c in calls if start <= c["at"] < end]
    minutes = max(end - start, 1e-9) / 60
    return {
        "calls_per_minute": round(len(inside) / minutes, 1),
        "throttled": sum(1 for c in inside if c["status"] == 429),
    }
