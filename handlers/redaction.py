"""Redaction as a guarantee: every log record of the process, from any library, is scrubbed when it is created.

Two nets: the secret values this worker knows (client secret, topic key, tokens it acquired, admin passwords it
saw — the latter held only briefly, in a bounded set), and patterns for what a secret looks like in text
(bearer tokens, password/secret/key fields, connection-string keys).
"""

from __future__ import annotations

import logging
import re
from collections import deque
from typing import Any

REDACTED = "[redacted]"
_MIN_SECRET_LENGTH = 8
_known: deque[str] = deque(maxlen=512)

_PATTERNS = [
    re.compile(r"(?i)(bearer\s+)[A-Za-z0-9._~+/=-]{8,}"),
    re.compile(
        r"(?i)([\"']?(?:password|passwd|client_secret|clientsecret|access_token|refresh_token|client_assertion"
        r"|aeg-sas-key|x-identity-header|sharedaccesskey|accountkey|sig)[\"']?\s*[:=]\s*[\"']?)[^\"'\s;,&}]+"
    ),
    re.compile(r"eyJ[A-Za-z0-9_-]{10,}\.[A-Za-z0-9_-]{10,}\.[A-Za-z0-9_-]{10,}"),  # any JWT
]


def remember_secret(value: str | None) -> None:
    """Redact this exact value from every later log record (tokens, passwords, keys)."""
    if value and len(value) >= _MIN_SECRET_LENGTH and value not in _known:
        _known.append(value)


def redact(text: str) -> str:
    """The text with every known secret and every secret-looking value replaced."""
    for secret in list(_known):
        if secret in text:
            text = text.replace(secret, REDACTED)
    for pattern in _PATTERNS:
        text = pattern.sub(lambda m: (m.group(1) if m.groups() else "") + REDACTED, text)
    return text


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
