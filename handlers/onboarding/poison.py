"""The poison path: a request that failed every delivery is reported once, from what the ledger knows, and parked.

- Decided already (say created, but every publish failed): its stored outcome is published.
- A customer is recorded (the create succeeded, the vault never took the password): `created`, without a secret id.
- Created, its MCA attestation still pending: `created` (unless published before) and `agreement.failed`
  (retries_exhausted, retryable); a replay attests then.
- Held by a live delivery (a duplicate of this message is being handled right now): no event; that delivery decides.
- Otherwise: `failed` / retries_exhausted (retryable), stored as "exhausted" so a replay resumes where it stopped.

The real host gives a `-poison` queue no poison queue of its own, and does not release a message whose poison
invocation failed (it stays invisible until its lease ends, then is tried again until it expires). So this function
never fails for a reason a retry would fix out of sight: whatever goes wrong, it logs an error (an alert) and parks
the message for `ops.replay_poison`; only a failure to park fails the invocation.
"""

from __future__ import annotations

import logging

from handlers.domain.failures import Failure, OnboardingError, Reason
from handlers.domain.ledger_entry import LedgerEntry
from handlers.domain.partner_center_body import ms_request_id_for
from handlers.domain.request import CustomerRequest, InvalidRequest, parse_message
from handlers.observability.logs import log_context
from handlers.observability.telemetry import parent_context, poison_failures, tracer
from handlers.onboarding.attestation import exhaust_attestation
from handlers.onboarding.dependencies import Dependencies
from handlers.onboarding.outcomes import (
    Ids,
    Published,
    created_already,
    created_decision,
    failed_decision,
    publish_decision,
    publish_stored,
)

ALERT = "poison_unreported"  # the `alert` dimension the Azure Monitor alert filters on (infra/app/monitoring.bicep)

log = logging.getLogger("csp_onboarding")

EXHAUSTED = Failure(
    reason=Reason.RETRIES_EXHAUSTED,
    retryable=True,
    message="The request could not be completed after repeated transient failures; send it again later.",
)


async def handle_poison(body: bytes | str, deps: Dependencies, *, traceparent: str | None = None) -> Published | None:
    """Report a request that failed every delivery (see the module docstring), then park its message; raises only
    when parking fails."""
    with tracer.start_as_current_span(
        "report_exhausted_request", context=parent_context(traceparent), record_exception=False
    ):
        parsed = parse_message(body)
        ids = Ids.of(parsed) if isinstance(parsed, CustomerRequest) else Ids.of_invalid(parsed)
        with log_context(
            requestId=ids.request_id, crmAccountId=ids.crm_account_id, correlationId=ids.correlation_id,
            outcome="pending",
        ):  # fmt: skip
            outcome = None
            try:
                outcome = await _report(parsed, ids, deps)
            except Exception as exc:
                poison_failures.add(1)
                why = str(exc) if isinstance(exc, OnboardingError) else type(exc).__name__  # never a library's text
                then = "parking it for replay" if deps.parking is not None else "no parking queue is configured"
                log.error(
                    "The poison function could not report an exhausted request (%s): %s", why, then,
                    extra={"alert": ALERT},
                )  # fmt: skip
            if deps.parking is not None:
                await deps.parking.park(body.encode("utf-8", errors="surrogatepass") if isinstance(body, str) else body)
            return outcome


async def _report(parsed: CustomerRequest | InvalidRequest, ids: Ids, deps: Dependencies) -> Published | None:
    publisher = deps.publisher
    if not isinstance(parsed, CustomerRequest):  # never claimed: nothing in the ledger to decide
        stored = await created_already(parsed.request_id, deps.ledger)
        if stored is not None:
            return await publish_stored(stored, publisher.events)
        log.error("Unreadable request poisoned after repeated failures")
        decision = failed_decision(EXHAUSTED, ids, publisher.source, exhausted=True)
        return await publish_decision(decision, publisher.events)
    entry = await deps.ledger.read(parsed.requestId) or _unrecorded(parsed.requestId)
    mca = parsed.customer.mcaAcceptance is not None
    for _ in range(3):  # the row may move on while this runs: judge it again as it then stands
        if deps.ledger.is_held(entry):
            log.warning("Poisoned message of a request another delivery holds right now: it will report the outcome")
            return None
        if entry.outcome_known and mca and entry.agreement == "pending":
            log.error("Poisoned request's MCA attestation never succeeded: reporting agreement.failed")
            await exhaust_attestation(parsed, entry, EXHAUSTED, deps.ledger, publisher)
            return None
        if entry.outcome_known:
            log.warning("Poisoned request had a decided outcome: publishing it")
            return await publish_stored(entry, publisher.events)
        if entry.customer_json is not None:
            log.error("Poisoned request's customer exists (its admin password could not be kept): reporting it created")
            decision = created_decision(entry, None, parsed.correlationId, publisher.source, mca=mca)
        else:
            log.error("Request poisoned after repeated failures")
            ids = Ids.of(parsed, generation=entry.generation)
            decision = failed_decision(EXHAUSTED, ids, publisher.source, exhausted=True)
        row = await deps.ledger.decide(entry, decision, hold_seconds=deps.config.timing.lease)
        if row.decided is not None and row.event_id == decision.event_id:
            if row.agreement == "pending" and mca:
                await exhaust_attestation(parsed, row, EXHAUSTED, deps.ledger, publisher)
                return None
            try:
                return await publish_stored(row, publisher.events)
            finally:
                await deps.ledger.release(row)
        entry = row
    log.warning("The request kept moving on: the delivery that holds it reports the outcome")
    return None


def _unrecorded(request_id: str) -> LedgerEntry:
    return LedgerEntry(request_id, ms_request_id_for(request_id))
