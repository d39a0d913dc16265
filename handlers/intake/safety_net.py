"""The answer to an HTTP invocation that raised (a defect, or storage failing where no route expected it): the host
would log the exception's text and its raw traceback, and Dataverse would read a 500 as "try once more". So each HTTP
function answers through `failure_answer` instead of raising (handlers/http_triggers.py), as the queue functions end
through triggers.run_invocation."""

from __future__ import annotations

import logging

from handlers.domain.failures import ErrorKind, OnboardingError
from handlers.intake.crm.salesforce import fault
from handlers.intake.http_bodies import Answer, error, errors_answer
from handlers.observability.logs import where_raised

log = logging.getLogger("csp_onboarding")
SOAP = "text/xml; charset=utf-8"
RETRY_AFTER_SECONDS = "30"


def failure_answer(function: str, exc: Exception, *, soap: bool = False) -> Answer:
    """Log the failure by type and place only (never its text or traceback) and answer 503 with Retry-After when it
    is transient, else 500 — a SOAP Fault for the Salesforce route, which then sends the message again."""
    transient = isinstance(exc, OnboardingError) and exc.kind is ErrorKind.TRANSIENT
    why = str(exc) if isinstance(exc, OnboardingError) else where_raised(exc)
    log.error("%s failed: %s", function, why, extra={"outcome": "error"})
    message = "Not handled right now; send it again later." if transient else "The request could not be handled."
    if soap:
        return Answer(500, fault(message, sender=False), content_type=SOAP)
    code, status = ("unavailable", 503) if transient else ("internal", 500)
    headers = {"Retry-After": RETRY_AFTER_SECONDS} if transient else {}
    return errors_answer(status, [error(code, message)], headers=headers)
