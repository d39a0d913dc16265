"""POST /api/customer-requests/validate: would this request be accepted? The request model and the whole pre-flight
(country rules, domain, address) through the worker's Partner Center client and pacer; no create, no event."""

from __future__ import annotations

import logging
import uuid

from handlers.create import domain_for
from handlers.failures import ErrorKind, FieldError, OnboardingError, failure_from_error
from handlers.http_bodies import JSON_TYPES, Answer, check_body, errors_answer, json_answer
from handlers.intake import unavailable
from handlers.pipeline import Dependencies
from handlers.preflight import run_preflight
from handlers.request import MAX_MESSAGE_BYTES, InvalidRequest, parse_message

log = logging.getLogger("csp_onboarding")

# Errors that say the body is no request at all (answered 400, as the intake does), not that a rule is broken.
_UNREADABLE = frozenset({"too_large", "not_utf8", "not_json", "not_an_object"})


def _verdict(errors: list[FieldError], suggested: list[dict[str, object]] | None = None) -> Answer:
    body = {"valid": not errors, "errors": [e.model_dump() for e in errors], "suggestedAddresses": suggested or []}
    return json_answer(200, body)


async def validate_request(body: bytes, content_type: str | None, deps: Dependencies) -> Answer:
    """200 `{"valid", "errors", "suggestedAddresses"}`; 400 for a body that is no JSON object; 503 when Partner
    Center cannot answer (or refuses our credential) right now."""
    refusal = check_body(body, content_type, accepted=JSON_TYPES, limit=MAX_MESSAGE_BYTES)
    if refusal is not None:
        return refusal
    parsed = parse_message(body)
    if isinstance(parsed, InvalidRequest):
        if any(e.field is None and e.code in _UNREADABLE for e in parsed.errors):
            return errors_answer(400, parsed.errors)
        return _verdict(parsed.errors)
    try:
        await run_preflight(
            parsed,
            deps.partner_center,
            deps.rules_cache,
            domain=domain_for(parsed, deps.config.domain_suffix),
            ms_request_id=str(uuid.uuid4()),  # no create follows: nothing to keep idempotent
            validate_address=deps.config.validate_address,
        )
    except OnboardingError as exc:
        if exc.kind in (ErrorKind.TRANSIENT, ErrorKind.AUTH):
            log.warning("Validation could not reach a verdict: %s", exc)
            return unavailable("Partner Center could not be asked right now; try again later.")
        failure = failure_from_error(exc)
        errors = failure.errors or [FieldError(field=None, code=failure.reason.value, message=failure.message)]
        return _verdict(errors, failure.suggested_addresses)
    return _verdict([])
