"""Fault injection: rules that make an endpoint throttle, fail, slow down, hang or drop the connection."""

from __future__ import annotations

import asyncio
import random
from dataclasses import dataclass, field
from typing import Any, Literal

from aiohttp import web

FaultKind = Literal["status", "throttle", "latency", "hang", "drop", "commit_drop"]


@dataclass
class FaultRule:
    """Applies to `target` (endpoint names, comma-separated, or "*" for every service endpoint).

    kinds: status (answer `status` without doing the work), throttle (429 with Retry-After), latency (delay,
    then do the work), hang (never answer in time), drop (close the connection without doing the work),
    commit_drop (do the work, then close the connection without answering: an ambiguous outcome).
    `times` limits how often it fires (None: no limit); `probability` makes it fire at random (seeded).
    `retry_after` is sent verbatim as the Retry-After header, as reality may send it: a number of seconds (also a
    huge or negative one), an HTTP-date, or garbage ("inf", "soon"). A throttle sends 1 when it is None; a status
    fault sends it only when set.
    """

    target: str
    kind: FaultKind
    status: int = 503
    retry_after: float | str | None = None
    delay_ms: float = 0.0
    times: int | None = 1
    probability: float = 1.0
    fired: int = 0

    def matches(self, endpoint: str) -> bool:
        targets = self.target.split(",")
        return ("*" in targets or endpoint in targets) and (self.times is None or self.fired < self.times)


@dataclass
class Faults:
    rules: list[FaultRule] = field(default_factory=list)
    rng: random.Random = field(default_factory=lambda: random.Random(0))

    def add(self, spec: dict[str, Any]) -> FaultRule:
        rule = FaultRule(
            target=str(spec.get("target", "*")),
            kind=spec["kind"],
            status=int(spec.get("status", 503)),
            retry_after=_retry_after(spec.get("retryAfter")),
            delay_ms=float(spec.get("delayMs", 0.0)),
            times=None if spec.get("times", 1) is None else int(spec.get("times", 1)),
            probability=float(spec.get("probability", 1.0)),
        )
        if rule.kind not in ("status", "throttle", "latency", "hang", "drop", "commit_drop"):
            raise ValueError(f"unknown fault kind {rule.kind}")
        self.rules.append(rule)
        return rule

    def seed(self, value: int) -> None:
        self.rng = random.Random(value)

    def pick(self, endpoint: str) -> list[FaultRule]:
        """The rules that fire for this call: every matching latency rule, plus at most one other."""
        fired: list[FaultRule] = []
        other_fired = False
        for rule in self.rules:
            if not rule.matches(endpoint):
                continue
            if rule.kind != "latency" and other_fired:
                continue
            if rule.probability < 1.0 and self.rng.random() >= rule.probability:
                continue
            rule.fired += 1
            fired.append(rule)
            other_fired = other_fired or rule.kind != "latency"
        return fired


def _retry_after(value: Any) -> float | str | None:
    """A rule's retryAfter as given: a number, or any string a header can carry; raises ValueError."""
    if isinstance(value, bool) or not isinstance(value, str | int | float | None):
        raise ValueError("retryAfter must be a number or a string")
    if isinstance(value, str) and not (value.isprintable() and value.isascii()):
        raise ValueError("retryAfter must be printable ASCII: it is sent as a header")
    return value


def retry_after_header(rule: FaultRule) -> dict[str, str]:
    """The Retry-After header a status or throttle rule sends (none for a status rule without one)."""
    value = rule.retry_after
    if value is None:
        value = 1 if rule.kind == "throttle" else None
    if value is None:
        return {}
    if isinstance(value, str):
        return {"Retry-After": value}
    whole = isinstance(value, int) or value.is_integer()
    return {"Retry-After": str(int(value)) if whole else f"{value:g}"}


def error_response(rule: FaultRule) -> web.Response:
    """The answer a status or throttle fault gives, in Partner Center's documented shapes."""
    if rule.kind == "throttle":
        body = {"statusCode": 429, "message": "Rate limit is exceeded. Try again in a while."}
        return web.json_response(body, status=429, headers=retry_after_header(rule))
    body = {"code": 800003, "description": "Injected fault", "errorName": "ServiceUnavailable", "isRetryable": True}
    return web.json_response(body, status=rule.status, headers=retry_after_header(rule))


def drop_connection(request: web.Request) -> web.StreamResponse:
    """Close the client's connection without an answer."""
    if request.transport is not None:
        request.transport.abort()
    raise asyncio.CancelledError  # aiohttp drops a handler cancelled this way without writing anything
