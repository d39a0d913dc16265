"""The ledger over Table storage on Azurite: claims, ETag conflicts, releases, poison and replay — on a table that does
not exist yet — and no fallback when storage cannot be reached."""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable

import pytest

from devhost.stack import Stack
from handlers.adapters.ledger_table import LedgerTable
from handlers.domain.failures import ErrorKind, OnboardingError
from handlers.domain.ledger_entry import Decision
from handlers.onboarding.ledger import Ledger
from tests.integration.conftest import open_table

pytestmark = pytest.mark.integration

# A storage account whose Table endpoint has nothing listening (port 9, discard).
NOWHERE = (
    "DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;AccountKey=QUJD;"
    "TableEndpoint=http://127.0.0.1:9/devstoreaccount1;"
)
CREATED = Decision("created", "e-created", "{}")
EXHAUSTED = Decision("exhausted", "e-exhausted", "{}", retryable=True)


def ledger(stack: Stack, clock: Callable[[], float] = time.time) -> Ledger:
    table = f"ledger{secrets.token_hex(4)}"  # a fresh table each time: the ledger must create it itself
    return Ledger(LedgerTable(open_table(stack.env["AzureWebJobsStorage"], table)), clock=clock)


async def test_a_new_request_is_claimed_and_a_second_claim_backs_off(stack: Stack) -> None:
    rows = ledger(stack)
    entry = await rows.claim("r-1", "m-1", lease_seconds=60)
    assert (entry.state, entry.attempts, entry.etag is not None, entry.owner is not None) == ("received", 1, True, True)
    with pytest.raises(OnboardingError) as raised:
        await rows.claim("r-1", "m-1", lease_seconds=60)
    assert raised.value.kind is ErrorKind.TRANSIENT


async def test_writes_are_conditional_on_the_etag(stack: Stack) -> None:
    rows = ledger(stack)
    entry = await rows.claim("r-2", "m-2", lease_seconds=60)
    moved = await rows.start_create(entry, domain="x.onmicrosoft.com", checked_hash="h", company_name="Wingtip Toys AB")
    with pytest.raises(OnboardingError):
        await rows.record_customer(entry, customer_id="c-0")  # the stale etag of another delivery
    moved = await rows.record_customer(moved, customer_id="c-2", customer_json="{}")
    created = await rows.decide(moved, CREATED)
    again = await rows.claim("r-2", "m-2", lease_seconds=60)
    assert again.outcome_known and again == created
    assert (again.customer_id, again.domain, again.creating_since) == ("c-2", "x.onmicrosoft.com", moved.creating_since)


async def test_a_released_request_is_claimed_again_and_resumes(stack: Stack) -> None:
    rows = ledger(stack)
    entry = await rows.start_create(
        await rows.claim("r-3", "m-3", lease_seconds=60), domain="d", checked_hash="h", company_name="Wingtip Toys AB"
    )
    await rows.release(entry)
    resumed = await rows.claim("r-3", "m-3", lease_seconds=60)
    assert (resumed.state, resumed.attempts) == ("creating", 2)


async def test_poison_then_replay_resumes_where_it_stopped(stack: Stack) -> None:
    rows = ledger(stack)
    entry = await rows.start_create(
        await rows.claim("r-4", "m-4", lease_seconds=60), domain="d", checked_hash="h", company_name="Wingtip Toys AB"
    )
    await rows.release(entry)
    exhausted = await rows.decide(await rows.read("r-4") or entry, EXHAUSTED)
    assert (exhausted.decided, exhausted.exhausted_from) == ("exhausted", "creating")
    replayed = await rows.claim("r-4", "m-4", lease_seconds=60)
    assert (replayed.state, replayed.exhausted_from, replayed.event_json) == ("creating", None, None)


async def test_a_decided_created_row_wins_over_a_later_exhausted_write(stack: Stack) -> None:
    rows = ledger(stack)
    stale = await rows.claim("r-5", "m-5", lease_seconds=60)
    created = await rows.decide(stale, CREATED)
    assert await rows.decide(stale, EXHAUSTED) == created  # the 412 on Azurite, then the stronger row read back


async def test_an_unreachable_table_is_a_transient_error_every_time_never_a_memory() -> None:
    rows = Ledger(LedgerTable(open_table(NOWHERE, "ledger", connection_timeout=2)))
    for _ in range(2):
        with pytest.raises(OnboardingError) as raised:
            await rows.claim("r-6", "m-6", lease_seconds=60)
        assert raised.value.kind is ErrorKind.TRANSIENT


async def test_other_requests_claims_on_a_customer_are_found_by_its_id_or_domain(stack: Stack) -> None:
    rows = ledger(stack)

    def named(names: list[str]) -> bool:
        return "Wingtip Toys AB" in names

    domain = "wingtip.onmicrosoft.com"
    first = await rows.claim("r-9", "m-9", lease_seconds=60)
    assert await rows.other_claim("c-9", domain, first, is_named=named) is None  # a table with only this request's row
    first = await rows.start_create(first, domain=domain, checked_hash="h", company_name="Wingtip Toys AB")
    second = await rows.start_create(
        await rows.claim("r-10", "m-10", lease_seconds=60), domain=domain, checked_hash="h", company_name="Wingtip"
    )
    unanswered = await rows.other_claim("c-9", domain, second, is_named=named)
    assert unanswered is not None and (unanswered.request_id, unanswered.settled) == ("r-9", False)
    assert (
        await rows.other_claim("c-9", domain, first, is_named=named) is None
    )  # the later create has no claim on the earlier's
    await rows.record_customer(first, customer_id="c-9", customer_json="{}", create_unknown=False)
    settled = await rows.other_claim("c-9", domain, second, is_named=named)
    assert settled is not None and (settled.request_id, settled.settled) == ("r-9", True)
    assert await rows.other_claim("c-10", "other.onmicrosoft.com", second, is_named=named) is None


async def test_retention_deletes_only_decided_rows_older_than_the_period_from_the_table(stack: Stack) -> None:
    now = [time.time()]
    rows = ledger(stack, clock=lambda: now[0])
    old = await rows.decide(await rows.claim("r-old", "m-1", lease_seconds=60), CREATED)
    await rows.claim("r-open", "m-2", lease_seconds=60)  # undecided: kept whatever its age
    now[0] += 91 * 86400
    await rows.decide(await rows.claim("r-new", "m-3", lease_seconds=60), CREATED)
    assert await rows.purge_decided(older_than_seconds=90 * 86400, batch=1) == 1  # paging by one row
    assert await rows.read(old.request_id) is None
    assert await rows.read("r-open") is not None and await rows.read("r-new") is not None
