"""Partner Center's answers: error bodies read into one error (its kind from the code table,
handlers.domain.error_codes), success bodies read into payload models."""

from __future__ import annotations

import json
from typing import Any, TypeVar

import httpx
from pydantic import BaseModel, ValidationError

from handlers.adapters.retry import retry_after_seconds
from handlers.domain.error_codes import partner_center_kind
from handlers.domain.failures import ErrorKind, OnboardingError
from handlers.observability.redaction import scrub


def _text(value: Any, limit: int) -> str | None:
    """A text field of an error body as events and logs may carry it: a string (anything else in its place, say
    an object, is not shown), redacted (known secrets, token- and secret-shaped values) before it is cut to `limit`,
    so a cut cannot hide a long token from the redaction; control characters replaced."""
    return scrub(value, limit) if isinstance(value, str) and value.strip() else None


def classify_response(response: httpx.Response, *, what: str, max_retry_after: float) -> OnboardingError:
    """Read a Partner Center error response, whatever its body, into one classified error."""
    body: Any = None
    try:
        body = response.json()
    except (ValueError, RecursionError):  # not JSON, not UTF-8, too deep, an integer too long to read
        body = None
    if not isinstance(body, dict):
        body = {}
    raw_code = body.get("code", body.get("errorCode"))
    code = _text(str(raw_code) if isinstance(raw_code, int) and not isinstance(raw_code, bool) else raw_code, 64)
    description = _text(body.get("description"), 500) or _text(body.get("message"), 500) or response.reason_phrase
    error_name = _text(body.get("errorName"), 128)
    is_retryable = body.get("isRetryable")
    status = response.status_code
    return OnboardingError(
        partner_center_kind(status, code),
        f"Partner Center refused {what}: {description or 'no description'}",
        http_status=status,
        code=code,
        description=description,
        error_name=error_name,
        retry_after=(
            retry_after_seconds(response.headers.get("Retry-After"), cap=max_retry_after)
            if status in (429, 503)
            else None
        ),
        is_retryable=is_retryable if isinstance(is_retryable, bool) else None,
    )


P = TypeVar("P", bound=BaseModel)
_BROKEN = {
    "missing": "is missing",
    "model_type": "is not an object",
    "model_attributes_type": "is not an object",
    "dict_type": "is not an object",
    "list_type": "is not a list",
    "string_type": "is not a string",
    "bool_type": "is not true or false",
    "bool_parsing": "is not true or false",
    "string_pattern_mismatch": "is not of the expected form (a GUID, say)",
}


def _unreadable(response: httpx.Response, what: str, problems: list[str]) -> OnboardingError:
    """An answer this client cannot read, as a transient error naming what is wrong with it but none of its values
    (a Customer carries the new admin's password). Transient: a create may have been committed, so the request
    is retried under the same MS-RequestId, never reported failed."""
    shown = "; ".join(problems[:5]) + (f"; and {len(problems) - 5} more" if len(problems) > 5 else "")
    return OnboardingError(
        ErrorKind.TRANSIENT,
        f"Partner Center's answer to {what} (HTTP {response.status_code}) could not be read: {shown}",
        http_status=response.status_code,
    )


def read_answer(response: httpx.Response, model: type[P], *, what: str) -> P:
    """Partner Center's answer as `model`; raises OnboardingError(TRANSIENT) naming the fields it could not read."""
    try:
        body = response.json()
    except (ValueError, RecursionError):  # not JSON, not UTF-8, too deep, an integer too long to read
        raise _unreadable(response, what, ["the body is not JSON"]) from None
    try:  # a lone surrogate ("\\udfff") anywhere would make the event or ledger row built from it unencodable
        json.dumps(body, ensure_ascii=False).encode("utf-8")
    except (UnicodeEncodeError, RecursionError):
        raise _unreadable(response, what, ["the body holds a broken character (a lone surrogate)"]) from None
    try:
        return model.model_validate(body)
    except ValidationError as exc:
        problems = [
            f"{'.'.join(str(part) for part in error['loc']) or 'the body'} "
            f"{_BROKEN.get(error['type'], 'is not valid (' + error['type'] + ')')}"
            for error in exc.errors(include_url=False, include_context=False, include_input=False)
        ]
        raise _unreadable(response, what, problems) from None
