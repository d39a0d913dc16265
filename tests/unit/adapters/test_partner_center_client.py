"""PartnerCenterClient over httpx.MockTransport: headers, retries, and error classification."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable

import httpx
import pytest

from handlers.adapters.partner_center import PartnerCenterClient
from handlers.domain.failures import ErrorKind, OnboardingError
from tests.fakes import retry_policy
from tests.fakes.budget import FreeBudget

CUSTOMER_ID = "5b1e1a4c-0000-4000-8000-0000000000c1"
CUSTOMER = {
    "id": CUSTOMER_ID,
    "commerceId": "m-1",
    "companyProfile": {"tenantId": CUSTOMER_ID, "domain": "x.onmicrosoft.com"},
}
BODY = {"companyProfile": {"domain": "x.onmicrosoft.com"}}


class StaticTokens:
    async def get_token(self) -> str:
        return "token-abc"


async def no_wait(seconds: float) -> None:
    return None


def client(
    handler: Callable[[httpx.Request], httpx.Response],
    *,
    max_attempts: int = 5,
    sleep: Callable[[float], Awaitable[None]] = no_wait,
) -> PartnerCenterClient:
    http = httpx.AsyncClient(transport=httpx.MockTransport(handler))
    retry = retry_policy(max_attempts=max_attempts, sleep=sleep)
    return PartnerCenterClient(
        http, StaticTokens(), base_url="https://pc.test/", budget=FreeBudget(), retry_policy=retry
    )


def scripted(
    *responses: httpx.Response | Exception,
) -> tuple[Callable[[httpx.Request], httpx.Response], list[httpx.Request]]:
    seen: list[httpx.Request] = []
    queue = list(responses)

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        answer = queue.pop(0) if len(queue) > 1 else queue[0]
        if isinstance(answer, Exception):
            raise answer
        return answer

    return handler, seen


async def test_create_sends_the_documented_headers() -> None:
    handler, seen = scripted(httpx.Response(201, json=CUSTOMER))
    customer = await client(handler).create_customer(BODY, ms_request_id="rid-1")
    assert customer.id == CUSTOMER_ID
    [request] = seen
    assert request.method == "POST" and str(request.url) == "https://pc.test/v1/customers"
    assert request.headers["Authorization"] == "Bearer token-abc"
    assert request.headers["MS-RequestId"] == "rid-1"
    assert len(request.headers["MS-CorrelationId"]) == 36
    assert request.headers["Accept"] == "application/json"
    assert json.loads(request.content) == BODY


async def test_a_200_is_accepted_like_201() -> None:
    handler, _ = scripted(httpx.Response(200, json=CUSTOMER))
    assert (await client(handler).create_customer(BODY, ms_request_id="r")).commerceId == "m-1"


@pytest.mark.parametrize(
    "first",
    [
        httpx.Response(429, json={"statusCode": 429, "message": "Rate limit"}, headers={"Retry-After": "0"}),
        httpx.Response(503, json={"code": 800003, "description": "down"}),
        httpx.Response(500, text="<html>oops</html>"),
        httpx.Response(408),
        httpx.ReadTimeout("slow"),
        httpx.ConnectError("refused"),
        httpx.RemoteProtocolError("peer closed connection"),
    ],
    ids=["429", "503", "500-html", "408", "timeout", "connect", "dropped"],
)
async def test_transient_failures_are_retried_with_the_same_request_id(first: httpx.Response | Exception) -> None:
    handler, seen = scripted(first, httpx.Response(201, json=CUSTOMER))
    customer = await client(handler).create_customer(BODY, ms_request_id="rid-7")
    assert customer.id == CUSTOMER_ID
    assert [r.headers["MS-RequestId"] for r in seen] == ["rid-7", "rid-7"]
    assert seen[0].headers["MS-CorrelationId"] != seen[1].headers["MS-CorrelationId"]


async def test_retry_after_is_honoured() -> None:
    handler, _ = scripted(
        httpx.Response(429, json={"statusCode": 429, "message": "slow down"}, headers={"Retry-After": "7"}),
        httpx.Response(201, json=CUSTOMER),
    )
    waits: list[float] = []

    async def record(seconds: float) -> None:
        waits.append(seconds)

    await client(handler, sleep=record).create_customer(BODY, ms_request_id="r")
    assert waits[0] == 7.0  # tenacity waits Retry-After; the shared budget holds every caller
    assert all(w <= 7.0 for w in waits)


async def test_retries_are_bounded() -> None:
    handler, seen = scripted(httpx.Response(503, json={"code": 800003}))
    with pytest.raises(OnboardingError) as raised:
        await client(handler, max_attempts=3).create_customer(BODY, ms_request_id="r")
    assert raised.value.kind is ErrorKind.TRANSIENT and raised.value.http_status == 503
    assert len(seen) == 3


@pytest.mark.parametrize(
    ("status", "body", "kind", "code"),
    [
        (
            400,
            {"code": 600050, "description": "bad number", "errorName": "InvalidRegistrationNumber"},
            "business",
            "600050",
        ),
        (400, {"code": "27002", "message": "field invalid"}, "business", "27002"),
        (400, {"errorCode": 27100, "message": "domain taken"}, "business", "27100"),
        (401, {"code": 800001, "description": "token missing"}, "auth", "800001"),
        (401, {}, "auth", None),
        (403, {"code": 900329, "description": "app-only not allowed"}, "auth", "900329"),
        (403, {"code": 600006, "description": "not allowed"}, "auth", "600006"),
        (403, {"code": 2030, "description": "not onboarded in country"}, "business", "2030"),
        (404, {"code": 800015, "description": "reseller not found"}, "business", "800015"),
    ],
)
async def test_refusals_are_classified_once(status: int, body: dict[str, object], kind: str, code: str | None) -> None:
    handler, seen = scripted(httpx.Response(status, json=body))
    with pytest.raises(OnboardingError) as raised:
        await client(handler).create_customer(BODY, ms_request_id="r")
    assert raised.value.kind.value == kind
    assert raised.value.code == code
    assert raised.value.http_status == status
    assert len(seen) == 1  # not retried


async def test_error_bodies_that_are_not_json_are_survived() -> None:
    handler, _ = scripted(httpx.Response(400, content=b"\xff\xfe not json"))
    with pytest.raises(OnboardingError) as raised:
        await client(handler).create_customer(BODY, ms_request_id="r")
    assert raised.value.kind is ErrorKind.BUSINESS and raised.value.code is None


@pytest.mark.parametrize(("status", "taken"), [(200, True), (404, False)])
async def test_domain_check(status: int, taken: bool) -> None:
    handler, seen = scripted(httpx.Response(status))
    assert await client(handler).domain_exists("x.onmicrosoft.com", ms_request_id="r") is taken
    assert seen[0].method == "HEAD" and seen[0].url.path == "/v1/domains/x.onmicrosoft.com"


async def test_the_error_text_never_carries_the_token() -> None:
    handler, _ = scripted(httpx.Response(401, json={"code": 800001, "description": "bad"}))
    with pytest.raises(OnboardingError) as raised:
        await client(handler).create_customer(BODY, ms_request_id="r")
    assert "token-abc" not in str(raised.value) and "token-abc" not in repr(raised.value)


@pytest.mark.parametrize("status", [404, 405, 501])
async def test_an_address_validation_that_does_not_exist_reads_as_not_validated(status: int) -> None:
    handler, _ = scripted(httpx.Response(status, text="no such route"))
    result = await client(handler).validate_address({"country": "SE"}, ms_request_id="r")
    assert result.status == "NotValidated"
    assert str(status) in (result.validationMessage or "")


@pytest.mark.parametrize("status", [405, 501])
async def test_a_domain_check_that_cannot_be_made_reads_as_free(status: int) -> None:
    handler, _ = scripted(httpx.Response(status))
    assert await client(handler).domain_exists("x.onmicrosoft.com", ms_request_id="r") is False
