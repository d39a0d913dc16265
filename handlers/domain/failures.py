"""Why a request failed: the contract's reasons, field errors and the one classified error type."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict

from handlers.domain.field_errors import FieldError


class Reason(StrEnum):
    """The `reason` of a `failed` event (contract §2)."""

    INVALID_REQUEST = "invalid_request"
    ADDRESS_INVALID = "address_invalid"
    DOMAIN_UNAVAILABLE = "domain_unavailable"
    REJECTED_BY_PARTNER_CENTER = "rejected_by_partner_center"
    NOT_AUTHORIZED = "not_authorized"
    RETRIES_EXHAUSTED = "retries_exhausted"


class ErrorKind(StrEnum):
    """How an error is handled, decided once where it is raised."""

    INVALID = "invalid"  # the request itself is wrong: fix it and send again
    BUSINESS = "business"  # Partner Center refused it for a business reason
    AUTH = "auth"  # our credential or permissions are refused
    CONSENT = "consent"  # the App+User sign-in is dead (expired, revoked, no MFA): a person must sign in again
    TRANSIENT = "transient"  # may pass on a later try: let the queue redeliver


class PartnerCenterDetail(BaseModel):
    """What Partner Center's error body said, as published in `failed` events."""

    model_config = ConfigDict(hide_input_in_errors=True)

    httpStatus: int | None
    code: str | None
    description: str | None
    errorName: str | None


@dataclass
class OnboardingError(Exception):
    """An error with a kind and a reason; its text never carries a secret.

    Raised by adapters (Partner Center, Entra, Event Grid) and by pre-flight checks.
    """

    kind: ErrorKind
    message: str
    reason: Reason | None = None
    http_status: int | None = None
    code: str | None = None
    description: str | None = None
    error_name: str | None = None
    retry_after: float | None = None
    is_retryable: bool | None = None
    errors: list[FieldError] = field(default_factory=list)
    suggested_addresses: list[dict[str, Any]] | None = None
    # An earlier attempt of the same call got no definitive answer (no answer, a timeout, a 5xx): it may have
    # committed, so a refusal now may be Partner Center refusing to do it twice.
    after_unanswered: bool = False

    def __post_init__(self) -> None:
        super().__init__(self.message)

    def __str__(self) -> str:
        code = f", code {self.code}" if self.code is not None else ""
        status = f" (HTTP {self.http_status}{code})" if self.http_status else ""
        return f"{self.kind.value}: {self.message}{status}"

    @property
    def partner_center(self) -> PartnerCenterDetail | None:
        """The Partner Center detail for the event, when Partner Center answered."""
        if self.http_status is None:
            return None
        return PartnerCenterDetail(
            httpStatus=self.http_status,
            code=self.code,
            description=self.description,
            errorName=self.error_name,
        )


@dataclass(frozen=True)
class Failure:
    """A final, published outcome other than success."""

    reason: Reason
    retryable: bool
    message: str
    errors: list[FieldError] = field(default_factory=list)
    partner_center: PartnerCenterDetail | None = None
    suggested_addresses: list[dict[str, Any]] | None = None


def invalid_request_message(errors: list[FieldError]) -> str:
    """The sentence of an invalid_request: the broken rule itself when there is one, else how many there are."""
    if len(errors) == 1:
        return f"The request is invalid: {errors[0].message}"
    return f"The request breaks {len(errors)} rules; see errors."
