"""POST /api/customer-requests/validate: would this request be accepted? The request model and the whole pre-flight
(the App+User fields: reseller and MCA cloud; country rules, domain, address) through the worker's Partner Center
clients — the pipeline's own dependencies; no create, no event.

Onboarding before validation (contract rule 8): validation's calls draw on their own bounded share of the shared
budget, a few at a time per instance; above that, or when its share has no slot soon, the answer is 429 with a
Retry-After, so a flood of validations never delays a queued request by more than its share.
"""

from __future__ import annotations

import contextlib
import logging
import math
import uuid
from collections.abc import Iterator

from handlers.domain.budget import OutOfBudget
from handlers.domain.error_codes import APP_USER_NOT_SIGNED_IN_CODE, APP_USER_OFF_CODE, failure_from_error
from handlers.domain.failures import ErrorKind, OnboardingError
from handlers.domain.field_errors import FieldError
from handlers.domain.partner_center_body import domain_for
from handlers.domain.request import InvalidRequest
from handlers.intake.enqueue import read_request, unavailable
from handlers.intake.http_bodies import Answer, error, errors_answer, json_answer
from handlers.onboarding.app_user import check_app_user_request
from handlers.onboarding.dependencies import Dependencies
from handlers.onboarding.preflight import run_preflight

log = logging.getLogger("csp_onboarding")


def _verdict(errors: list[FieldError], suggested: list[dict[str, object]] | None = None) -> Answer:
    body = {"valid": not errors, "errors": [e.model_dump() for e in errors], "suggestedAddresses": suggested or []}
    return json_answer(200, body)


@contextlib.contextmanager
def _validating(deps: Dependencies) -> Iterator[None]:
    if deps.budget is None:
        yield
        return
    with deps.budget.validating():
        yield


def too_many(refused: OutOfBudget) -> Answer:
    """429 with Retry-After (whole seconds, at least 1): validation's share of the budget is taken right now."""
    retry_after = str(max(1, math.ceil(refused.retry_after or 0.0)))
    message = "Validation's share of the Partner Center budget is taken right now; try again after Retry-After."
    return errors_answer(429, [error("too_many_requests", message)], headers={"Retry-After": retry_after})


async def validate_request(body: bytes, content_type: str | None, deps: Dependencies) -> Answer:
    """200 `{"valid", "errors", "suggestedAddresses"}`; 400 for a body that is no JSON object; 429 above
    validation's share of the budget; 503 when Partner Center cannot answer (or refuses our credential) right now."""
    parsed = read_request(body, content_type)
    if isinstance(parsed, Answer):
        return parsed
    if isinstance(parsed, InvalidRequest):
        return _verdict(parsed.errors)
    ms_request_id = str(uuid.uuid4())  # no create follows: nothing to keep idempotent
    try:
        with _validating(deps):
            await check_app_user_request(parsed, deps.app_user, cloud=deps.config.cloud, ms_request_id=ms_request_id)
            await run_preflight(
                parsed,
                deps.partner_center,
                deps.rules_cache,
                domain=domain_for(parsed, deps.config.domain_suffix),
                ms_request_id=ms_request_id,
                validate_address=deps.config.validate_address,
            )
    except OutOfBudget as refused:
        log.warning("Validation refused for now: %s", refused.message, extra={"outcome": "throttled"})
        return too_many(refused)
    except OnboardingError as exc:
        # No verdict while Partner Center cannot be asked (down, our credential refused, the App+User sign-in dead);
        # App+User switched off, or not signed in yet, is one: the request would be refused, naming its field.
        settled = (APP_USER_OFF_CODE, APP_USER_NOT_SIGNED_IN_CODE)
        if exc.kind in (ErrorKind.TRANSIENT, ErrorKind.AUTH, ErrorKind.CONSENT) and exc.code not in settled:
            log.warning("Validation could not reach a verdict: %s", exc)
            return unavailable("Partner Center could not be asked right now; try again later.", deps.config.timing)
        failure = failure_from_error(exc)
        errors = failure.errors or [FieldError(field=None, code=failure.reason.value, message=failure.message)]
        return _verdict(errors, failure.suggested_addresses)
    return _verdict([])
