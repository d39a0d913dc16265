"""The onboarding pipeline: message → request → create → event. Plain functions over the ports."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Literal

from handlers.adapters.ports import EventSink, PartnerCenter
from handlers.create import create_customer, domain_for, ms_request_id_for
from handlers.events import CloudEvent, CreatedData, created_event, failed_event
from handlers.failures import ErrorKind, Failure, OnboardingError, Reason, failure_from_error
from handlers.logs import bind, log_context
from handlers.request import CustomerRequest, InvalidRequest, parse_message

log = logging.getLogger("csp_onboarding")


@dataclass(frozen=True)
class PipelineConfig:
    """The few settings the pipeline itself needs."""

    events_source: str
    domain_suffix: str
    enable_gdap_default: bool


@dataclass(frozen=True)
class Dependencies:
    """What the handlers need: adapters behind ports, plus config. Built by bootstrap, or by tests with fakes."""

    partner_center: PartnerCenter
    events: EventSink
    config: PipelineConfig


@dataclass(frozen=True)
class Outcome:
    """What an invocation published."""

    kind: Literal["created", "failed"]
    event: CloudEvent


async def handle_message(body: bytes | str, deps: Dependencies) -> Outcome:
    """Onboard one queue message and publish its outcome.

    Raises OnboardingError(TRANSIENT) — and any publish failure — so the queue redelivers the message.
    """
    parsed = parse_message(body)
    if isinstance(parsed, InvalidRequest):
        return await _publish_invalid(parsed, deps)
    request = parsed
    with log_context(
        requestId=request.requestId,
        crmAccountId=request.crmAccountId,
        correlationId=request.correlationId,
        msRequestId=ms_request_id_for(request.requestId),
    ):
        try:
            event = await _onboard(request, deps)
        except OnboardingError as error:
            if error.kind is ErrorKind.TRANSIENT:
                log.warning("Onboarding will be retried by the queue: %s", error, extra={"outcome": "retry"})
                raise
            event = _failed(request, failure_from_error(error), deps)
        await deps.events.publish([event.to_json()])
        kind: Literal["created", "failed"] = "created" if isinstance(event.data, CreatedData) else "failed"
        bind(outcome=kind if kind == "created" else f"failed:{getattr(event.data, 'reason', '')}")
        log.info("Published %s event %s", kind, event.id, extra={"eventId": event.id})
        return Outcome(kind, event)


async def handle_poison(body: bytes | str, deps: Dependencies) -> Outcome:
    """A message that failed every delivery: publish `failed` / retries_exhausted (retryable)."""
    parsed = parse_message(body)
    failure = Failure(
        reason=Reason.RETRIES_EXHAUSTED,
        retryable=True,
        message="The request could not be completed after repeated transient failures; send it again later.",
    )
    if isinstance(parsed, InvalidRequest):
        identity = parsed.request_id or parsed.fingerprint
        ids = (parsed.request_id, parsed.crm_account_id, parsed.correlation_id)
    else:
        identity = parsed.requestId
        ids = (parsed.requestId, parsed.crmAccountId, parsed.correlationId)
    with log_context(requestId=ids[0], crmAccountId=ids[1], correlationId=ids[2], outcome="failed:retries_exhausted"):
        event = failed_event(
            failure,
            request_id=ids[0],
            crm_account_id=ids[1],
            correlation_id=ids[2],
            source=deps.config.events_source,
            identity=identity,
        )
        await deps.events.publish([event.to_json()])
        log.error("Request poisoned after repeated failures; published %s", event.id, extra={"eventId": event.id})
        return Outcome("failed", event)


async def _onboard(request: CustomerRequest, deps: Dependencies) -> CloudEvent:
    config = deps.config
    customer = await create_customer(
        request,
        deps.partner_center,
        domain_suffix=config.domain_suffix,
        enable_gdap_default=config.enable_gdap_default,
    )
    domain = customer.companyProfile.domain or domain_for(request, config.domain_suffix)
    user_name = customer.userCredentials.userName if customer.userCredentials else None
    if user_name and "@" not in user_name:
        user_name = f"{user_name}@{domain}"
    # The admin password (customer.userCredentials.password) is dropped here: no vault is configured.
    data = CreatedData(
        requestId=request.requestId,
        crmAccountId=request.crmAccountId,
        customerId=customer.id,
        tenantId=customer.companyProfile.tenantId or customer.id,
        commerceId=customer.commerceId,
        domain=domain,
        companyName=customer.companyProfile.companyName or request.customer.companyName,
        relationshipToPartner=customer.relationshipToPartner,
        adminUserPrincipalName=user_name,
        adminCredentialsSecretId=None,
    )
    log.info("Customer %s created for %s", customer.id, domain, extra={"customerId": customer.id})
    return created_event(data, source=config.events_source, correlation_id=request.correlationId)


def _failed(request: CustomerRequest, failure: Failure, deps: Dependencies) -> CloudEvent:
    log.warning("Request refused: %s: %s", failure.reason.value, failure.message)
    return failed_event(
        failure,
        request_id=request.requestId,
        crm_account_id=request.crmAccountId,
        correlation_id=request.correlationId,
        source=deps.config.events_source,
        identity=request.requestId,
    )


async def _publish_invalid(parsed: InvalidRequest, deps: Dependencies) -> Outcome:
    failure = Failure(
        reason=Reason.INVALID_REQUEST,
        retryable=False,
        message=f"The request is invalid: {len(parsed.errors)} rule(s) broken; see errors.",
        errors=parsed.errors,
    )
    with log_context(
        requestId=parsed.request_id,
        crmAccountId=parsed.crm_account_id,
        correlationId=parsed.correlation_id,
        outcome="failed:invalid_request",
    ):
        event = failed_event(
            failure,
            request_id=parsed.request_id,
            crm_account_id=parsed.crm_account_id,
            correlation_id=parsed.correlation_id,
            source=deps.config.events_source,
            identity=parsed.fingerprint,
        )
        await deps.events.publish([event.to_json()])
        log.warning(
            "Invalid request answered: %s", "; ".join(e.message for e in parsed.errors[:5]), extra={"eventId": event.id}
        )
        return Outcome("failed", event)
