"""The inbound customer request (contract §1): the model, and parse_message() with field-level errors."""

from __future__ import annotations

import base64
import binascii
import contextlib
import hashlib
import json
import re
from dataclasses import dataclass
from typing import Any
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field, StrictBool, ValidationError, field_validator
from pydantic_core import ErrorDetails, PydanticCustomError

from handlers.countries import COUNTRY_ALIASES, ISO_ALPHA2, REGISTRATION_COUNTRIES
from handlers.failures import FieldError

MAX_MESSAGE_BYTES = 64 * 1024


class _Model(BaseModel):
    model_config = ConfigDict(extra="ignore", str_strip_whitespace=True, frozen=True)


class Address(_Model):
    """Partner Center's Address with its documented limits (page `utility-resources`)."""

    firstName: str = Field(min_length=1, max_length=50)
    middleName: str | None = Field(default=None, max_length=50)
    lastName: str = Field(min_length=1, max_length=50)
    addressLine1: str = Field(min_length=1, max_length=200)
    addressLine2: str | None = Field(default=None, max_length=200)
    addressLine3: str | None = Field(default=None, max_length=200)
    city: str = Field(min_length=1, max_length=128)
    state: str | None = Field(default=None, max_length=128)
    postalCode: str | None = Field(default=None, max_length=32)
    country: str = Field(description="ISO 3166-1 alpha-2, e.g. GB (not UK)", min_length=2, max_length=2)
    region: str | None = Field(default=None, max_length=128)
    phoneNumber: str | None = Field(default=None, max_length=64)

    @field_validator("country")
    @classmethod
    def _iso_country(cls, value: str) -> str:
        code = value.upper()
        if code in COUNTRY_ALIASES:
            raise PydanticCustomError(
                "country_not_iso",
                "is not an ISO 3166-1 alpha-2 code: use {expected} instead of {given}",
                {"expected": COUNTRY_ALIASES[code], "given": value},
            )
        if code not in ISO_ALPHA2:
            raise PydanticCustomError("country_not_iso", "is not an ISO 3166-1 alpha-2 country code")
        return code


class Customer(_Model):
    """The company to create and its billing contact."""

    companyName: str = Field(min_length=1, max_length=255)
    domainPrefix: str = Field(
        min_length=1,
        max_length=27,
        pattern=r"^[A-Za-z0-9]+$",
        description="letters and digits only; the cloud's suffix (.onmicrosoft.com) is appended",
    )
    email: str = Field(min_length=3, max_length=254, pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
    culture: str = Field(pattern=r"^[A-Za-z]{2,3}(-[A-Za-z0-9]{2,8}){1,2}$", description="e.g. tr-TR")
    language: str = Field(pattern=r"^[A-Za-z]{2}$", description="2-letter language, e.g. tr")
    organizationRegistrationNumber: str | None = Field(default=None, max_length=100)
    enableGdapByDefault: StrictBool | None = None
    address: Address


class CustomerRequest(_Model):
    """One CRM request to onboard one customer."""

    schemaVersion: str = Field(description='major version 1: "1", "1.0", "1.3"')
    requestId: str = Field(min_length=1, max_length=128, pattern=r"^[A-Za-z0-9._:-]+$")
    crmAccountId: str = Field(min_length=1, max_length=128)
    correlationId: str | None = Field(default=None, max_length=128)
    customer: Customer
    indirectResellerId: UUID | None = None

    @field_validator("schemaVersion")
    @classmethod
    def _major_version_one(cls, value: str) -> str:
        if not re.fullmatch(r"1(\.\d+)*", value):
            raise PydanticCustomError("unsupported_version", "must have major version 1, like 1.0")
        return value


@dataclass(frozen=True)
class InvalidRequest:
    """A message that is not a valid request, with what could still be read of it."""

    errors: list[FieldError]
    fingerprint: str
    request_id: str | None = None
    crm_account_id: str | None = None
    correlation_id: str | None = None


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
}


def _field_error(detail: ErrorDetails) -> FieldError:
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


def _country_rule_errors(raw: dict[str, Any]) -> list[FieldError]:
    """The 24-country rule: registration number and phone number required (checked on the raw input)."""
    customer = raw.get("customer")
    if not isinstance(customer, dict):
        return []
    address = customer.get("address")
    if not isinstance(address, dict) or not isinstance(address.get("country"), str):
        return []
    country = address["country"].strip().upper()
    if country not in REGISTRATION_COUNTRIES:
        return []
    errors = []
    for path, value in (
        ("customer.organizationRegistrationNumber", customer.get("organizationRegistrationNumber")),
        ("customer.address.phoneNumber", address.get("phoneNumber")),
    ):
        if value is None or (isinstance(value, str) and not value.strip()):
            errors.append(
                FieldError(
                    field=path,
                    code="required_for_country",
                    message=f"{path} is required for companies in {country}.",
                )
            )
    return errors


def _decode(body: bytes) -> tuple[Any, FieldError | None]:
    if len(body) > MAX_MESSAGE_BYTES:
        return None, FieldError(
            field=None, code="too_large", message=f"The message is larger than {MAX_MESSAGE_BYTES} bytes."
        )
    try:
        text = body.decode("utf-8-sig")
    except UnicodeDecodeError:
        return None, FieldError(field=None, code="not_utf8", message="The message is not UTF-8 text.")
    stripped = text.strip()
    if stripped and stripped[0] not in '{["' and re.fullmatch(r"[A-Za-z0-9+/=\s]+", stripped):
        # A producer that base64-encoded the JSON although host.json says "none": accept it.
        with contextlib.suppress(binascii.Error, UnicodeDecodeError):
            text = base64.b64decode(stripped, validate=False).decode("utf-8-sig")
    try:
        return json.loads(text), None
    except (json.JSONDecodeError, RecursionError):
        return None, FieldError(field=None, code="not_json", message="The message is not valid JSON.")


def _echo(raw: Any, key: str) -> str | None:
    value = raw.get(key) if isinstance(raw, dict) else None
    return value[:256] if isinstance(value, str) and value else None


def parse_message(body: bytes | str) -> CustomerRequest | InvalidRequest:
    """Read one queue message into a request, or into every field error it has. Never raises."""
    data = body.encode("utf-8") if isinstance(body, str) else body
    fingerprint = hashlib.sha256(data).hexdigest()
    raw, decode_error = _decode(data)
    if decode_error is not None:
        return InvalidRequest(errors=[decode_error], fingerprint=fingerprint)
    if not isinstance(raw, dict):
        error = FieldError(field=None, code="not_an_object", message="The message must be a JSON object.")
        return InvalidRequest(errors=[error], fingerprint=fingerprint)
    errors: list[FieldError] = []
    request: CustomerRequest | None = None
    try:
        request = CustomerRequest.model_validate(raw)
    except ValidationError as exc:
        errors.extend(_field_error(detail) for detail in exc.errors(include_url=False))
    except (RecursionError, ValueError) as exc:  # pathological nesting or values pydantic cannot hold
        errors.append(
            FieldError(field=None, code="unreadable", message=f"The message could not be read: {type(exc).__name__}.")
        )
    errors.extend(_country_rule_errors(raw))
    if request is not None and not errors:
        return request
    return InvalidRequest(
        errors=errors,
        fingerprint=fingerprint,
        request_id=_echo(raw, "requestId"),
        crm_account_id=_echo(raw, "crmAccountId"),
        correlation_id=_echo(raw, "correlationId"),
    )
