"""Redaction: no known or secret-looking value survives into a log record, from any logger."""

from __future__ import annotations

import logging

import pytest

from handlers.redaction import REDACTED, install_redaction, redact, remember_secret


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
