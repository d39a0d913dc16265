"""The CRM routes (contract §6): a Dataverse webhook and a Salesforce outbound message, each mapped to §1
requests and handled as POST /api/customer-requests is."""

from __future__ import annotations

import asyncio
import logging
from itertools import groupby

from handlers.domain.failures import OnboardingError
from handlers.domain.field_errors import FieldError
from handlers.domain.intake_record import IntakeRecord
from handlers.domain.partner_center_body import request_hash
from handlers.domain.request import CustomerRequest
from handlers.intake.crm.dataverse import MAX_BODY_BYTES as DATAVERSE_MAX_BYTES
from handlers.intake.crm.dataverse import parse_context
from handlers.intake.crm.mapping import CrmRecord, id_part, map_record
from handlers.intake.crm.salesforce import MAX_BODY_BYTES as SALESFORCE_MAX_BYTES
from handlers.intake.crm.salesforce import Notification, ack, fault, parse_outbound
from handlers.intake.dependencies import IntakeDependencies
from handlers.intake.enqueue import Busy, enqueue_once, read_request
from handlers.intake.http_bodies import (
    JSON_TYPES,
    XML_TYPES,
    Answer,
    body_refusal,
    check_body,
    read_json_object,
)
from handlers.intake.records import claim_record

log = logging.getLogger("csp_onboarding")
SOAP = "text/xml; charset=utf-8"
_CONCURRENT_RECORDS = 8


def record_key(record: CrmRecord) -> str:
    """The intake row of a CRM record ('|' never appears in a requestId, so keys cannot collide)."""
    return f"record|{record.crm}|{id_part(record.organization)}|{id_part(record.record_id)}"


def read_body(route: str, body: bytes) -> object:
    """What a route makes of a body before anything is stored or enqueued — size and type checks, parsing, and the
    record or request it holds — for the fuzz benchmark's adversarial bodies: `message` (the queue and
    /customer-requests), `dataverse`, `salesforce`."""
    if route == "salesforce":
        return body_refusal(body, "text/xml", accepted=XML_TYPES, limit=SALESFORCE_MAX_BYTES) or parse_outbound(body)
    if route == "dataverse":
        context = check_body(body, "application/json", accepted=JSON_TYPES, limit=DATAVERSE_MAX_BYTES) or (
            read_json_object(body)
        )
        return parse_context(context) if isinstance(context, dict) else context
    return read_request(body, "application/json")


def not_allowed(setting: str) -> FieldError:
    """The refusal of a record from an organization the route does not accept (the sender may hold the function
    key, but not this organization's trust)."""
    message = f"OrganizationId is not an organization this function accepts records from ({setting})."
    return FieldError(field="OrganizationId", code="organization_not_allowed", message=message)


def _fault(message: str, *, sender: bool) -> Answer:
    """A SOAP Fault, with HTTP 500 as SOAP 1.1 over HTTP has it (WS-I Basic Profile R1126): anything but the Ack
    makes Salesforce send the message again later."""
    return Answer(500, fault(message, sender=sender), content_type=SOAP)


def _describe(errors: list[FieldError]) -> str:
    return "; ".join(e.message for e in errors)


async def _enqueue_notification(notification: Notification, request: CustomerRequest, deps: IntakeDependencies) -> None:
    """Enqueue one notification's request unless this notification id was enqueued with this content already."""
    key = f"notification|sf|{notification.notification_id}"
    content = request_hash(request, deps.config)
    seen = await deps.records.get(key)
    if seen is not None and seen.content_hash == content and seen.request_id == request.requestId:
        log.info("Salesforce notification %s delivered again: no second message", notification.notification_id)
        return
    if await claim_record(record_key(notification.record), request.requestId, deps) is None:
        await enqueue_once(request, deps)
    await deps.records.upsert(IntakeRecord(key, request.requestId, content, deps.clock()))


async def _enqueue_record(mapped: list[tuple[Notification, CustomerRequest]], deps: IntakeDependencies) -> None:
    for notification, request in mapped:  # one record's notifications in order: they share its guard
        await _enqueue_notification(notification, request, deps)


async def accept_salesforce(body: bytes, content_type: str | None, deps: IntakeDependencies) -> Answer:
    """POST /api/crm/salesforce: the SOAP Ack once every notification is enqueued (or known); a SOAP Fault
    otherwise, so Salesforce sends the message again (with the records' latest data)."""
    refusal = body_refusal(body, content_type, accepted=XML_TYPES, limit=SALESFORCE_MAX_BYTES)
    if refusal is not None:
        return _fault(refusal[1].message, sender=True)
    notifications = parse_outbound(body)
    if notifications and isinstance(notifications[0], FieldError):
        return _fault(_describe([n for n in notifications if isinstance(n, FieldError)]), sender=True)
    if any(isinstance(n, Notification) and not deps.senders.accepts("salesforce", n.record.organization)
           for n in notifications):  # fmt: skip
        log.warning("Salesforce message refused: its organization is not in SALESFORCE_ORGANIZATION_IDS")
        return _fault(not_allowed("SALESFORCE_ORGANIZATION_IDS").message, sender=True)
    unique: dict[str, Notification] = {}
    for item in notifications:  # a notification id twice in one message: the first one counts
        if isinstance(item, Notification):
            unique.setdefault(item.notification_id, item)
    mapped: list[tuple[Notification, CustomerRequest]] = []
    refused: list[FieldError] = []
    for notification in unique.values():
        request = map_record(notification.record, deps.field_map)
        if isinstance(request, list):
            text = f"Notification {notification.notification_id}: {_describe(request)}"
            refused.append(FieldError(field=None, code="unmappable", message=text))
        else:
            mapped.append((notification, request))
    by_record = [list(group) for _, group in groupby(sorted(mapped, key=lambda m: m[0].record.record_id),
                                                     key=lambda m: m[0].record.record_id)]  # fmt: skip
    limit = asyncio.Semaphore(_CONCURRENT_RECORDS)

    async def one(group: list[tuple[Notification, CustomerRequest]]) -> BaseException | None:
        async with limit:
            try:
                await _enqueue_record(group, deps)
            except (Busy, OnboardingError) as exc:
                return exc
            return None

    failures = [f for f in await asyncio.gather(*(one(g) for g in by_record)) if f is not None]
    if failures:
        log.warning("Salesforce message not acknowledged: %s", failures[0])
        return _fault(f"Not every notification could be enqueued ({failures[0]}); send again.", sender=False)
    if refused:
        return _fault(_describe(refused), sender=True)
    return Answer(200, ack(), content_type=SOAP)
