"""One CRM record, one customer: the intake keeps, per record (Dataverse, Salesforce), which request is its current
one, in its own table (never the ledger). A record's later version is a new request only once its current one has
failed; while that one is undecided the later version waits (intake/pending.py); once it created the customer, later
versions are that customer."""

from __future__ import annotations

import logging
from typing import Literal

from handlers.domain.failures import ErrorKind, OnboardingError
from handlers.domain.intake_record import IntakeRecord
from handlers.domain.ports import RowChanged, RowExists
from handlers.domain.request import CustomerRequest
from handlers.intake.dependencies import IntakeDependencies
from handlers.intake.enqueue import Busy, accepted, enqueue_once, unavailable
from handlers.intake.http_bodies import Answer

log = logging.getLogger("csp_onboarding")


Previous = Literal["created", "failed", "busy"]


async def _previous_outcome(guard: IntakeRecord, deps: IntakeDependencies) -> Previous:
    entry = await deps.ledger.read(guard.request_id)
    if entry is None:
        return "failed" if deps.clock() - guard.updated_at > deps.config.timing.intake_lost_after else "busy"
    if entry.decided == "created" or entry.customer_id is not None:
        return "created"
    if entry.decided == "failed" or (entry.decided == "exhausted" and entry.creating_since is None):
        return "failed"
    return "busy"  # in flight, or exhausted after a create went out (an operator replays it)


async def claim_record(key: str, request_id: str, deps: IntakeDependencies) -> str | None:
    """Make `request_id` the CRM record's current request. Returns None to go on, or the requestId that already
    created the record's customer (nothing more to do). Raises Busy while the record's previous request is
    undecided (a second request could create a second customer), OnboardingError(TRANSIENT) when storage fails."""
    for _ in range(3):
        guard = await deps.records.get(key)
        try:
            if guard is None:
                await deps.records.insert(IntakeRecord(key, request_id, None, deps.clock()))
                return None
            if guard.request_id == request_id:
                return None
            previous = await _previous_outcome(guard, deps)
            if previous == "created":
                return guard.request_id
            if previous == "busy":
                raise Busy(f"the record's request {guard.request_id} is still being onboarded")
            await deps.records.replace(IntakeRecord(key, request_id, None, deps.clock(), etag=guard.etag))
            return None
        except (RowExists, RowChanged):
            continue  # another delivery for the same record moved first: look again
    raise Busy("the record is changing right now")


async def accept_record(key: str, request: CustomerRequest, base_url: str, deps: IntakeDependencies) -> Answer:
    """A mapped CRM record: 202 once enqueued (or known), 200 when the record's customer exists already, 503 while
    an earlier version of it is being onboarded."""
    try:
        created_by = await claim_record(key, request.requestId, deps)
        if created_by is not None:
            log.info("CRM record already onboarded by %s: %s not enqueued", created_by, request.requestId)
            return accepted(created_by, base_url, status=200, state="created")
        await enqueue_once(request, deps)
    except Busy as exc:
        return unavailable(f"Not enqueued: {exc}; send it again later.", deps.config.timing)
    except OnboardingError as exc:
        if exc.kind is not ErrorKind.TRANSIENT:
            raise
        return unavailable(
            f"The request could not be enqueued ({exc.message}); send it again later.", deps.config.timing
        )
    return accepted(request.requestId, base_url)
