"""The one shared httpx.AsyncClient of a worker: timeouts, pool limits, the standard CA variables."""

from __future__ import annotations

import httpx


def build_http_client(timeout_seconds: float) -> httpx.AsyncClient:
    """An AsyncClient with explicit timeouts; trusts SSL_CERT_FILE / SSL_CERT_DIR when set (httpx trust_env)."""
    return httpx.AsyncClient(
        timeout=httpx.Timeout(timeout_seconds, connect=min(10.0, timeout_seconds)),
        limits=httpx.Limits(max_connections=100, max_keepalive_connections=32),
        follow_redirects=False,
        trust_env=True,
    )
