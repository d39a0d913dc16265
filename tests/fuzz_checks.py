"""What a fuzzed case must end in, shared by the property tests (tests/unit/domain/test_fuzz.py) and bench/fuzz.py:
a classified outcome (a request, an InvalidRequest, a value or an OnboardingError), never another exception, and
never a planted password in anything written: error texts, tracebacks, events, logs."""

from __future__ import annotations

import json
import logging
import traceback
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import httpx
from pydantic import BaseModel

from handlers.adapters.partner_center import PartnerCenterClient
from handlers.domain.events import failed_event
from handlers.domain.failures import Failure, OnboardingError, Reason, invalid_request_message
from handlers.domain.request import CustomerRequest, parse_message
from handlers.domain.text import first_unsafe
from tests.fakes import retry_policy
from tests.fakes.budget import FreeBudget

PLANTED = "Pl4nted-Admin-Pa55word!"  # what Partner Center's 201 carries as the new admin's password
PLANTED_NUMBER = 73519046628190447  # the same, as a number (a malformed answer)
METHODS = ("create_customer", "validate_address", "get_country_rules", "find_customer_by_domain", "domain_exists")


def _leaks(text: str) -> bool:
    return PLANTED in text or str(PLANTED_NUMBER) in text


def message_problems(body: bytes) -> list[str]:
    """What is wrong with how parse_message answered `body` (empty: answered well). A planted password may be
    anywhere in the message but must never reach an error's text (echoed ids are the request's own)."""
    try:
        result = parse_message(body)
    except Exception as exc:
        return [f"parse_message raised {type(exc).__name__}"]
    if isinstance(result, CustomerRequest):
        result.model_dump_json()  # sent on to Partner Center: must encode
        return []
    if not result.errors:
        return ["an InvalidRequest without errors"]
    errors_text = json.dumps([e.model_dump() for e in result.errors], ensure_ascii=False)
    problems = ["a planted value in an error's text"] if _leaks(errors_text) else []
    failure = Failure(Reason.INVALID_REQUEST, False, invalid_request_message(result.errors), result.errors)
    event = failed_event(
        failure,
        request_id=result.request_id,
        crm_account_id=result.crm_account_id,
        correlation_id=result.correlation_id,
        source="/fuzz",
        identity=result.request_id or result.fingerprint,  # as the poison function names it
    ).to_json()
    try:
        json.dumps(event, ensure_ascii=False).encode("utf-8")  # as the publisher encodes it
    except UnicodeEncodeError:
        problems.append("a failed event that cannot be encoded")
    if any(first_unsafe(value) for value in (event["subject"], event.get("correlationid") or "")):
        problems.append("a control character in an event attribute")
    return problems


class _Records(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.texts: list[str] = []
        self.setFormatter(logging.Formatter("%(message)s"))

    def emit(self, record: logging.LogRecord) -> None:
        self.texts.append(self.format(record))


@contextmanager
def _logged() -> Iterator[_Records]:
    logger, records = logging.getLogger("csp_onboarding"), _Records()
    level = logger.level
    logger.addHandler(records)
    logger.setLevel(logging.DEBUG)
    try:
        yield records
    finally:
        logger.removeHandler(records)
        logger.setLevel(level)


async def _no_wait(seconds: float) -> None:
    return None


class _Tokens:
    async def get_token(self) -> str:
        return "fuzz-token"


async def _call(client: PartnerCenterClient, method: str) -> Any:
    if method == "create_customer":
        return await client.create_customer({"companyProfile": {"domain": "x.onmicrosoft.com"}}, ms_request_id="r")
    if method == "validate_address":
        return await client.validate_address({"country": "SE"}, ms_request_id="r")
    if method == "get_country_rules":
        return await client.get_country_rules("SE", ms_request_id="r")
    if method == "find_customer_by_domain":
        return await client.find_customer_by_domain("x.onmicrosoft.com", ms_request_id="r")
    return await client.domain_exists("x.onmicrosoft.com", ms_request_id="r")


async def answer_problems(method: str, status: int, headers: list[tuple[bytes, bytes]], content: bytes) -> list[str]:
    """What is wrong with how the Partner Center client answered this response to `method` (empty: well)."""
    transport = httpx.MockTransport(lambda request: httpx.Response(status, headers=headers, content=content))
    client = PartnerCenterClient(
        httpx.AsyncClient(transport=transport),
        _Tokens(),
        base_url="https://pc.fuzz",
        budget=FreeBudget(),
        retry_policy=retry_policy(max_attempts=2, sleep=_no_wait),
    )
    with _logged() as records:
        try:
            result = await _call(client, method)
            written = repr(result) + (result.model_dump_json() if isinstance(result, BaseModel) else "")
        except OnboardingError as error:
            written = f"{error} {error!r} " + "".join(traceback.format_exception(error))
        except Exception as exc:
            return [f"{method} raised {type(exc).__name__} on HTTP {status}"]
    return [f"a planted password written by {method}"] if _leaks(written + "\n".join(records.texts)) else []
