"""A CRM record's later version, kept while its current request was undecided (intake/records.py), is released
once that request decides: sent, as the record's new current request, if it failed; dropped if it created the record's
customer (one record, one customer). A timer sweeps the kept versions (triggers.release_pending_records), since
Dataverse, which sent the version, will not send it again."""

from __future__ import annotations

import logging
from dataclasses import replace

from handlers.domain.intake_record import IntakeRecord
from handlers.domain.ports import PendingRecords, RowChanged
from handlers.domain.request import CustomerRequest, parse_message
from handlers.intake.dependencies import IntakeDependencies
from handlers.intake.enqueue import enqueue_once
from handlers.intake.records import previous_outcome
from handlers.observability.logs import log_context

log = logging.getLogger("csp_onboarding")
SWEEP = 100  # kept versions looked at per sweep (the next sweep takes the rest)


async def release_pending(deps: IntakeDependencies, rows: PendingRecords) -> int:
    """Release every kept version whose record's current request has decided; returns how many were released (sent
    or dropped). A row that fails is logged and left for the next sweep; raises OnboardingError only when the kept
    versions cannot be listed."""
    released = 0
    for guard in await rows.pending(limit=SWEEP):
        with log_context(requestId=guard.pending_request_id):
            try:
                released += await _release(guard, deps)
            except Exception as exc:  # the next sweep tries again; this one goes on with the others
                log.warning("A kept CRM record version could not be released yet (%s)", type(exc).__name__)
    return released


async def _release(guard: IntakeRecord, deps: IntakeDependencies) -> int:
    previous = await previous_outcome(guard, deps)
    if previous == "busy":
        return 0
    cleared = replace(guard, pending_request_id=None, pending_message=None)
    if previous == "created":
        log.info("CRM record onboarded by %s: its later version %s is not sent", guard.request_id,
                 guard.pending_request_id)  # fmt: skip
        await _write(cleared, deps)
        return 1
    request = parse_message((guard.pending_message or "").encode("utf-8"))
    if not isinstance(request, CustomerRequest):  # it was a valid request when kept; a changed model would refuse it
        log.error("A kept CRM record version is no valid request any more: dropped")
        await _write(cleared, deps)
        return 1
    # Sent first, then made current: were the row's write to fail, the next sweep sends the same content again,
    # which the intake's one-message rule turns into nothing.
    await enqueue_once(request, deps)
    await _write(replace(cleared, request_id=request.requestId, updated_at=deps.clock()), deps)
    log.info("CRM record's earlier request %s failed: its later version %s is sent", guard.request_id,
             request.requestId)  # fmt: skip
    return 1


async def _write(row: IntakeRecord, deps: IntakeDependencies) -> None:
    try:
        await deps.records.replace(row)
    except RowChanged:  # a newer version arrived meanwhile: the next sweep judges the row as it now stands
        log.info("The CRM record's row changed meanwhile: released at the next sweep")
