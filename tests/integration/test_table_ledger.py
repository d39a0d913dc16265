"""The Table-storage ledger on Azurite: claims, leases, ETag conflicts — on a table that does not exist yet."""

from __future__ import annotations

import secrets

import pytest
from azure.data.tables.aio import TableClient

from devhost.stack import Stack
from handlers.adapters.ledger import InMemoryLedger
from handlers.adapters.table_ledger import TableLedger
from handlers.failures import ErrorKind, OnboardingError

pytestmark = pytest.mark.integration

# A storage account whose Table endpoint has nothing listening (port 9, discard).
NOWHERE = (
    "DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;AccountKey=QUJD;"
    "TableEndpoint=http://127.0.0.1:9/devstoreaccount1;"
)


def ledger(stack: Stack) -> TableLedger:
    table = f"ledger{secrets.token_hex(4)}"  # a fresh table each time: the ledger must create it itself
    return TableLedger(TableClient.from_connection_string(stack.env["AzureWebJobsStorage"], table_name=table))


async def test_a_new_request_is_claimed_and_a_second_claim_backs_off(stack: Stack) -> None:
    rows = ledger(stack)
    entry = await rows.claim("r-1", "m-1", lease_seconds=60)
    assert (entry.state, entry.attempts, entry.etag is not None) == ("received", 1, True)
    with pytest.raises(OnboardingError) as raised:
        await rows.claim("r-1", "m-1", lease_seconds=60)
    assert raised.value.kind is ErrorKind.TRANSIENT


async def test_writes_are_conditional_on_the_etag(stack: Stack) -> None:
    rows = ledger(stack)
    entry = await rows.claim("r-2", "m-2", lease_seconds=60)
    moved = await rows.advance(entry, "creating", domain="x.onmicrosoft.com")
    with pytest.raises(OnboardingError):
        await rows.advance(entry, "created")  # the stale etag of another delivery
    created = await rows.advance(moved, "created", customer_id="c-2", event_id="e", event_json="{}")
    again = await rows.claim("r-2", "m-2", lease_seconds=60)
    assert again.outcome_known
    assert (again.customer_id, again.domain) == (created.customer_id, "x.onmicrosoft.com")


async def test_a_released_request_is_claimed_again_and_resumes(stack: Stack) -> None:
    rows = ledger(stack)
    entry = await rows.advance(await rows.claim("r-3", "m-3", lease_seconds=60), "creating")
    await rows.release(entry)
    resumed = await rows.claim("r-3", "m-3", lease_seconds=60)
    assert (resumed.state, resumed.attempts) == ("creating", 2)


async def test_poison_then_replay_resumes_where_it_stopped(stack: Stack) -> None:
    rows = ledger(stack)
    entry = await rows.advance(await rows.claim("r-4", "m-4", lease_seconds=60), "creating")
    await rows.release(entry)
    await rows.record_exhausted("r-4", "m-4", "e-4", "{}")
    replayed = await rows.claim("r-4", "m-4", lease_seconds=60)
    assert (replayed.state, replayed.exhausted_from, replayed.event_json) == ("creating", None, None)


async def test_storage_without_a_table_service_falls_back_to_memory(caplog: pytest.LogCaptureFixture) -> None:
    client = TableClient.from_connection_string(NOWHERE, table_name="ledger", connection_timeout=2)
    rows = TableLedger(client, fallback=InMemoryLedger())
    entry = await rows.claim("r-5", "m-5", lease_seconds=60)
    await rows.advance(entry, "creating")
    with pytest.raises(OnboardingError):
        await rows.claim("r-5", "m-5", lease_seconds=60)  # still one delivery at a time, in memory
    assert "unreachable" in caplog.text


async def test_without_a_fallback_an_unreachable_table_is_a_transient_error() -> None:
    rows = TableLedger(TableClient.from_connection_string(NOWHERE, table_name="ledger", connection_timeout=2))
    with pytest.raises(OnboardingError) as raised:
        await rows.claim("r-6", "m-6", lease_seconds=60)
    assert raised.value.kind is ErrorKind.TRANSIENT


async def test_a_first_read_also_finds_the_fallback() -> None:
    rows = TableLedger(
        TableClient.from_connection_string(NOWHERE, table_name="ledger", connection_timeout=2),
        fallback=InMemoryLedger(),
    )
    assert await rows.read("r-7") is None
    await rows.record_exhausted("r-7", "m-7", "e-7", "{}")
    assert (await rows.read("r-7")).state == "failed"  # type: ignore[union-attr]
