"""Field errors: the contract's `{field, code, message}`, and a pydantic error about a request as one — a dotted path,
a stable code, a sentence built from the path and the rule, never from the refused value."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict
from pydantic_core import ErrorDetails


class FieldError(BaseModel):
    """One broken rule: where (dotted path into the request, or null), a stable code, and a sentence."""

    model_config = ConfigDict(hide_input_in_errors=True)

    field: str | None
    code: str
    message: str


_CODES = {
    "missing": "required",
    "string_too_long": "too_long",
    "string_pattern_mismatch": "pattern",
    "string_type": "wrong_type",
    "bool_type": "wrong_type",
    "model_type": "wrong_type",
    "model_attributes_type": "wrong_type",
    "dict_type": "wrong_type",
    "uuid_parsing": "not_a_guid",
    "uuid_type": "not_a_guid",
}

_PATTERN_RULES = {
    "requestId": "must be 1–128 characters of letters, digits and . _ : -",
    "customer.domainPrefix": "must be 1–27 letters or digits, without dots, hyphens or a suffix",
    "customer.email": "must be an e-mail address like it@example.com",
    "customer.culture": "must be a culture like tr-TR",
    "customer.language": "must be a 2-letter language code like tr",
    "customer.mcaAcceptance.primaryContact.email": "must be an e-mail address like it@example.com",
}


def field_error(detail: ErrorDetails) -> FieldError:
    """A pydantic error as the contract's field error."""
    path = ".".join(str(part) for part in detail["loc"]) or None
    kind = detail["type"]
    ctx = detail.get("ctx") or {}
    code = _CODES.get(kind, kind)
    if kind == "string_too_short":
        code = "required" if ctx.get("min_length") == 1 else "too_short"
    if code == "required":
        rule = "is required"
    elif code == "pattern" and path in _PATTERN_RULES:
        rule = _PATTERN_RULES[path]
    elif code == "too_long":
        rule = f"must be at most {ctx.get('max_length')} characters"
    elif code == "wrong_type":
        rule = f"has the wrong type: {detail['msg'][0].lower()}{detail['msg'][1:]}"
    elif code == "not_a_guid":
        rule = "must be a GUID"
    else:
        rule = detail["msg"]
    return FieldError(field=path, code=code, message=f"{path or 'The message'} {rule}.")
