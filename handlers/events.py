"""The outcome events (contract §2): CloudEvents 1.0 models with deterministic ids."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from handlers.failures import Failure, FieldError, PartnerCenterDetail, Reason
from handlers.text import echoable

CREATED = "csp.onboarding.customer.created"
FAILED = "csp.onboarding.customer.failed"

# Namespace of event ids: uuid5(namespace, outcome key) is the same for the same request and outcome.
_EVENT_NAMESPACE = uuid.UUID("3f9c7a52-6b1e-4d47-9a55-0c2f8e1d7b64")


class CreatedData(BaseModel):
    """`data` of csp.onboarding.customer.created."""

    model_config = ConfigDict(hide_input_in_errors=True)

    requestId: str
    crmAccountId: str
    customerId: str
    tenantId: str | None
    commerceId: str | None
    domain: str | None
    companyName: str | None
    relationshipToPartner: str | None
    adminUserPrincipalName: str | None
    adminCredentialsSecretId: str | None = Field(description="Key Vault secret id of the admin password, or null")


class FailedData(BaseModel):
    """`data` of csp.onboarding.customer.failed."""

    model_config = ConfigDict(hide_input_in_errors=True)

    requestId: str | None
    crmAccountId: str | None
    reason: Reason
    retryable: bool
    message: str
    errors: list[FieldError]
    partnerCenter: PartnerCenterDetail | None
    suggestedAddresses: list[dict[str, Any]] | None = Field(
        default=None, description="only for address_invalid: Partner Center's suggestions (may be empty)"
    )


class CloudEvent(BaseModel):
    """A CloudEvents 1.0 envelope in structured JSON."""

    model_config = ConfigDict(hide_input_in_errors=True)

    specversion: Literal["1.0"] = "1.0"
    type: Literal["csp.onboarding.customer.created", "csp.onboarding.customer.failed"]
    source: str
    id: str
    subject: str
    time: str
    datacontenttype: Literal["application/json"] = "application/json"
    correlationid: str | None = None
    traceparent: str | None = Field(default=None, description="W3C trace context (distributed tracing extension)")
    data: CreatedData | FailedData

    def to_json(self) -> dict[str, Any]:
        """The wire form: optional attributes left out when unset, `data` fields kept even when null."""
        wire = self.model_dump(mode="json")
        for optional in ("correlationid", "traceparent"):
            if wire[optional] is None:
                del wire[optional]
        if wire["type"] == FAILED and wire["data"].get("suggestedAddresses") is None:
            del wire["data"]["suggestedAddresses"]
        return wire


def event_id(*parts: str) -> str:
    """The deterministic id for an outcome, from the parts that name it (any text: a part that is not valid
    Unicode, such as a lone surrogate, is named by its code units)."""
    name = "\n".join(parts)
    try:
        name.encode("utf-8")
    except UnicodeEncodeError:
        name = name.encode("utf-8", "surrogatepass").hex()
    return str(uuid.uuid5(_EVENT_NAMESPACE, name))


def _echo(value: str | None) -> str | None:
    """A value from the request as an event may carry it: control characters and lone surrogates replaced."""
    return None if value is None else echoable(value)


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def created_event(
    data: CreatedData,
    *,
    source: str,
    correlation_id: str | None,
    time: str | None = None,
    traceparent: str | None = None,
) -> CloudEvent:
    """The `created` event; its id depends only on the requestId."""
    return CloudEvent(
        type=CREATED,
        source=source,
        id=event_id(CREATED, data.requestId),
        subject=f"crmAccounts/{data.crmAccountId}",
        time=time or _now(),
        correlationid=correlation_id,
        traceparent=traceparent,
        data=data,
    )


def failed_event(
    failure: Failure,
    *,
    request_id: str | None,
    crm_account_id: str | None,
    correlation_id: str | None,
    source: str,
    identity: str,
    time: str | None = None,
    traceparent: str | None = None,
) -> CloudEvent:
    """The `failed` event; `identity` names the request (its requestId, or a hash of an unreadable message).
    Values echoed from the request are made safe to carry (an invalid request may hold anything)."""
    crm_account_id = _echo(crm_account_id)
    data = FailedData(
        requestId=_echo(request_id),
        crmAccountId=crm_account_id,
        reason=failure.reason,
        retryable=failure.retryable,
        message=failure.message,
        errors=failure.errors,
        partnerCenter=failure.partner_center,
        suggestedAddresses=(failure.suggested_addresses or []) if failure.reason is Reason.ADDRESS_INVALID else None,
    )
    return CloudEvent(
        type=FAILED,
        source=source,
        id=event_id(FAILED, identity, failure.reason.value),
        subject=f"crmAccounts/{crm_account_id or 'unknown'}",
        time=time or _now(),
        correlationid=_echo(correlation_id),
        traceparent=traceparent,
        data=data,
    )
