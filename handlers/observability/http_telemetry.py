"""Partner Center calls, logged and measured on the shared httpx client's event hooks (httpx's way for cross-cutting
work): each request the Partner Center client marks (extension PARTNER_CENTER_CALL, its endpoint) gets one log
record — `Partner Center {endpoint} -> {status}` with msRequestId, msCorrelationId, httpStatus, durationMs — and one
point of the `partner_center.call.duration` histogram. Other calls on the client (Event Grid, Key Vault) pass
untouched."""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any

import httpx

from handlers.observability.telemetry import partner_center_duration

log = logging.getLogger("csp_onboarding")

PARTNER_CENTER_CALL = "csp_onboarding.partner_center_call"  # request extension: the call's endpoint
_STARTED = "csp_onboarding.started"


async def _started(request: httpx.Request) -> None:
    if PARTNER_CENTER_CALL in request.extensions:
        request.extensions[_STARTED] = time.perf_counter()


async def _answered(response: httpx.Response) -> None:
    request = response.request
    endpoint = request.extensions.get(PARTNER_CENTER_CALL)
    if endpoint is None:
        return
    elapsed_ms = (time.perf_counter() - request.extensions.get(_STARTED, time.perf_counter())) * 1000
    partner_center_duration.record(elapsed_ms, {"endpoint": endpoint, "status": response.status_code})
    log.info(
        "Partner Center %s -> %d",
        endpoint,
        response.status_code,
        extra={
            "msRequestId": request.headers.get("MS-RequestId"),
            "msCorrelationId": request.headers.get("MS-CorrelationId"),
            "httpStatus": response.status_code,
            "durationMs": round(elapsed_ms, 1),
        },
    )


def telemetry_hooks() -> dict[str, list[Callable[[Any], Awaitable[None]]]]:
    """The event hooks of the worker's shared httpx client."""
    return {"request": [_started], "response": [_answered]}
