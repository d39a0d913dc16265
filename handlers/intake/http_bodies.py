"""HTTP bodies at the edge: bounded, typed, decoded without trusting them; answers in the failed event's shape."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from handlers.domain.bounded_json import loads
from handlers.domain.field_errors import FieldError

JSON_TYPES = ("application/json",)
XML_TYPES = ("text/xml", "application/xml", "application/soap+xml")


@dataclass(frozen=True)
class Answer:
    """An HTTP answer, independent of the Functions library (the triggers turn it into an HttpResponse)."""

    status: int
    body: bytes
    content_type: str = "application/json; charset=utf-8"
    headers: dict[str, str] = field(default_factory=dict)


def json_answer(status: int, data: Any, *, headers: dict[str, str] | None = None) -> Answer:
    """A JSON answer."""
    body = json.dumps(data, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    return Answer(status, body, headers=headers or {})


def errors_answer(status: int, errors: list[FieldError], *, headers: dict[str, str] | None = None) -> Answer:
    """`{"errors": [...]}` with the failed event's `{field, code, message}` items."""
    return json_answer(status, {"errors": [e.model_dump() for e in errors]}, headers=headers)


def error(code: str, message: str, field_name: str | None = None) -> FieldError:
    """One error not tied to a §1 field."""
    return FieldError(field=field_name, code=code, message=message)


def media_type(content_type: str | None) -> str:
    """`application/json; charset=utf-8` → `application/json`."""
    return (content_type or "").split(";", 1)[0].strip().lower()


def body_refusal(
    body: bytes, content_type: str | None, *, accepted: tuple[str, ...], limit: int
) -> tuple[int, FieldError] | None:
    """Why a body is refused before it is read — too large (413), or of a type the route does not take (415) —
    as an HTTP status and the error; None if fine."""
    if len(body) > limit:
        return 413, error("too_large", f"The body is larger than {limit} bytes.")
    kind = media_type(content_type)
    json_like = "application/json" in accepted and kind.startswith("application/") and kind.endswith("+json")
    if kind not in accepted and not json_like:
        return 415, error("unsupported_media_type", f"The body must be sent as {' or '.join(accepted)}.")
    return None


def check_body(body: bytes, content_type: str | None, *, accepted: tuple[str, ...], limit: int) -> Answer | None:
    """`body_refusal` as the JSON answer of the route; None if fine."""
    refusal = body_refusal(body, content_type, accepted=accepted, limit=limit)
    return None if refusal is None else errors_answer(refusal[0], [refusal[1]])


def read_json_object(body: bytes) -> dict[str, Any] | list[FieldError]:
    """The body as a JSON object, or the errors saying why it is not one (never raises): read as queue messages are
    (`message.loads`), so an over-long integer or a name given twice is named, not "not JSON"."""
    try:
        text = body.decode("utf-8-sig")
    except UnicodeDecodeError:
        return [error("not_utf8", "The body is not UTF-8 text.")]
    data, errors = loads(text, what="body")
    if errors:
        return errors
    if not isinstance(data, dict):
        return [error("not_an_object", "The body must be a JSON object.")]
    return data
