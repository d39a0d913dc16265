"""Exactly once against storage and retry faults (issue 13, scenarios 3 and 6): a failed first contact with Table
storage, pacer waits and the retry budget, and Retry-After values no client should believe whole."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
from azure.core.exceptions import (
    AzureError,
    HttpResponseError,
    ResourceModifiedError,
    ResourceNotFoundError,
    ServiceRequestError,
    ServiceResponseError,
)

from handlers.adapters.ledger_table import LedgerTable
from handlers.adapters.partner_center import PartnerCenterClient
from handlers.adapters.retry import retry_after_seconds
from handlers.bootstrap import build_ledger
from handlers.domain.failures import ErrorKind, OnboardingError
from handlers.domain.ledger_entry import LedgerEntry
from handlers.domain.ports import RowChanged, WriteUnknown
from handlers.domain.timing import load_timing
from handlers.settings import Settings
from tests.fakes import retry_policy
from tests.fakes.budget import FreeBudget

ROOT = Path(__file__).resolve().parents[3]


# 3. One failed first contact with storage decides nothing.


class FlakyTable:
    """A TableClient whose first contact fails as a DNS blip does; later calls reach the service."""

    def __init__(self) -> None:
        self.creates = 0

    async def create_table(self) -> None:
        self.creates += 1
        if self.creates == 1:
            raise ServiceRequestError("Name or service not known")

    async def get_entity(self, partition: str, row: str) -> None:
        raise ResourceNotFoundError("not found")


async def test_3_a_failed_first_contact_with_storage_is_transient_and_storage_is_used_after_it() -> None:
    table = FlakyTable()
    rows = LedgerTable(table)  # type: ignore[arg-type]
    with pytest.raises(OnboardingError) as raised:
        await rows.read("r-1")
    assert raised.value.kind is ErrorKind.TRANSIENT
    assert await rows.read("r-1") is None  # the table, not a memory of this worker
    assert table.creates == 2


def http_error(status: int) -> HttpResponseError:
    error = HttpResponseError(message="the service said no; row payload: Wingtip secret-ish")
    error.status_code = status
    return error


class RefusingTable:
    """A TableClient that exists and answers every write with `error`."""

    def __init__(self, error: AzureError) -> None:
        self.error = error

    async def create_table(self) -> None:
        return None

    async def update_entity(self, *args: object, **kwargs: object) -> None:
        raise self.error

    create_entity = update_entity


@pytest.mark.parametrize(
    ("error", "expected"),
    [
        (ServiceResponseError("connection reset after the request was sent"), WriteUnknown),
        (ServiceRequestError("connection closed"), WriteUnknown),  # aiohttp reports a late close this way too
        (ResourceModifiedError("etag"), RowChanged),
        (http_error(412), RowChanged),
        (http_error(503), OnboardingError),
        (http_error(403), OnboardingError),
    ],
)
async def test_every_azure_core_error_of_a_write_is_classified_in_one_place(
    error: AzureError, expected: type[Exception]
) -> None:
    rows = LedgerTable(RefusingTable(error))  # type: ignore[arg-type]
    with pytest.raises(expected) as raised:
        await rows.replace(LedgerEntry("r-1", "m-1", etag="1"))
    if isinstance(raised.value, OnboardingError):
        assert raised.value.kind is ErrorKind.TRANSIENT
        assert raised.value.message == f"storage update failed (HTTP {error.status_code})"  # type: ignore[attr-defined]


def test_3_without_storage_for_the_ledger_nothing_runs() -> None:
    settings = Settings(
        PARTNER_CENTER_TENANT_ID="t", PARTNER_CENTER_CLIENT_ID="c", PARTNER_CENTER_CLIENT_SECRET="s",
        EVENTS_TOPIC_ENDPOINT="https://topic.test/api/events",
    )  # fmt: skip
    with pytest.raises(RuntimeError, match="No storage for the ledger"):
        build_ledger(settings)


# 6. Retry arithmetic and Retry-After.


@pytest.mark.parametrize(
    ("header", "expected"),
    [("7", 7.0), ("86400", 60.0), ("inf", 60.0), ("Fri, 31 Dec 9999 23:59:59 GMT", 60.0), ("-5", 0.0),
     ("soon", None), ("nan", None), ("", None), (None, None)],
)  # fmt: skip
def test_6_retry_after_is_parsed_once_and_bounded(header: str | None, expected: float | None) -> None:
    assert retry_after_seconds(header, cap=60.0) == expected


async def test_6_waiting_for_budget_slots_does_not_eat_the_retry_budget() -> None:
    answers = [httpx.Response(503, json={"code": 800003}), httpx.Response(503, json={"code": 800003})]

    def handler(request: httpx.Request) -> httpx.Response:
        return answers.pop(0) if answers else httpx.Response(404)

    http = httpx.AsyncClient(transport=httpx.MockTransport(handler))
    client = PartnerCenterClient(
        http, StaticTokens(), base_url="https://pc.test", budget=FreeBudget(wait=0.3),
        retry_policy=retry_policy(budget_seconds=0.5, initial_backoff=0.01, max_backoff=0.01),
    )  # fmt: skip
    assert await client.domain_exists("x.onmicrosoft.com", ms_request_id="m") is False  # third attempt: 0.9 s of waits


async def test_6_a_huge_retry_after_holds_the_worker_no_longer_than_the_cap() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(429, json={"statusCode": 429}, headers={"Retry-After": "86400"})

    budget = FreeBudget()
    http = httpx.AsyncClient(transport=httpx.MockTransport(handler))
    policy = retry_policy(max_attempts=1, max_retry_after=load_timing(ROOT / "host.json", env={}).max_retry_after)
    client = PartnerCenterClient(http, StaticTokens(), base_url="https://pc.test", budget=budget, retry_policy=policy)
    with pytest.raises(OnboardingError) as raised:
        await client.domain_exists("x.onmicrosoft.com", ms_request_id="m")
    assert raised.value.retry_after == 60.0
    assert budget.throttles == [60.0]  # the budget holds every caller no longer than the cap


class StaticTokens:
    async def get_token(self) -> str:
        return "token"
