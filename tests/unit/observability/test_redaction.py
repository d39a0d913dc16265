"""Redaction: no known or secret-looking value survives into a log record, from any logger."""

from __future__ import annotations

import logging

import pytest

from handlers.observability.redaction import (
    REDACTED,
    hold_secret,
    holding_secrets,
    install_redaction,
    redact,
    remember_secret,
    remember_token,
)


@pytest.fixture(autouse=True)
def redacting() -> None:
    install_redaction()


@pytest.mark.parametrize(
    "text",
    [
        "Authorization: Bearer abc.def-ghi_jkl",
        '{"userName": "admin", "password": "Xy7!secret"}',
        "client_secret=s3cr3t-value&scope=x",
        "DefaultEndpointsProtocol=https;AccountName=a;AccountKey=QUJDREVGRw==;",
        "aeg-sas-key: k3y-value",
        "token eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.c2lnbmF0dXJlLXZhbHVl",
    ],
)
def test_secret_looking_values_are_redacted(text: str) -> None:
    cleaned = redact(text)
    assert REDACTED in cleaned
    for secret in ("abc.def-ghi_jkl", "Xy7!secret", "s3cr3t-value", "QUJDREVGRw==", "k3y-value", "c2lnbmF0dXJl"):
        assert secret not in cleaned


def test_known_secrets_are_redacted_from_records_of_any_logger(caplog: pytest.LogCaptureFixture) -> None:
    remember_secret("plain-looking-0123456789")
    logging.getLogger("some.library").warning("got %s back", "plain-looking-0123456789")
    assert "plain-looking-0123456789" not in caplog.text
    assert REDACTED in caplog.text


def test_ordinary_text_is_untouched(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level("INFO")
    logging.getLogger("csp_onboarding").info("Customer %s created for %s", "c-1", "x.onmicrosoft.com")
    assert "Customer c-1 created for x.onmicrosoft.com" in caplog.text


def test_a_configured_secret_stays_known_however_many_tokens_and_passwords_come_after() -> None:
    remember_secret("configured-client-secret-value")
    for i in range(2000):
        remember_token(f"token-{i:06d}-value")
        hold_secret(f"password-{i:06d}-value")  # outside an invocation: kept as long as a recent token
    assert redact("configured-client-secret-value") == REDACTED
    assert redact("token-001999-value") == REDACTED, "the most recent token is known"
    assert redact("token-000000-value") == "token-000000-value", "long-expired tokens are not scanned for"


def test_a_held_secret_is_known_until_its_invocation_ends_even_when_another_holds_it_too() -> None:
    with holding_secrets():
        hold_secret("admin-password-of-one-customer")
        with holding_secrets():  # a concurrent redelivery of the same request
            hold_secret("admin-password-of-one-customer")
        assert redact("admin-password-of-one-customer") == REDACTED, "the first invocation still holds it"
    assert redact("admin-password-of-one-customer") == "admin-password-of-one-customer"
