"""The shared HTTP client's helpers: when to read proxies from the environment, and how a lost call reads."""

from __future__ import annotations

import aiohttp
import httpx
import pytest

from handlers.adapters.http import PROXY_VARIABLES, proxy_configured, transport_failure
from handlers.domain.failures import ErrorKind


def test_proxies_are_read_only_when_the_environment_names_one(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in PROXY_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    assert proxy_configured() is False
    monkeypatch.setenv("https_proxy", "")
    assert proxy_configured() is False
    monkeypatch.setenv("HTTPS_PROXY", "http://proxy.contoso.example:3128")
    assert proxy_configured() is True


def chained(exc: httpx.TransportError, cause: BaseException) -> httpx.TransportError:
    exc.__cause__ = cause
    return exc


@pytest.mark.parametrize(
    ("exc", "reads"),
    [
        # httpx-aiohttp reports a dropped connection as ConnectTimeout; the chained cause says what it was.
        (
            chained(httpx.ConnectTimeout("x"), aiohttp.ServerDisconnectedError()),
            "got no answer (ServerDisconnectedError)",
        ),
        (chained(httpx.ReadTimeout("x"), aiohttp.SocketTimeoutError()), "timed out (SocketTimeoutError)"),
        (httpx.ReadTimeout("x"), "timed out (ReadTimeout)"),
        (httpx.RemoteProtocolError("x"), "got no answer (RemoteProtocolError)"),
    ],
)
def test_a_call_without_an_answer_is_transient_and_says_what_happened(exc: httpx.TransportError, reads: str) -> None:
    error = transport_failure("Event Grid", exc)
    assert error.kind is ErrorKind.TRANSIENT
    assert error.message == f"Event Grid {reads}"
