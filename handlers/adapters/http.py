"""The one shared httpx.AsyncClient of a worker: timeouts, pool limits, the standard CA and proxy variables."""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

import httpx
from httpx_aiohttp import AiohttpTransport

from handlers.domain.failures import ErrorKind, OnboardingError

PROXY_VARIABLES = ("HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "http_proxy", "ALL_PROXY", "all_proxy")


def build_http_client(
    timeout_seconds: float, *, event_hooks: Mapping[str, list[Any]] | None = None
) -> httpx.AsyncClient:
    """An AsyncClient with explicit timeouts and the given event hooks (telemetry); trusts SSL_CERT_FILE /
    SSL_CERT_DIR when set (httpx trust_env).

    Requests go through aiohttp's connection pool (httpx-aiohttp): httpcore's pool scans every pooled connection
    on each request and closes those above its keep-alive cap, so with the ~64 connections that 32 concurrent
    invocations hold it cost more CPU per message than all of this project's own code (bench/README.md).
    """
    limits = httpx.Limits(max_connections=100)  # idle connections close after 5 s, as with httpx by default
    return httpx.AsyncClient(
        transport=AiohttpTransport(verify=True, trust_env=True, limits=limits),
        timeout=httpx.Timeout(timeout_seconds, connect=min(10.0, timeout_seconds)),
        follow_redirects=False,
        event_hooks=event_hooks,
        trust_env=True,  # a proxy from the environment still applies (httpx mounts its own transport for it)
    )


def proxy_configured() -> bool:
    """Whether the environment names a proxy. The Azure SDK clients read the environment (and ~/.netrc) on every
    request when told to use it: only worth paying for when there is a proxy to find."""
    return any(os.environ.get(name) for name in PROXY_VARIABLES)


def transport_failure(what: str, exc: httpx.TransportError) -> OnboardingError:
    """A call that got no answer, as a transient error that says what happened. The aiohttp transport reports a
    dropped connection as httpx.ConnectTimeout; the exception it chains names the real cause."""
    cause = exc.__cause__ if isinstance(exc.__cause__, Exception) else exc
    happened = "timed out" if isinstance(cause, (TimeoutError, httpx.TimeoutException)) else "got no answer"
    return OnboardingError(ErrorKind.TRANSIENT, f"{what} {happened} ({type(cause).__name__})")
