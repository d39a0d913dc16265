"""The MCA attestation step (contract §5 rule 9): after `created` is stored and published, attest the customer's
acceptance once and publish exactly one `agreement.confirmed` or `agreement.failed`.

The ledger carries the step (onboarding.ledger: claim_agreement, decide_agreement), so a redelivery after a transient
failure publishes nothing new for `created` and retries only the attestation; Partner Center's 600061 ("already
exists") makes a repeat harmless even when a kill lost the answer of the first.
"""

from __future__ import annotations

import logging

from handlers.domain.error_codes import APP_USER_OFF_CODE, failure_from_error
from handlers.domain.events import AgreementFailedData, CloudEvent, CreatedData, agreement_event
from handlers.domain.failures import ErrorKind, Failure, OnboardingError
from handlers.domain.ledger_entry import LedgerEntry
from handlers.domain.ports import EventSink
from handlers.domain.request import CustomerRequest
from handlers.observability.telemetry import current_traceparent
from handlers.onboarding.app_user import APP_USER_OFF, AppUser, attest_mca
from handlers.onboarding.ledger import Ledger
from handlers.onboarding.outcomes import Published, Publisher, publish, publish_stored, scrubbed

log = logging.getLogger("csp_onboarding")


async def _created(entry: LedgerEntry, events: EventSink) -> Published:
    """The created outcome: published now unless the row says it went out before the attestation was tried."""
    assert entry.event_json is not None
    if entry.created_published:
        return Published("created", CloudEvent.model_validate_json(entry.event_json))
    return await publish_stored(entry, events)


async def finish_attestation(
    request: CustomerRequest, entry: LedgerEntry, ledger: Ledger, app_user: AppUser | None, publisher: Publisher,
    *, lease_seconds: float,
) -> Published:  # fmt: skip
    """Attest a created request's MCA acceptance (the row's agreement is open) and publish its outcome; returns the
    created outcome. Raises OnboardingError(TRANSIENT) so the queue redelivers (only the attestation is retried)."""
    created = await _created(entry, publisher.events)
    held = await ledger.claim_agreement(entry, lease_seconds=lease_seconds)
    if not held.agreement_open:  # another delivery decided it meanwhile
        await _publish_agreement(held, publisher.events)
        return created
    row: LedgerEntry | None = None
    try:
        event, confirmed, retryable = await _attest(request, held, app_user, publisher.source)
        row = await ledger.decide_agreement(
            held, confirmed=confirmed, event_json=event.model_dump_json(), retryable=retryable
        )
    except OnboardingError as error:
        log.warning("The MCA attestation will be retried by the queue: %s", error, extra={"outcome": "retry"})
        raise
    finally:
        if row is None:
            await ledger.release(held)
    await _publish_agreement(row, publisher.events)
    return created


async def exhaust_attestation(
    request: CustomerRequest, entry: LedgerEntry, failure: Failure, ledger: Ledger, publisher: Publisher
) -> None:
    """The poison path: the attestation never succeeded — `created` (unless published) and `agreement.failed`."""
    await _created(entry, publisher.events)
    event = _failed_event(request, entry, failure, publisher.source)
    row = await ledger.decide_agreement(entry, confirmed=False, event_json=event.model_dump_json(),
                                        retryable=failure.retryable)  # fmt: skip
    await _publish_agreement(row, publisher.events)


async def _publish_agreement(row: LedgerEntry, events: EventSink) -> None:
    if row.agreement in ("confirmed", "failed") and row.agreement_event_json is not None:
        await publish(CloudEvent.model_validate_json(row.agreement_event_json), events)


async def _attest(
    request: CustomerRequest, entry: LedgerEntry, app_user: AppUser | None, source: str
) -> tuple[CloudEvent, bool, bool | None]:
    """(event, confirmed, retryable); raises OnboardingError(TRANSIENT)."""
    customer = CreatedData.model_validate_json(entry.customer_json or "{}")
    try:
        if app_user is None:
            raise OnboardingError(ErrorKind.AUTH, f"customer.mcaAcceptance {APP_USER_OFF}.", code=APP_USER_OFF_CODE)
        data = await attest_mca(
            request, app_user, customer_id=customer.customerId, tenant_id=customer.tenantId,
            ms_request_id=entry.ms_request_id,
        )  # fmt: skip
    except OnboardingError as error:
        if error.kind is ErrorKind.TRANSIENT:
            raise
        failure = failure_from_error(error)
        log.warning("MCA attestation refused: %s: %s", failure.reason.value, failure.message)
        return _failed_event(request, entry, failure, source), False, failure.retryable
    log.info("MCA acceptance attested for customer %s", customer.customerId)
    event = agreement_event(data, source=source, correlation_id=request.correlationId,
                            traceparent=current_traceparent())  # fmt: skip
    return event, True, None


def _failed_event(request: CustomerRequest, entry: LedgerEntry, failure: Failure, source: str) -> CloudEvent:
    failure = scrubbed(failure)
    customer = CreatedData.model_validate_json(entry.customer_json or "{}")
    data = AgreementFailedData(
        requestId=request.requestId, crmAccountId=request.crmAccountId, customerId=customer.customerId,
        tenantId=customer.tenantId, reason=failure.reason, retryable=failure.retryable, message=failure.message,
        errors=failure.errors, partnerCenter=failure.partner_center,
    )  # fmt: skip
    return agreement_event(data, source=source, correlation_id=request.correlationId,
                           traceparent=current_traceparent())  # fmt: skip
