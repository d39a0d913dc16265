"""The outcome events (contract §2): CloudEvents 1.0 models with deterministic ids."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator

from handlers.domain.failures import Failure, PartnerCenterDetail, Reason
from handlers.domain.field_errors import FieldError
from handlers.domain.text import echoable

CREATED = "csp.onboarding.customer.created"
FAILED = "csp.onboarding.customer.failed"
AGREEMENT_CONFIRMED = "csp.onboarding.agreement.confirmed"
AGREEMENT_FAILED = "csp.onboarding.agreement.failed"
CONSENT_REQUIRED = "csp.onboarding.consent.required"
EventType = Literal[
    "csp.onboarding.customer.created",
    "csp.onboarding.customer.failed",
    "csp.onboarding.agreement.confirmed",
    "csp.onboarding.agreement.failed",
    "csp.onboarding.consent.required",
]

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
    associatedPartnerId: str | None = Field(default=None, description="the indirect reseller's tenant id, or null")


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


class AgreementConfirmedData(BaseModel):
    """`data` of csp.onboarding.agreement.confirmed (contract §5)."""

    model_config = ConfigDict(hide_input_in_errors=True)

    requestId: str
    crmAccountId: str
    customerId: str
    tenantId: str | None
    agreementType: Literal["MicrosoftCustomerAgreement"] = "MicrosoftCustomerAgreement"
    templateId: str
    dateAgreed: str
    primaryContactEmail: str


class AgreementFailedData(BaseModel):
    """`data` of csp.onboarding.agreement.failed (contract §5)."""

    model_config = ConfigDict(hide_input_in_errors=True)

    requestId: str
    crmAccountId: str
    customerId: str
    tenantId: str | None
    reason: Reason
    retryable: bool
    message: str
    errors: list[FieldError]
    partnerCenter: PartnerCenterDetail | None


class ConsentRequiredData(BaseModel):
    """`data` of csp.onboarding.consent.required (contract §5)."""

    model_config = ConfigDict(hide_input_in_errors=True)

    reason: str = Field(
        description="refresh_token_missing, refresh_token_expired, refresh_token_revoked, mfa_required, "
        "sign_in_client_mismatch"
    )
    message: str = Field(description="what the operator must do")
    since: str = Field(description="RFC 3339 UTC: when this worker first met the dead sign-in")


EventData = CreatedData | FailedData | AgreementConfirmedData | AgreementFailedData | ConsentRequiredData
_DATA_OF: dict[str, type[BaseModel]] = {
    CREATED: CreatedData,
    FAILED: FailedData,
    AGREEMENT_CONFIRMED: AgreementConfirmedData,
    AGREEMENT_FAILED: AgreementFailedData,
    CONSENT_REQUIRED: ConsentRequiredData,
}


class CloudEvent(BaseModel):
    """A CloudEvents 1.0 envelope in structured JSON."""

    model_config = ConfigDict(hide_input_in_errors=True)

    specversion: Literal["1.0"] = "1.0"
    type: EventType
    source: str
    id: str
    subject: str
    time: str
    datacontenttype: Literal["application/json"] = "application/json"
    correlationid: str | None = None
    traceparent: str | None = Field(default=None, description="W3C trace context (distributed tracing extension)")
    data: EventData

    @field_validator("data", mode="before")
    @classmethod
    def _data_of_its_type(cls, value: Any, info: ValidationInfo) -> Any:
        """`data` read as the model its event type names (several share field names)."""
        model = _DATA_OF.get(str(info.data.get("type")))
        return model.model_validate(value) if model is not None and isinstance(value, dict) else value

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


def agreement_event(
    data: AgreementConfirmedData | AgreementFailedData,
    *,
    source: str,
    correlation_id: str | None,
    traceparent: str | None = None,
) -> CloudEvent:
    """The `agreement.confirmed` or `agreement.failed` event; its id depends on the requestId (and the reason)."""
    kind = AGREEMENT_CONFIRMED if isinstance(data, AgreementConfirmedData) else AGREEMENT_FAILED
    parts = [kind, data.requestId] + ([data.reason.value] if isinstance(data, AgreementFailedData) else [])
    return CloudEvent(
        type=kind, source=source, id=event_id(*parts), subject=f"crmAccounts/{data.crmAccountId}", time=_now(),
        correlationid=correlation_id, traceparent=traceparent, data=data,
    )  # fmt: skip


def consent_event(data: ConsentRequiredData, *, source: str, slot: str) -> CloudEvent:
    """The `consent.required` event of one hour (`slot`): the same hour always yields the same id."""
    return CloudEvent(
        type=CONSENT_REQUIRED, source=source, id=event_id(CONSENT_REQUIRED, slot), subject="crmAccounts/unknown",
        time=_now(), data=data,
    )  # fmt: skip
