"""Entra adapters: one token per lifetime, errors classified, the CA bundle honoured, credentials loaded."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest
import requests
import trustme

from handlers.adapters.entra import MsalTokenProvider, certificate_credential, client_credential, msal_http_session
from handlers.bootstrap import entra_app
from handlers.domain.failures import ErrorKind, OnboardingError
from handlers.settings import Settings

BASE: dict[str, Any] = {
    "PARTNER_CENTER_TENANT_ID": "t",
    "PARTNER_CENTER_CLIENT_ID": "c",
    "EVENTS_TOPIC_ENDPOINT": "https://topic/api/events",
}


def scripted(*results: dict[str, Any] | Exception) -> tuple[MsalTokenProvider, list[int]]:
    calls: list[int] = []
    queue = list(results)

    def acquire() -> dict[str, Any]:
        calls.append(1)
        result = queue.pop(0) if len(queue) > 1 else queue[0]
        if isinstance(result, Exception):
            raise result
        return result

    return MsalTokenProvider(acquire, refresh_margin=300), calls


async def test_tokens_are_reused_until_near_expiry() -> None:
    tokens, calls = scripted({"access_token": "t1-abcdefgh", "expires_in": 3600})
    results = await asyncio.gather(*(tokens.get_token() for _ in range(20)))
    assert set(results) == {"t1-abcdefgh"}
    assert len(calls) == 1


async def test_a_short_lived_token_is_refreshed() -> None:
    tokens, calls = scripted({"access_token": "t1", "expires_in": 10}, {"access_token": "t2", "expires_in": 3600})
    assert await tokens.get_token() == "t1"
    assert await tokens.get_token() == "t2"
    assert len(calls) == 2


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
    tokens, _ = scripted(result)
    with pytest.raises(OnboardingError) as raised:
        await tokens.get_token()
    assert raised.value.kind is kind


def test_ssl_cert_file_wins_over_requests_ca_bundle(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
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


def test_a_pem_certificate_becomes_msal_credential(tmp_path: Path) -> None:
    pem = tmp_path / "app.pem"
    ca = trustme.CA(key_type=trustme.KeyType.RSA)
    ca.issue_cert("app", key_type=trustme.KeyType.RSA).private_key_and_cert_chain_pem.write_to_path(str(pem))
    credential = certificate_credential(str(pem))
    assert credential["private_key"].startswith("-----BEGIN PRIVATE KEY-----")
    assert len(credential["thumbprint"]) == 40
    assert credential["public_certificate"].startswith("-----BEGIN CERTIFICATE-----")


@pytest.mark.parametrize("content", [b"", b"-----BEGIN CERTIFICATE-----\nnope\n-----END CERTIFICATE-----\n"])
def test_an_unusable_certificate_is_a_clear_auth_error(tmp_path: Path, content: bytes) -> None:
    pem = tmp_path / "bad.pem"
    pem.write_bytes(content)
    with pytest.raises(OnboardingError) as raised:
        certificate_credential(str(pem))
    assert raised.value.kind is ErrorKind.AUTH
    assert "PARTNER_CENTER_CLIENT_CERTIFICATE_PATH" in str(raised.value)


def test_a_non_rsa_certificate_is_refused_clearly(tmp_path: Path) -> None:
    pem = tmp_path / "ec.pem"
    trustme.CA(key_type=trustme.KeyType.ECDSA).issue_cert("app").private_key_and_cert_chain_pem.write_to_path(str(pem))
    with pytest.raises(OnboardingError, match="RSA"):
        certificate_credential(str(pem))


def test_the_federated_option_gives_an_assertion_callable() -> None:
    settings = Settings(**BASE, PARTNER_CENTER_FEDERATED_CLIENT_ID="mi-client")
    credential = client_credential(entra_app(settings))
    assert set(credential) == {"client_assertion"}
    assert callable(credential["client_assertion"])


@pytest.mark.parametrize(
    ("cloud", "audience"),
    [
        ("public", "api://AzureADTokenExchange"),
        ("usgov", "api://AzureADTokenExchangeUSGov"),
        ("china", "api://AzureADTokenExchangeChina"),
    ],
)
def test_the_federated_audience_follows_the_cloud(cloud: str, audience: str) -> None:
    settings = Settings(**BASE, PARTNER_CENTER_FEDERATED_CLIENT_ID="mi", PARTNER_CENTER_CLOUD=cloud)
    assert settings.cloud.federated_audience == audience


async def test_an_auth_refusal_is_remembered_so_entra_is_not_stormed() -> None:
    tokens, calls = scripted({"error": "invalid_client", "error_description": "AADSTS7000215"})
    for _ in range(5):
        with pytest.raises(OnboardingError):
            await tokens.get_token()
    assert len(calls) == 1


async def test_a_transient_failure_is_not_remembered() -> None:
    tokens, calls = scripted(requests.ConnectionError("down"), {"access_token": "fine-token", "expires_in": 3600})
    with pytest.raises(OnboardingError):
        await tokens.get_token()
    assert await tokens.get_token() == "fine-token"
    assert len(calls) == 2
