"""Outcomes: the ledger decision and the event for each way a request ends, and publishing what the ledger says."""

from __future__ import annotations

import logging
from dataclasses import dataclass, replace
from typing import Literal

from handlers.domain.events import CREATED, CloudEvent, CreatedData, created_event, failed_event
from handlers.domain.failures import Failure, Reason, invalid_request_message
from handlers.domain.ledger_entry import Decision, LedgerEntry
from handlers.domain.ports import EventSink
from handlers.domain.request import CustomerRequest, InvalidRequest, is_request_id
from handlers.observability.logs import bind, log_context
from handlers.observability.redaction import scrub
from handlers.observability.telemetry import current_traceparent, outcomes, reused_request_ids
from handlers.onboarding.ledger import Ledger

log = logging.getLogger("csp_onboarding")


@dataclass(frozen=True)
class Published:
    """What an invocation published: its outcome's kind and event."""

    kind: Literal["created", "failed"]
    event: CloudEvent


@dataclass(frozen=True)
class Publisher:
    """Where outcome events go: the sink, and the `source` every event names."""

    events: EventSink
    source: str


@dataclass(frozen=True)
class Ids:
    """How a request names itself on events: its ids as far as they could be read."""

    request_id: str | None
    crm_account_id: str | None
    correlation_id: str | None
    identity: str  # what the failed event's id derives from: the requestId, or a hash of an unreadable message

    @classmethod
    def of(cls, request: CustomerRequest, *, generation: int = 0) -> Ids:
        """A request's ids; a failure decided after its request was reopened `generation` times gets an identity
        of its own, so a subscriber dropping duplicates by event id never drops a newer outcome."""
        identity = request.requestId if not generation else f"{request.requestId}#{generation}"
        return cls(request.requestId, request.crmAccountId, request.correlationId, identity)

    @classmethod
    def of_invalid(cls, parsed: InvalidRequest) -> Ids:
        """The ids of a message that could not be read as a request, as far as they could be read."""
        identity = parsed.request_id or parsed.fingerprint
        return cls(parsed.request_id, parsed.crm_account_id, parsed.correlation_id, identity)


def scrubbed(failure: Failure) -> Failure:
    """A failure as an event, a ledger row and the status answer may carry it: its texts, which can quote Partner
    Center or Entra, with every known secret and secret-looking value redacted and control characters replaced
    (observability.redaction.scrub). Every failed event is built from a scrubbed failure."""
    detail = failure.partner_center
    if detail is not None:
        detail = detail.model_copy(
            update={name: scrub(value) for name in ("code", "description", "errorName")
                    if isinstance(value := getattr(detail, name), str)}
        )  # fmt: skip
    errors = [e.model_copy(update={"message": scrub(e.message)}) for e in failure.errors]
    return replace(failure, message=scrub(failure.message), errors=errors, partner_center=detail)


def failed_decision(failure: Failure, ids: Ids, source: str, *, exhausted: bool = False) -> Decision:
    """The decision (and its event) for a failure."""
    failure = scrubbed(failure)
    event = failed_event(
        failure,
        request_id=ids.request_id,
        crm_account_id=ids.crm_account_id,
        correlation_id=ids.correlation_id,
        source=source,
        identity=ids.identity,
        traceparent=current_traceparent(),
    )
    return Decision(
        "exhausted" if exhausted else "failed", event.id, event.model_dump_json(), retryable=failure.retryable
    )


def created_decision(
    entry: LedgerEntry, secret_id: str | None, correlation_id: str | None, source: str, *, mca: bool = False
) -> Decision:
    """The decision (and its event) for the customer the row records, with the admin password's secret id; with
    `mca`, the row also opens the MCA attestation step."""
    if entry.customer_json is None:
        raise ValueError("no customer recorded")
    data = CreatedData.model_validate_json(entry.customer_json).model_copy(
        update={"adminCredentialsSecretId": secret_id}
    )
    event = created_event(data, source=source, correlation_id=correlation_id, traceparent=current_traceparent())
    changes: dict[str, object] = {"agreement": "pending"} if mca and entry.agreement is None else {}
    return Decision("created", event.id, event.model_dump_json(), changes=changes)


async def created_already(request_id: str | None, ledger: Ledger) -> LedgerEntry | None:
    """The row of a request whose customer was created, if the message names one: a message that cannot be read
    as a request (an invalid resend, say) never follows `created` with `failed` — the first outcome wins."""
    if not is_request_id(request_id):  # nothing else can name a row (a Table key cannot hold "/", say)
        return None
    assert request_id is not None
    entry = await ledger.read(request_id)
    if entry is None or not entry.outcome_known or entry.outcome != "created":
        return None
    note_reused_request_id()
    return entry


def note_reused_request_id() -> None:
    """A requestId sent again with other content after its customer was created: counted and logged; the first
    outcome stands (the idempotency key wins)."""
    reused_request_ids.add(1)
    log.warning("requestId reused with other content after its customer was created: the first wins")


async def publish_stored(entry: LedgerEntry, events: EventSink) -> Published:
    """Publish the outcome the row stores (raises when Event Grid refuses, so the queue redelivers)."""
    if entry.event_json is None:
        raise ValueError("no outcome stored")
    outcome = await publish(CloudEvent.model_validate_json(entry.event_json), events)
    if entry.agreement_event_json is not None and not entry.agreement_open:  # the attestation's outcome, too
        await publish(CloudEvent.model_validate_json(entry.agreement_event_json), events)
    return outcome


async def publish_decision(decision: Decision, events: EventSink) -> Published:
    """Publish a decision's event without storing it (a message the ledger never knew)."""
    return await publish(CloudEvent.model_validate_json(decision.event_json), events)


async def publish(event: CloudEvent, events: EventSink) -> Published:
    """Publish one outcome event (raises when Event Grid refuses), then count and log it."""
    await events.publish([event.to_json()])
    kind: Literal["created", "failed"] = "created" if event.type == CREATED else "failed"
    reason = getattr(event.data, "reason", None)
    short = event.type.removeprefix("csp.onboarding.").removeprefix("customer.")  # created, agreement.failed, …
    outcome = short if reason is None else f"{short}:{reason}"
    bind(outcome=outcome)
    outcomes.add(1, {"type": short, "reason": str(reason or "")})
    log.info("Published %s event %s", outcome, event.id, extra={"eventId": event.id})
    return Published(kind, event)


async def publish_invalid(parsed: InvalidRequest, ledger: Ledger, publisher: Publisher) -> Published:
    """Answer a message that is not a valid request: one `failed` / invalid_request naming each broken rule —
    unless its requestId already has a customer, whose `created` event is published again."""
    failure = Failure(
        reason=Reason.INVALID_REQUEST,
        retryable=False,
        message=invalid_request_message(parsed.errors),
        errors=parsed.errors,
    )
    ids = replace(Ids.of_invalid(parsed), identity=parsed.fingerprint)
    with log_context(
        requestId=ids.request_id, crmAccountId=ids.crm_account_id, correlationId=ids.correlation_id, outcome="pending"
    ):
        stored = await created_already(parsed.request_id, ledger)
        if stored is not None:
            return await publish_stored(stored, publisher.events)
        log.warning("Invalid request: %s", "; ".join(e.message for e in parsed.errors[:5]))
        return await publish_decision(failed_decision(failure, ids, publisher.source), publisher.events)
