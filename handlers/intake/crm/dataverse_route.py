"""POST /api/crm/dataverse, met as Dataverse behaves (contract §6; Microsoft's "Use webhooks" page): Dataverse reads
nothing but the status code, retries a 502/503/504 once, then marks its system job failed. So every well-formed
account record it sent is kept once it is answered 2xx — a later version of a record still being onboarded too
(intake/records.py, intake/pending.py); a context that cannot carry a record id (a step registered before the record
exists) is refused with a 400 and an alert; and a record refused as unmappable is also published as a `failed`
event, since nobody reads the 400's body."""

from __future__ import annotations

import logging
from collections.abc import Mapping

from handlers.domain.failures import Failure, Reason, invalid_request_message
from handlers.domain.field_errors import FieldError
from handlers.intake.crm.dataverse import MAX_BODY_BYTES, MISREGISTERED, parse_context
from handlers.intake.crm.mapping import CrmRecord, map_record, request_id_of
from handlers.intake.crm.routes import not_allowed, record_key
from handlers.intake.dependencies import IntakeDependencies
from handlers.intake.enqueue import unavailable
from handlers.intake.http_bodies import JSON_TYPES, Answer, check_body, errors_answer, read_json_object
from handlers.intake.records import NOT_KEPT_ALERT, accept_record
from handlers.onboarding.outcomes import Ids, failed_decision, publish_decision

log = logging.getLogger("csp_onboarding")
MISREGISTERED_ALERT = "dataverse_step_misregistered"  # the `alert` dimension the Azure Monitor alert filters on


async def accept_dataverse(body: bytes, headers: Mapping[str, str], base_url: str, deps: IntakeDependencies) -> Answer:
    """202 once the account's version is enqueued or kept (200 when the record's customer exists already); 400 with
    errors naming the context's fields or the account's columns; 403 for an organization the route does not accept;
    503 only when storage failed throughout the request's retries (alerted: Dataverse resends it once at most)."""
    refusal = check_body(body, headers.get("content-type"), accepted=JSON_TYPES, limit=MAX_BODY_BYTES)
    if refusal is not None:
        return refusal
    context = read_json_object(body)
    if isinstance(context, list):
        return errors_answer(400, context)
    organization = context.get("OrganizationId")
    if not isinstance(organization, str) or not deps.senders.accepts("dataverse", organization):
        log.warning("Dataverse record refused: its organization is not in DATAVERSE_ORGANIZATION_IDS")
        return errors_answer(403, [not_allowed("DATAVERSE_ORGANIZATION_IDS")])
    record = parse_context(context, size_exceeded="x-ms-dynamics-msg-size-exceeded" in headers)
    if isinstance(record, list):
        if any(e.code == MISREGISTERED for e in record):
            log.error("Dataverse step registered where the record has no id: %s", record[0].message,
                      extra={"alert": MISREGISTERED_ALERT})  # fmt: skip
        return errors_answer(400, record)
    request = map_record(record, deps.field_map)
    if isinstance(request, list):
        return await _refuse_unmappable(record, request, deps)
    return await accept_record(record_key(record), request, base_url, deps, keep_later=True)


async def _refuse_unmappable(record: CrmRecord, errors: list[FieldError], deps: IntakeDependencies) -> Answer:
    """400 naming the account's columns, and the same refusal as a `failed` event (invalid_request, crmAccountId the
    record id), which is what a Dataverse integration reads; 503 when the event cannot be published (Dataverse then
    sends the record once more)."""
    if deps.publisher is not None:
        request_id = request_id_of(record, deps.field_map)
        failure = Failure(Reason.INVALID_REQUEST, False, invalid_request_message(errors), errors)
        ids = Ids(request_id, record.record_id, record.correlation_id, request_id)
        try:
            await publish_decision(failed_decision(failure, ids, deps.publisher.source), deps.publisher.events)
        except Exception as exc:
            log.error("The refusal of Dataverse record %s could not be published (%s): answered 503", request_id,
                      type(exc).__name__, extra={"alert": NOT_KEPT_ALERT})  # fmt: skip
            return unavailable("The refusal could not be published; send it again later.", deps.config.timing)
    return errors_answer(400, errors)
