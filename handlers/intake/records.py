"""One CRM record, one customer: the intake keeps, per record (Dataverse, Salesforce), which request is its current
one, in its own table (never the ledger). A record's later version is a new request only once its current one has
failed; while that one is undecided the later version waits (intake/pending.py); once it created the customer, later
versions are that customer."""

from __future__ import annotations

import logging
from dataclasses import replace
from typing import Literal

from handlers.domain.failures import ErrorKind, OnboardingError
from handlers.domain.intake_record import IntakeRecord
from handlers.domain.ports import RowChanged, RowExists
from handlers.domain.request import CustomerRequest
from handlers.intake.dependencies import IntakeDependencies
from handlers.intake.enqueue import Busy, accepted, enqueue_once, request_message, unavailable
from handlers.intake.http_bodies import Answer

log = logging.getLogger("csp_onboarding")
NOT_KEPT_ALERT = "crm_record_not_kept"  # the `alert` dimension the Azure Monitor alert filters on


Previous = Literal["created", "failed", "busy"]


async def previous_outcome(guard: IntakeRecord, deps: IntakeDependencies) -> Previous:
    """How the record's current request stands: created (its customer exists), failed (a later version may be
    sent), or busy (undecided, or its trace lost less than intake_lost_after ago)."""
    entry = await deps.ledger.read(guard.request_id)
    if entry is None:
        return "failed" if deps.clock() - guard.updated_at > deps.config.timing.intake_lost_after else "busy"
    if entry.decided == "created" or entry.customer_id is not None:
        return "created"
    if entry.decided == "failed" or (entry.decided == "exhausted" and entry.creating_since is None):
        return "failed"
    return "busy"  # in flight, or exhausted after a create went out (an operator replays it)


class Undecided(Busy):
    """The record's current request is still being onboarded: a later version must wait for it (a second request
    could create a second customer)."""

    def __init__(self, guard: IntakeRecord) -> None:
        super().__init__(f"the record's request {guard.request_id} is still being onboarded")
        self.guard = guard


async def claim_record(key: str, request_id: str, deps: IntakeDependencies) -> str | None:
    """Make `request_id` the CRM record's current request. Returns None to go on, or the requestId that already
    created the record's customer (nothing more to do). Raises Undecided while the record's current request is
    undecided, Busy while the record changes under it, OnboardingError(TRANSIENT) when storage fails."""
    for _ in range(3):
        guard = await deps.records.get(key)
        try:
            if guard is None:
                await deps.records.insert(IntakeRecord(key, request_id, None, deps.clock()))
                return None
            if guard.request_id == request_id:
                return None
            previous = await previous_outcome(guard, deps)
            if previous == "created":
                return guard.request_id
            if previous == "busy":
                raise Undecided(guard)
            # A new current request; a version kept earlier is superseded by this newer one.
            await deps.records.replace(IntakeRecord(key, request_id, None, deps.clock(), etag=guard.etag))
            return None
        except (RowExists, RowChanged):
            continue  # another delivery for the same record moved first: look again
    raise Busy("the record is changing right now")


async def keep_later_version(guard: IntakeRecord, request: CustomerRequest, deps: IntakeDependencies) -> None:
    """Keep `request` as the record's later version, replacing an older kept one (the newest data wins), until its
    current request decides (intake/pending.py). Raises RowChanged when the row moved meanwhile, OnboardingError
    when storage fails."""
    kept = replace(guard, pending_request_id=request.requestId, pending_message=request_message(request).decode())
    await deps.records.replace(kept)


async def accept_record(
    key: str, request: CustomerRequest, base_url: str, deps: IntakeDependencies, *, keep_later: bool = False
) -> Answer:
    """A mapped CRM record: 202 once enqueued (or known), 200 when the record's customer exists already. While an
    earlier version is undecided: with `keep_later` (a sender that does not resend, as Dataverse) 202 once this
    version is kept, else 503 (a sender that resends, as Salesforce). Storage that fails is tried again within the
    timing model's intake_store_budget before a 503, which is logged with an alert: Dataverse will not resend it."""
    timing = deps.config.timing
    waited, pause = 0.0, 0.2
    while True:
        try:
            return await _accept_record(key, request, base_url, deps, keep_later=keep_later)
        except Undecided as undecided:
            if not keep_later:
                return unavailable(f"Not enqueued: {undecided}; send it again later.", timing)
            why: str = str(undecided)  # kept below, or the guard moved: look again
        except Busy as exc:
            why = str(exc)
        except OnboardingError as exc:
            if exc.kind is not ErrorKind.TRANSIENT:
                raise
            why = exc.message
        if waited + pause > timing.intake_store_budget:
            break
        await deps.sleep(pause)
        waited, pause = waited + pause, pause * 2
    if keep_later:
        log.error("CRM record version %s not kept (%s): answered 503, which its CRM may not resend",
                  request.requestId, why, extra={"alert": NOT_KEPT_ALERT})  # fmt: skip
    return unavailable(f"The request could not be enqueued ({why}); send it again later.", timing)


async def _accept_record(
    key: str, request: CustomerRequest, base_url: str, deps: IntakeDependencies, *, keep_later: bool
) -> Answer:
    try:
        created_by = await claim_record(key, request.requestId, deps)
    except Undecided as undecided:
        if not keep_later:
            raise
        try:
            await keep_later_version(undecided.guard, request, deps)
        except RowChanged:
            raise Busy("the record is changing right now") from None
        log.info("CRM record version %s kept until %s decides", request.requestId, undecided.guard.request_id)
        return accepted(request.requestId, base_url, state="pending")
    if created_by is not None:
        log.info("CRM record already onboarded by %s: %s not enqueued", created_by, request.requestId)
        return accepted(created_by, base_url, status=200, state="created")
    await enqueue_once(request, deps)
    return accepted(request.requestId, base_url)
