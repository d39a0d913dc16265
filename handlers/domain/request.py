"""The inbound customer request (contract §1): the model, and parse_message() with field-level errors."""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

from email_validator import EmailNotValidError, validate_email
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, StrictBool, ValidationError, field_validator
from pydantic_core import PydanticCustomError

from handlers.domain.bounded_json import MAX_MESSAGE_BYTES, read_json
from handlers.domain.countries import COUNTRY_ALIASES, ISO_ALPHA2, REGISTRATION_COUNTRIES
from handlers.domain.field_errors import FieldError, field_error
from handlers.domain.text import describe, echoable, first_unsafe, has_visible, is_surrogate, nfc

__all__ = [
    "MAX_MESSAGE_BYTES",
    "Address",
    "Customer",
    "CustomerRequest",
    "InvalidRequest",
    "McaAcceptance",
    "is_request_id",
    "parse_message",
]


class _Model(BaseModel):
    # Input is hidden from errors: a field error's text is built from its path and rule, never its value.
    model_config = ConfigDict(extra="ignore", str_strip_whitespace=True, frozen=True, hide_input_in_errors=True)

    @field_validator("*", mode="before")
    @classmethod
    def _readable_text(cls, value: Any) -> Any:
        """Every string field: no control characters or lone surrogates, something visible, NFC."""
        if not isinstance(value, str):
            return value
        unsafe = first_unsafe(value)
        if unsafe is not None:
            position, char = unsafe
            kind, rule = (
                ("lone_surrogate", "must be whole characters: {character} at position {position} is a lone surrogate")
                if is_surrogate(char)
                else ("control_character", "must not contain control characters: {character} at position {position}")
            )
            raise PydanticCustomError(kind, rule, {"character": describe(char), "position": position + 1})
        if value.strip() and not has_visible(value):
            raise PydanticCustomError("not_visible", "must contain visible characters, not only invisible ones")
        return nfc(value)


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

    @field_validator("state")
    @classmethod
    def _state_code_upper_case(cls, value: str | None) -> str | None:
        # Partner Center's country rules list two-letter state codes in upper case (BR "SP", US "CA"); names
        # (IN "Goa") are left as written and checked against the list by pre-flight.
        if value is not None and len(value) == 2 and value.isascii() and value.isalpha():
            return value.upper()
        return value


class PrimaryContact(_Model):
    """Who accepted the Microsoft Customer Agreement for the customer."""

    firstName: str = Field(min_length=1, max_length=50)
    lastName: str = Field(min_length=1, max_length=50)
    email: str = Field(min_length=1, max_length=254, json_schema_extra={"format": "email"})
    phoneNumber: str | None = Field(default=None, max_length=64)

    @field_validator("email")
    @classmethod
    def _email_address(cls, value: str) -> str:
        return _email(value)


class McaAcceptance(_Model):
    """The customer accepted the Microsoft Customer Agreement; the partner attests it right after the create."""

    primaryContact: PrimaryContact
    dateAgreed: AwareDatetime = Field(description="RFC 3339 UTC (Z or +00:00), not in the future")

    @field_validator("dateAgreed")
    @classmethod
    def _utc_and_past(cls, value: datetime) -> datetime:
        if value.utcoffset() != timedelta(0):
            raise PydanticCustomError("not_utc", "must be a UTC time (ending in Z)")
        if value > datetime.now(UTC) + timedelta(minutes=5):  # a little clock skew between CRM and us
            raise PydanticCustomError("in_future", "must not be in the future")
        return value


def _email(value: str) -> str:
    try:  # syntax only: whether the mailbox exists is the CRM's to know
        return validate_email(value, check_deliverability=False).normalized
    except EmailNotValidError:
        raise PydanticCustomError("pattern", "must be an e-mail address") from None


class Customer(_Model):
    """The company to create and its billing contact."""

    companyName: str = Field(min_length=1, max_length=255)
    domainPrefix: str = Field(
        min_length=1,
        max_length=27,
        pattern=r"^[A-Za-z0-9]+$",
        description="letters and digits only; the cloud's suffix (.onmicrosoft.com) is appended",
    )
    email: str = Field(min_length=1, max_length=254, json_schema_extra={"format": "email"})
    culture: str = Field(pattern=r"^[A-Za-z]{2,3}(-[A-Za-z0-9]{2,8}){1,2}$", description="e.g. tr-TR")
    language: str = Field(pattern=r"^[A-Za-z]{2}$", description="2-letter language, e.g. tr")
    organizationRegistrationNumber: str | None = Field(default=None, max_length=100)
    enableGdapByDefault: StrictBool | None = None
    address: Address
    mcaAcceptance: McaAcceptance | None = None

    @field_validator("email")
    @classmethod
    def _email_address(cls, value: str) -> str:
        return _email(value)

    @field_validator("culture")
    @classmethod
    def _culture_as_listed(cls, value: str) -> str:
        # As Partner Center lists cultures: language lower case, region upper case, script title case (zh-Hant-TW).
        language, *subtags = value.split("-")
        cased = [s.upper() if len(s) == 2 else s.title() if len(s) == 4 and s.isalpha() else s for s in subtags]
        return "-".join([language.lower(), *cased])

    @field_validator("language")
    @classmethod
    def _language_lower_case(cls, value: str) -> str:
        return value.lower()


# What a requestId may be (contract §1): also what the ledger's and the intake's keys can hold (a Table RowKey may not
# hold / \\ # ? or control characters), so nothing else ever names a row.
REQUEST_ID_PATTERN = r"^[A-Za-z0-9._:-]{1,128}$"
_REQUEST_ID = re.compile(REQUEST_ID_PATTERN)


def is_request_id(value: str | None) -> bool:
    """Whether `value` is a well-formed requestId (and so a key the ledger can hold)."""
    return value is not None and _REQUEST_ID.fullmatch(value) is not None


class CustomerRequest(_Model):
    """One CRM request to onboard one customer."""

    schemaVersion: str = Field(description='major version 1: "1", "1.0", "1.3"')
    requestId: str = Field(min_length=1, max_length=128, pattern=r"^[A-Za-z0-9._:-]+$")
    crmAccountId: str = Field(min_length=1, max_length=128)
    correlationId: str | None = Field(default=None, max_length=128)
    customer: Customer
    indirectResellerId: UUID | None = None

    @field_validator("requestId", mode="before")
    @classmethod
    def _no_surrounding_whitespace(cls, value: Any) -> Any:
        # Not stripped: " abc" and "abc" would silently become the same idempotency key.
        if isinstance(value, str) and value != value.strip():
            raise PydanticCustomError("surrounding_whitespace", "must not start or end with whitespace")
        return value

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


def _echo(raw: Any, key: str) -> str | None:
    """A top-level id as read, for the failed event: control characters and lone surrogates replaced, so the event
    can always be encoded and its `subject` and attributes carry nothing a header, log or terminal acts on."""
    value = raw.get(key) if isinstance(raw, dict) else None
    return echoable(value[:256]) if isinstance(value, str) and value else None


def _unreadable(exc: Exception) -> FieldError:
    return FieldError(field=None, code="unreadable", message=f"The message could not be read ({type(exc).__name__}).")


def parse_message(body: bytes | str) -> CustomerRequest | InvalidRequest:
    """Read one queue message into a request, or into every field error it has. Never raises."""
    data = body.encode("utf-8", "surrogatepass") if isinstance(body, str) else body
    fingerprint = hashlib.sha256(data).hexdigest()
    raw, read_errors = read_json(data)
    if read_errors and raw is None:
        return InvalidRequest(errors=read_errors, fingerprint=fingerprint)
    if not isinstance(raw, dict):
        error = FieldError(field=None, code="not_an_object", message="The message must be a JSON object.")
        return InvalidRequest(errors=[error], fingerprint=fingerprint)
    errors: list[FieldError] = list(read_errors)
    request: CustomerRequest | None = None
    if not errors:
        try:
            request = CustomerRequest.model_validate(raw)
        except ValidationError as exc:
            errors.extend(field_error(detail) for detail in exc.errors(include_url=False, include_input=False))
        except (RecursionError, ValueError, TypeError) as exc:  # values pydantic cannot hold
            errors.append(_unreadable(exc))
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
