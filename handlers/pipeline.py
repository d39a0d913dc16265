"""The onboarding pipeline: message → request → ledger → pre-flight → create → event. Plain functions over ports."""

from __future__ import annotations

import asyncio
import hashlib
import logging
from dataclasses import dataclass
from typing import Any, Literal

from handlers.adapters.ledger import LedgerEntry
from handlers.adapters.ports import EventSink, Ledger, MessageParking, PartnerCenter, SecretStore
from handlers.admin_password import keep_admin_password
from handlers.create import create_customer, domain_for, ms_request_id_for
from handlers.events import FAILED, CloudEvent, CreatedData, created_event, failed_event
from handlers.failures import ErrorKind, Failure, OnboardingError, Reason, failure_from_error, invalid_request_message
from handlers.logs import bind, log_context
from handlers.preflight import CountryRulesCache, run_preflight
from handlers.redaction import holding_secrets
from handlers.request import CustomerRequest, InvalidRequest, parse_message
from handlers.telemetry import current_traceparent, outcomes, parent_context, tracer

log = logging.getLogger("csp_onboarding")


@dataclass(frozen=True)
class PipelineConfig:
    """The few settings the pipeline itself needs."""

    events_source: str
    domain_suffix: str
    enable_gdap_default: bool
    validate_address: bool = True
    lease_seconds: float = 180.0
    admin_password_expiry_days: int = 30


@dataclass(frozen=True)
class Dependencies:
    """What the handlers need: adapters behind ports, plus config. Built by bootstrap, or by tests with fakes."""

    partner_center: PartnerCenter
    events: EventSink
    ledger: Ledger
    config: PipelineConfig
    rules_cache: CountryRulesCache
    vault: SecretStore | None = None
    parking: MessageParking | None = None


@dataclass(frozen=True)
class Outcome:
    """What an invocation published."""

    kind: Literal["created", "failed"]
    event: CloudEvent


def _kind(event: CloudEvent) -> Literal["created", "failed"]:
    return "failed" if event.type == FAILED else "created"


async def handle_message(body: bytes | str, deps: Dependencies, *, traceparent: str | None = None) -> Outcome:
    """Onboard one queue message and publish its outcome.

    Raises OnboardingError(TRANSIENT) — and any publish failure — so the queue redelivers the message.
    """
    with tracer.start_as_current_span("onboard_customer", context=parent_context(traceparent)), holding_secrets():
        parsed = parse_message(body)
        if isinstance(parsed, InvalidRequest):
            return await _publish_invalid(parsed, deps)
        return await _handle_request(parsed, deps)


async def _handle_request(request: CustomerRequest, deps: Dependencies) -> Outcome:
    ms_request_id = ms_request_id_for(request.requestId)
    with log_context(
        requestId=request.requestId,
        crmAccountId=request.crmAccountId,
        correlationId=request.correlationId,
        msRequestId=ms_request_id,
        outcome="pending",
    ):
        request_hash = hashlib.sha256(request.model_dump_json().encode("utf-8")).hexdigest()
        entry = await deps.ledger.claim(
            request.requestId, ms_request_id, lease_seconds=deps.config.lease_seconds, request_hash=request_hash
        )
        if entry.outcome_known and entry.event_json is not None:
            # Published by every delivery until one succeeds and the queue consumes the message: no write.
            log.info("Outcome already decided (%s): publishing it again", entry.state)
            return await _publish(CloudEvent.model_validate_json(entry.event_json), deps)
        try:
            entry, decided = await _decide(request, entry, deps)
        except OnboardingError as error:
            if error.kind is ErrorKind.TRANSIENT:
                log.warning("Onboarding will be retried by the queue: %s", error, extra={"outcome": "retry"})
            raise
        except Exception:
            # Not one of ours (a library's surprise): this delivery is over all the same; free the request.
            await deps.ledger.release(await deps.ledger.read(request.requestId) or entry)
            raise
        return await _store_and_publish(entry, decided, deps)


@dataclass(frozen=True)
class _Decided:
    """An outcome to store on the request's row (with `changes`) and to publish."""

    event: CloudEvent
    state: Literal["created", "failed"]
    changes: dict[str, Any]


async def _store_and_publish(entry: LedgerEntry, decided: _Decided, deps: Dependencies) -> Outcome:
    """Store the outcome on the row while publishing it: neither waits for the other, and either failing fails the
    invocation. The next delivery then publishes the stored event again or, had storing failed, decides again and
    publishes an event with the same id: a refusal comes from the same checks, and a customer from replaying the
    create under the same MS-RequestId (the row still says `creating`)."""
    event = decided.event
    store = asyncio.create_task(
        deps.ledger.advance(
            entry, decided.state, event_id=event.id, event_json=event.model_dump_json(), outcome=decided.state,
            **decided.changes,
        )
    )  # fmt: skip
    try:
        outcome = await _publish(event, deps)
    except BaseException:
        await asyncio.wait([store])  # never leave the write running after the invocation
        if not store.cancelled():
            store.exception()  # retrieved: the publish failure is the one reported
        raise
    await store  # raises when storing failed
    return outcome


async def _publish(event: CloudEvent, deps: Dependencies) -> Outcome:
    """Publish one outcome event (raises when Event Grid refuses), then count and log it."""
    await deps.events.publish([event.to_json()])
    kind = _kind(event)
    reason = getattr(event.data, "reason", None)
    outcome = kind if reason is None else f"failed:{reason}"
    bind(outcome=outcome)
    outcomes.add(1, {"type": kind, "reason": str(reason or "")})
    log.info("Published %s event %s", outcome, event.id, extra={"eventId": event.id})
    return Outcome(kind, event)


async def _decide(request: CustomerRequest, entry: LedgerEntry, deps: Dependencies) -> tuple[LedgerEntry, _Decided]:
    """Run pre-flight and the create (as far as the ledger says is still to do); the outcome to store and publish."""
    config = deps.config
    domain = domain_for(request, config.domain_suffix)
    try:
        if entry.state == "received":
            await run_preflight(
                request,
                deps.partner_center,
                deps.rules_cache,
                domain=domain,
                ms_request_id=entry.ms_request_id,
                validate_address=config.validate_address,
            )
            entry = await deps.ledger.advance(entry, "creating", domain=domain)
        else:
            log.warning("An earlier delivery was interrupted while creating: creating again with the same MS-RequestId")
        customer = await create_customer(
            request,
            deps.partner_center,
            domain_suffix=config.domain_suffix,
            enable_gdap_default=config.enable_gdap_default,
            may_exist=True,  # the ledger says "creating": an earlier attempt may have committed
        )
    except OnboardingError as error:
        if error.kind is ErrorKind.TRANSIENT:
            await deps.ledger.release(entry)  # this delivery is over: the next one may start at once
            raise
        failure = failure_from_error(error)
        return entry, _Decided(_failed(request, failure, deps), "failed", {"retryable": failure.retryable})
    domain = customer.companyProfile.domain or domain
    user_name = customer.userCredentials.userName if customer.userCredentials else None
    if user_name and "@" not in user_name:
        user_name = f"{user_name}@{domain}"
    try:
        secret_id = await keep_admin_password(
            customer,
            request_id=request.requestId,
            user_principal_name=user_name,
            vault=deps.vault,
            expires_in_days=config.admin_password_expiry_days,
        )
    except OnboardingError as error:
        # The customer exists: never publish `failed` for it. Retry (the create replays idempotently) until
        # the vault takes the password; an operator fixes a refused role in the meantime.
        await deps.ledger.release(entry)
        raise OnboardingError(ErrorKind.TRANSIENT, f"the admin password could not be stored: {error}") from None
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
        adminCredentialsSecretId=secret_id,
    )
    log.info("Customer %s created for %s", customer.id, domain, extra={"customerId": customer.id})
    event = created_event(
        data, source=config.events_source, correlation_id=request.correlationId, traceparent=current_traceparent()
    )
    changes = {
        "customer_id": customer.id,
        "tenant_id": data.tenantId,
        "commerce_id": customer.commerceId,
        "domain": domain,
    }
    return entry, _Decided(event, "created", changes)


async def handle_poison(body: bytes | str, deps: Dependencies, *, traceparent: str | None = None) -> Outcome:
    """A message that failed every delivery: publish `failed` / retries_exhausted (retryable) — unless the
    ledger already knows its outcome (e.g. created, but every publish failed), which is published instead."""
    with tracer.start_as_current_span("report_exhausted_request", context=parent_context(traceparent)):
        outcome = await _handle_poison(parse_message(body), deps)
        if deps.parking is not None:  # after the event: a failed park retries the message, the event repeats
            await deps.parking.park(body.encode("utf-8") if isinstance(body, str) else body)
        return outcome


async def _handle_poison(parsed: CustomerRequest | InvalidRequest, deps: Dependencies) -> Outcome:
    if isinstance(parsed, InvalidRequest):
        identity, ids = (
            parsed.request_id or parsed.fingerprint,
            (parsed.request_id, parsed.crm_account_id, parsed.correlation_id),
        )
    else:
        identity, ids = parsed.requestId, (parsed.requestId, parsed.crmAccountId, parsed.correlationId)
    with log_context(requestId=ids[0], crmAccountId=ids[1], correlationId=ids[2], outcome="pending"):
        entry = await deps.ledger.read(parsed.requestId) if isinstance(parsed, CustomerRequest) else None
        if entry is not None and entry.outcome_known and entry.event_json is not None:
            log.warning("Poisoned request had a decided outcome: publishing it")
            return await _publish(CloudEvent.model_validate_json(entry.event_json), deps)
        failure = Failure(
            reason=Reason.RETRIES_EXHAUSTED,
            retryable=True,
            message="The request could not be completed after repeated transient failures; send it again later.",
        )
        event = failed_event(
            failure,
            request_id=ids[0],
            crm_account_id=ids[1],
            correlation_id=ids[2],
            source=deps.config.events_source,
            identity=identity,
            traceparent=current_traceparent(),
        )
        if isinstance(parsed, CustomerRequest):
            await deps.ledger.record_exhausted(
                parsed.requestId, ms_request_id_for(parsed.requestId), event.id, event.model_dump_json()
            )
        log.error("Request poisoned after repeated failures")
        return await _publish(event, deps)


def _failed(request: CustomerRequest, failure: Failure, deps: Dependencies) -> CloudEvent:
    log.warning("Request refused: %s: %s", failure.reason.value, failure.message)
    return failed_event(
        failure,
        request_id=request.requestId,
        crm_account_id=request.crmAccountId,
        correlation_id=request.correlationId,
        source=deps.config.events_source,
        identity=request.requestId,
        traceparent=current_traceparent(),
    )


async def _publish_invalid(parsed: InvalidRequest, deps: Dependencies) -> Outcome:
    failure = Failure(
        reason=Reason.INVALID_REQUEST,
        retryable=False,
        message=invalid_request_message(parsed.errors),
        errors=parsed.errors,
    )
    with log_context(
        requestId=parsed.request_id,
        crmAccountId=parsed.crm_account_id,
        correlationId=parsed.correlation_id,
        outcome="pending",
    ):
        event = failed_event(
            failure,
            request_id=parsed.request_id,
            crm_account_id=parsed.crm_account_id,
            correlation_id=parsed.correlation_id,
            source=deps.config.events_source,
            identity=parsed.fingerprint,
            traceparent=current_traceparent(),
        )
        log.warning("Invalid request: %s", "; ".join(e.message for e in parsed.errors[:5]))
        return await _publish(event, deps)
