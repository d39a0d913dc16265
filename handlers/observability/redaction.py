"""Redaction as a guarantee: every log record of the process, from any library, is scrubbed when it is created.

Two nets: the secret values this worker knows, and patterns for what a secret looks like in text (bearer tokens,
password/secret/key fields, connection-string keys). Known values are kept for as long as they can turn up:

- configured secrets (client secret, topic key): for the life of the worker;
- tokens it acquired: the most recent few (older ones have expired);
- a customer's admin password: only while the invocation that received it runs (`holding_secrets`), so the
  worker never keeps a plaintext password after it is done with it, and the scan stays short however many
  customers a worker creates.
"""

from __future__ import annotations

import contextlib
import logging
import re
from collections import deque
from collections.abc import Iterator
from contextvars import ContextVar
from typing import Any

from handlers.domain.text import echoable

REDACTED = "[redacted]"
_MIN_SECRET_LENGTH = 8
_configured: set[str] = set()
_tokens: deque[str] = deque(maxlen=16)  # a few per audience; tokens live for an hour or so
_held: dict[str, int] = {}  # value → the invocations holding it
_holding: ContextVar[list[str] | None] = ContextVar("csp_onboarding_held_secrets", default=None)

_PATTERNS = [
    re.compile(r"(?i)(bearer\s+)[A-Za-z0-9._~+/=-]{8,}"),
    re.compile(
        r"(?i)([\"']?(?:password|passwd|client_secret|clientsecret|access_token|refresh_token|client_assertion"
        r"|aeg-sas-key|x-identity-header|sharedaccesskey|accountkey|sig)[\"']?\s*[:=]\s*[\"']?)[^\"'\s;,&}]+"
    ),
    re.compile(r"eyJ[A-Za-z0-9_-]{10,}\.[A-Za-z0-9_-]{10,}\.[A-Za-z0-9_-]{10,}"),  # any JWT
]


def _worth_knowing(value: str | None) -> str | None:
    return value if value is not None and len(value) >= _MIN_SECRET_LENGTH else None


def remember_secret(value: str | None) -> None:
    """Redact this exact value from every later log record, for the life of the worker (configured secrets)."""
    if secret := _worth_knowing(value):
        _configured.add(secret)


def remember_token(value: str | None) -> None:
    """Redact this token from later log records while it is among the most recent few acquired."""
    if (secret := _worth_knowing(value)) and secret not in _tokens:
        _tokens.append(secret)


def hold_secret(value: str | None) -> None:
    """Redact this value from log records until the current `holding_secrets()` block ends (outside one, as long
    as a recent token is remembered)."""
    secret = _worth_knowing(value)
    holding = _holding.get()
    if secret is None:
        return
    if holding is None:
        remember_token(secret)
        return
    holding.append(secret)
    _held[secret] = _held.get(secret, 0) + 1


@contextlib.contextmanager
def holding_secrets() -> Iterator[None]:
    """One invocation: the secrets it holds (`hold_secret`) are redacted until it ends, then forgotten."""
    holding: list[str] = []
    token = _holding.set(holding)
    try:
        yield
    finally:
        _holding.reset(token)
        for value in holding:
            left = _held.pop(value, 1) - 1
            if left > 0:  # a redelivery of the same request running at the same time still holds it
                _held[value] = left


def redact(text: str) -> str:
    """The text with every known secret and every secret-looking value replaced."""
    for known in (_configured, _tokens, _held):
        for secret in list(known):
            if secret in text:
                text = text.replace(secret, REDACTED)
    for pattern in _PATTERNS:
        text = pattern.sub(lambda m: (m.group(1) if m.groups() else "") + REDACTED, text)
    return text


def scrub(text: str, limit: int | None = None) -> str:
    """Upstream text as an event, a ledger row or a status answer may carry it: every known secret and
    secret-looking value redacted, control characters and lone surrogates replaced, then cut to `limit` (cut after
    the redaction, so a cut cannot leave half a token the redaction no longer recognises)."""
    cleaned = echoable(redact(text))
    return cleaned if limit is None else cleaned[:limit]


def _redacting_factory(original: Any) -> Any:
    def factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
        record: logging.LogRecord = original(*args, **kwargs)
        try:
            message = record.getMessage()
        except Exception:
            message = str(record.msg)
        cleaned = redact(message)
        if cleaned != message or record.args:
            record.msg, record.args = cleaned, None
        return record

    factory.redacting = True  # type: ignore[attr-defined]
    return factory


def install_redaction() -> None:
    """Wrap the process's log-record factory once, so no record can carry a known or secret-looking value."""
    current = logging.getLogRecordFactory()
    if not getattr(current, "redacting", False):
        logging.setLogRecordFactory(_redacting_factory(current))
