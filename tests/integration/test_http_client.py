"""The worker's shared HTTP client against the emulator: kept-alive connections, and failures that say what happened."""

from __future__ import annotations

import httpx
import pytest

from devhost.stack import Stack
from handlers.adapters.http import build_http_client, transport_failure
from handlers.domain.failures import ErrorKind
from tests.integration.conftest import Harness

pytestmark = pytest.mark.integration


def client(stack: Stack, monkeypatch: pytest.MonkeyPatch, timeout: float = 5.0) -> httpx.AsyncClient:
    monkeypatch.setenv("SSL_CERT_FILE", str(stack.ca_file))  # as in the worker: the CA comes from the environment
    return build_http_client(timeout)


async def test_sequential_calls_share_one_kept_alive_connection(
    harness: Harness, monkeypatch: pytest.MonkeyPatch
) -> None:
    base = harness.stack.env["PARTNER_CENTER_API_URL"]
    async with client(harness.stack, monkeypatch) as http:
        for i in range(4):  # unauthenticated: refused, and the refusals keep the connection all the same
            await http.head(f"{base}/v1/domains/keepalive{i}.onmicrosoft.com")
            await http.post(f"{base}/v1/validations/address", json={"country": "SE"})
    calls = harness.calls("domains.head") + harness.calls("address.validate")
    assert len(calls) == 8
    assert len({c["connection"] for c in calls}) == 1  # one TLS handshake, not one per domain check


async def test_a_dropped_connection_is_a_transient_failure_that_names_it(
    harness: Harness, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A POST: aiohttp sends an idempotent HEAD or GET once more by itself when a reused connection drops.
    harness.stack.admin("POST", "faults", {"target": "address.validate", "kind": "drop", "times": 1})
    url = f"{harness.stack.env['PARTNER_CENTER_API_URL']}/v1/validations/address"
    async with client(harness.stack, monkeypatch) as http:
        with pytest.raises(httpx.TransportError) as raised:
            await http.post(url, json={"country": "SE"})
        error = transport_failure("POST /v1/validations/address", raised.value)
        assert (await http.post(url, json={"country": "SE"})).status_code == 401  # a new connection gets through
    assert error.kind is ErrorKind.TRANSIENT
    assert "got no answer" in str(error) and "Disconnected" in str(error)


async def test_a_hanging_server_times_out_as_a_transient_failure(
    harness: Harness, monkeypatch: pytest.MonkeyPatch
) -> None:
    harness.stack.admin("POST", "faults", {"target": "domains.head", "kind": "hang", "delayMs": 3000, "times": 1})
    url = f"{harness.stack.env['PARTNER_CENTER_API_URL']}/v1/domains/hanging.onmicrosoft.com"
    async with client(harness.stack, monkeypatch, timeout=0.5) as http:
        with pytest.raises(httpx.TransportError) as raised:
            await http.head(url)
    error = transport_failure("HEAD /v1/domains", raised.value)
    assert error.kind is ErrorKind.TRANSIENT
    assert "timed out" in str(error)
