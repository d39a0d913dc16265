"""MsalTokenProvider: one token per lifetime, errors classified, the CA bundle honoured."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
import requests

from handlers.adapters.entra import MsalTokenProvider, msal_http_session
from handlers.failures import ErrorKind, OnboardingError


class FakeMsalApp:
    def __init__(self, *results: dict[str, Any] | Exception) -> None:
        self.results = list(results)
        self.calls = 0

    def acquire_token_for_client(self, scopes: list[str]) -> dict[str, Any]:
        self.calls += 1
        result = self.results.pop(0) if len(self.results) > 1 else self.results[0]
        if isinstance(result, Exception):
            raise result
        return result


async def test_tokens_are_reused_until_near_expiry() -> None:
    app = FakeMsalApp({"access_token": "t1", "expires_in": 3600})
    tokens = MsalTokenProvider(lambda: app, "scope/.default")
    results = await asyncio.gather(*(tokens.get_token() for _ in range(20)))
    assert set(results) == {"t1"}
    assert app.calls == 1


async def test_a_short_lived_token_is_refreshed() -> None:
    app = FakeMsalApp({"access_token": "t1", "expires_in": 10}, {"access_token": "t2", "expires_in": 3600})
    tokens = MsalTokenProvider(lambda: app, "s", refresh_margin=300)
    assert await tokens.get_token() == "t1"
    assert await tokens.get_token() == "t2"


@pytest.mark.parametrize(
    ("result", "kind"),
    [
        ({"error": "invalid_client", "error_description": "AADSTS7000215: Invalid client secret."}, ErrorKind.AUTH),
        ({"error": "unauthorized_client", "error_description": "AADSTS700016"}, ErrorKind.AUTH),
        ({"error": "temporarily_unavailable", "error_description": "busy"}, ErrorKind.TRANSIENT),
        (requests.ConnectionError("refused"), ErrorKind.TRANSIENT),
        (ValueError("Unable to get authority configuration"), ErrorKind.AUTH),
    ],
)
async def test_failures_are_classified(result: dict[str, Any] | Exception, kind: ErrorKind) -> None:
    tokens = MsalTokenProvider(lambda: FakeMsalApp(result), "s")
    with pytest.raises(OnboardingError) as raised:
        await tokens.get_token()
    assert raised.value.kind is kind


def test_ssl_cert_file_wins_over_requests_ca_bundle(monkeypatch: pytest.MonkeyPatch, tmp_path: Any) -> None:
    bundle = tmp_path / "ca.pem"
    bundle.write_text("-")
    monkeypatch.setenv("SSL_CERT_FILE", str(bundle))
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", "/somewhere/else.pem")
    session = msal_http_session()
    settings = session.merge_environment_settings("https://login.test", {}, None, None, None)
    assert settings["verify"] == str(bundle)


def test_without_ssl_cert_file_requests_keeps_its_defaults(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SSL_CERT_FILE", raising=False)
    assert type(msal_http_session()) is requests.Session
