"""HTTP intake (contract §6): a request is checked by the request model and enqueued on the requests queue, once.

Idempotent by requestId: the intake remembers (outside the ledger, in its own table) the content it enqueued for
each requestId; the same requestId with the same content gets no second message, changed content does. Two
exceptions: a request the ledger holds as failed-but-retryable (or exhausted) is enqueued again, since a resend is
the documented way to retry it, and so is one the ledger never saw an hour after it was sent. Identical requests
racing each other: the first takes the row (a conditional write, marked `sending`) and sends; the others wait for
it (briefly) and send nothing. A sender that fails frees the row, so nothing is lost: a waiting caller, or the
CRM's resend, sends it; a row left `sending` by a sender that died is taken over after a while (the timing model's
`intake_takeover_after`). Were a
second message to go out after all, the ledger makes it harmless (one customer, one outcome).

CRM records (Dataverse, Salesforce) also pass `claim_record`: one CRM record leads to at most one customer, even
though each edit of it is a new requestId.
"""

from __future__ import annotations

import contextlib
import logging
from dataclasses import replace
from urllib.parse import quote

from handlers.domain.failures import OnboardingError
from handlers.domain.intake_record import IntakeRecord
from handlers.domain.partner_center_body import request_hash
from handlers.domain.ports import RowChanged, RowExists
from handlers.domain.request import MAX_MESSAGE_BYTES, CustomerRequest, InvalidRequest, parse_message
from handlers.domain.timing import TimingModel
from handlers.intake.dependencies import IntakeDependencies
from handlers.intake.http_bodies import (
    JSON_TYPES,
    Answer,
    check_body,
    error,
    errors_answer,
    json_answer,
    read_json_object,
)

log = logging.getLogger("csp_onboarding")


class Busy(Exception):
    """Not now: an earlier version of the same CRM record is still being onboarded, or another call is enqueueing
    this very request; try again later."""


def unavailable(message: str, timing: TimingModel) -> Answer:
    """503 with Retry-After: a CRM sends the same request again later."""
    retry_after = str(round(timing.intake_retry_after))
    return errors_answer(503, [error("unavailable", message)], headers={"Retry-After": retry_after})


def status_url(base_url: str, request_id: str) -> str:
    """Where the request's state can be read (GET, with a function key)."""
    return f"{base_url}/customer-requests/{quote(request_id, safe='')}"


def accepted(request_id: str, base_url: str, *, status: int = 202, **extra: str) -> Answer:
    """`{"requestId", "statusUrl"}`."""
    return json_answer(status, {"requestId": request_id, "statusUrl": status_url(base_url, request_id), **extra})


def request_message(request: CustomerRequest) -> bytes:
    """The queue message for a validated request: its §1 JSON, unset fields left out."""
    return request.model_dump_json(exclude_none=True).encode("utf-8")


async def _worth_a_message(
    record: IntakeRecord | None, content: str, request_id: str, deps: IntakeDependencies
) -> bool:
    if record is None or record.content_hash != content:
        return True
    entry = await deps.ledger.read(request_id)
    if entry is None:  # never picked up this long after it was sent (the message expired), or its row was purged
        return deps.clock() - record.updated_at > deps.config.timing.intake_lost_after
    return entry.decided == "exhausted" or (entry.decided == "failed" and bool(entry.retryable))


async def enqueue_once(request: CustomerRequest, deps: IntakeDependencies) -> bool:
    """Enqueue the request unless the same content was enqueued for its requestId already (or is being enqueued by
    another caller right now); True when a message went out. Raises OnboardingError(TRANSIENT) when storage or the
    queue fails, Busy when another caller's send of it does not finish in time."""
    content, request_id = request_hash(request, deps.config), request.requestId
    timing = deps.config.timing
    for _ in range(max(1, round(timing.intake_wait / timing.intake_poll))):
        record = await deps.records.get(request_id)
        if record is not None and record.sending:  # another caller took the row to send
            if record.content_hash == content and record.being_sent(deps.clock(), timing.intake_takeover_after):
                await deps.sleep(timing.intake_poll)  # this very content, right now: wait for it
                continue
            # other content, or a caller that died before sending: take the row over
        elif not await _worth_a_message(record, content, request_id, deps):
            log.info("Request %s received again, unchanged: no second message", request_id)
            return False
        mine = IntakeRecord(request_id, request_id, content, deps.clock(), etag=record.etag if record else None,
                            sending=True)  # fmt: skip
        try:
            mine = await (deps.records.replace(mine) if record is not None else deps.records.insert(mine))
        except (RowExists, RowChanged):
            continue  # another caller moved first: see what it did
        await _send(request, mine, deps)
        return True
    raise Busy(f"request {request_id} is being enqueued by another call right now")


async def _send(request: CustomerRequest, mine: IntakeRecord, deps: IntakeDependencies) -> None:
    """Send the message for the row this caller took, then mark it sent; on failure free the row (so the CRM's
    resend, or a caller waiting on this one, sends it) and raise."""
    try:
        await deps.queue.send(request_message(request))
    except BaseException:
        with contextlib.suppress(OnboardingError, RowChanged):
            await deps.records.replace(replace(mine, content_hash=None, sending=False))
        raise
    try:
        await deps.records.replace(replace(mine, sending=False, updated_at=deps.clock()))
    except (OnboardingError, RowChanged) as exc:  # sent: a waiting caller takes the row over later
        log.warning("Request %s enqueued, but its intake row was not marked sent (%s)", request.requestId, exc)
    log.info("Request %s enqueued", request.requestId)


def read_request(body: bytes, content_type: str | None) -> CustomerRequest | InvalidRequest | Answer:
    """A §1 request from an HTTP body: the refusal of a body that is too large, of another type, or no JSON object
    (read here first, so no input can make the model's parser raise), else what parse_message makes of it."""
    refusal = check_body(body, content_type, accepted=JSON_TYPES, limit=MAX_MESSAGE_BYTES)
    if refusal is not None:
        return refusal
    unreadable = read_json_object(body)
    if isinstance(unreadable, list):
        return errors_answer(400, unreadable)
    return parse_message(body)


async def accept_request(body: bytes, content_type: str | None, base_url: str, deps: IntakeDependencies) -> Answer:
    """POST /api/customer-requests: 400 with every field error (nothing enqueued), else 202 once enqueued."""
    parsed = read_request(body, content_type)
    if isinstance(parsed, Answer):
        return parsed
    if isinstance(parsed, InvalidRequest):
        return errors_answer(400, parsed.errors)
    try:
        await enqueue_once(parsed, deps)
    except Busy as exc:
        return unavailable(f"Not enqueued: {exc}; send it again later.", deps.config.timing)
    except OnboardingError as exc:
        return unavailable(
            f"The request could not be enqueued ({exc.message}); send it again later.", deps.config.timing
        )
    return accepted(parsed.requestId, base_url)
