"""Settings: the contract's names, exactly one credential, clouds and overrides."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from handlers.settings import Settings

BASE: dict[str, Any] = {
    "PARTNER_CENTER_TENANT_ID": "t",
    "PARTNER_CENTER_CLIENT_ID": "c",
    "EVENTS_TOPIC_ENDPOINT": "https://topic/api/events",
}


def test_defaults_follow_the_contract() -> None:
    s = Settings(**BASE, PARTNER_CENTER_CLIENT_SECRET="x")
    assert s.CUSTOMER_REQUESTS_QUEUE == "customer-requests"
    assert s.EVENTS_SOURCE == "/csp-onboarding"
    assert s.ENABLE_GDAP_BY_DEFAULT is True
    assert s.PARTNER_CENTER_MAX_REQUESTS_PER_MINUTE == 500
    assert s.credential_kind == "secret"


@pytest.mark.parametrize(
    "credentials",
    [
        {},
        {"PARTNER_CENTER_CLIENT_SECRET": "x", "PARTNER_CENTER_FEDERATED_CLIENT_ID": "mi"},
    ],
)
def test_exactly_one_credential_is_required(credentials: dict[str, str]) -> None:
    with pytest.raises(ValidationError, match="exactly one Partner Center credential"):
        Settings.model_validate({**BASE, **credentials})


def test_the_secret_does_not_print() -> None:
    s = Settings(**BASE, PARTNER_CENTER_CLIENT_SECRET="hunter2-secret")
    assert "hunter2-secret" not in repr(s) and "hunter2-secret" not in str(s.model_dump())


@pytest.mark.parametrize(
    ("cloud", "api", "authority", "suffix"),
    [
        ("public", "https://api.partnercenter.microsoft.com", "https://login.microsoftonline.com", ".onmicrosoft.com"),
        ("usgov", "https://api.partnercenter.microsoft.com", "https://login.microsoftonline.us", ".onmicrosoft.com"),
        (
            "china",
            "https://partner.partnercenterapi.microsoftonline.cn",
            "https://login.chinacloudapi.cn",
            ".partner.onmschina.cn",
        ),
    ],
)
def test_clouds(cloud: str, api: str, authority: str, suffix: str) -> None:
    s = Settings(**BASE, PARTNER_CENTER_CLIENT_SECRET="x", PARTNER_CENTER_CLOUD=cloud)
    assert (s.cloud.api_url, s.cloud.authority_host, s.cloud.domain_suffix) == (api, authority, suffix)


def test_overrides_win(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PARTNER_CENTER_API_URL", "https://localhost:9443/")
    monkeypatch.setenv("PARTNER_CENTER_AUTHORITY_HOST", "https://localhost:9443")
    s = Settings(**BASE, PARTNER_CENTER_CLIENT_SECRET="x", PARTNER_CENTER_CLOUD="china")
    assert s.cloud.api_url == "https://localhost:9443"
    assert s.cloud.authority_host == "https://localhost:9443"
    assert s.cloud.domain_suffix == ".partner.onmschina.cn"


def test_retention_defaults_and_undecided_rows_outlive_parked_copies() -> None:
    s = Settings(**BASE, PARTNER_CENTER_CLIENT_SECRET="x")
    assert (
        s.ONBOARDING_LEDGER_RETENTION_DAYS,
        s.ONBOARDING_UNDECIDED_RETENTION_DAYS,
        s.ONBOARDING_INTAKE_RETENTION_DAYS,
        s.PARKED_MESSAGE_TTL_DAYS,
    ) == (90, 30, 90, 30)
    with pytest.raises(ValidationError, match="at least PARKED_MESSAGE_TTL_DAYS"):
        Settings.model_validate({**BASE, "PARTNER_CENTER_CLIENT_SECRET": "x", "PARKED_MESSAGE_TTL_DAYS": 31})
