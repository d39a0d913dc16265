"""Retention's Table queries on Azurite (issue 21, finding 8): undecided ledger rows by `updated_at` and state, intake
rows by `updated_at`, in pages from a key on; deletes conditional on the ETag; a table not created yet holds
nothing to delete."""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable

import pytest
from azure.data.tables.aio import TableClient

from devhost.stack import Stack
from handlers.adapters.intake_table import IntakeTable
from handlers.adapters.ledger_table import LedgerTable
from handlers.domain.intake_record import IntakeRecord
from handlers.domain.ledger_entry import Decision
from handlers.onboarding.ledger import Ledger
from handlers.onboarding.retention import purge_intake, purge_undecided
from tests.integration.conftest import open_table

pytestmark = pytest.mark.integration

DAY = 86400.0
CREATED = Decision("created", "e-created", "{}")


def client(stack: Stack) -> TableClient:
    return open_table(stack.env["AzureWebJobsStorage"], f"t{secrets.token_hex(4)}")


def ledger(stack: Stack, clock: Callable[[], float]) -> Ledger:
    return Ledger(LedgerTable(client(stack)), clock=clock)


async def left(rows: Ledger, request_id: str, *, creating: bool = False) -> None:
    """Claim the request (and start its create), then end the delivery undecided."""
    entry = await rows.claim(request_id, f"m-{request_id}", lease_seconds=60)
    if creating:
        entry = await rows.start_create(entry, domain="w.onmicrosoft.com", checked_hash="h", company_name="W")
    await rows.release(entry)


async def test_undecided_rows_are_found_by_age_and_state_in_pages(stack: Stack) -> None:
    now = [time.time()]
    rows = ledger(stack, lambda: now[0])
    for request_id in ("r-a", "r-c", "r-e"):
        await left(rows, request_id)
    await left(rows, "r-b", creating=True)
    await rows.decide(await rows.claim("r-d", "m-d", lease_seconds=60), CREATED)  # decided: not undecided
    now[0] += 31 * DAY
    await left(rows, "r-f")  # written just now
    table = rows.rows
    assert isinstance(table, LedgerTable)
    cutoff = now[0] - 30 * DAY
    first = await table.undecided_before(cutoff, after="", limit=2)
    second = await table.undecided_before(cutoff, after=first[-1].request_id, limit=2)
    assert [e.request_id for e in first + second] == ["r-a", "r-b", "r-c", "r-e"]
    assert [e.state for e in first] == ["received", "creating"] and all(e.etag for e in first)


async def test_an_undecided_row_is_alerted_on_then_deleted_and_a_row_written_meanwhile_kept(stack: Stack) -> None:
    now = [time.time()]
    rows = ledger(stack, lambda: now[0])
    await left(rows, "r-1")
    await left(rows, "r-2")
    now[0] += 31 * DAY
    assert await purge_undecided(rows, retention_days=30) == (2, 0)
    alerted = await rows.read("r-1")
    assert alerted is not None and alerted.expiry_alerted and alerted.expiry_alerted_at == now[0]  # on the table
    now[0] += 8 * DAY
    stale = await rows.rows.undecided_before(now[0] - 30 * DAY, after="", limit=10)
    await left(rows, "r-2")  # a replay claims r-2 after the query read it, and leaves it again
    assert [await rows.rows.purge(e.request_id, e.etag or "") for e in stale] == [True, False]  # the ETag decides
    assert await rows.read("r-1") is None and await rows.read("r-2") is not None


async def test_intake_rows_are_found_by_age_in_pages_and_deleted_only_unchanged(stack: Stack) -> None:
    table = IntakeTable(client(stack))
    now = time.time()
    for key, written in (("k-1", now - 100 * DAY), ("k-2", now - 100 * DAY), ("k-3", now), ("k-4", now - 91 * DAY)):
        await table.insert(IntakeRecord(key, f"r-{key}", "hash", written))
    cutoff = now - 90 * DAY
    first = await table.written_before(cutoff, after="", limit=2)
    rest = await table.written_before(cutoff, after=first[-1].key, limit=2)
    assert [r.key for r in first + rest] == ["k-1", "k-2", "k-4"]
    assert (first[0].request_id, first[0].content_hash, first[0].updated_at) == ("r-k-1", "hash", now - 100 * DAY)
    await table.replace(IntakeRecord("k-2", "r-k-2", "other", now, etag=first[1].etag))  # written meanwhile
    assert [await table.delete(r) for r in (*first, *rest)] == [True, False, True]
    assert [r.key for r in await table.written_before(now + 1, after="", limit=10)] == ["k-2", "k-3"]


async def test_intake_retention_keeps_the_rows_whose_request_the_ledger_holds(stack: Stack) -> None:
    now = [time.time()]
    rows = ledger(stack, lambda: now[0])
    table = IntakeTable(client(stack))
    await left(rows, "r-held")
    for key, request_id in (("record|dataverse|o|a", "r-held"), ("r-held", "r-held"), ("r-gone", "r-gone")):
        await table.insert(IntakeRecord(key, request_id, None, now[0] - 100 * DAY))
    assert await purge_intake(table, rows, retention_days=90, takeover_after=30.0) == 1
    assert [r.key for r in await table.written_before(now[0], after="", limit=10)] == ["r-held", "record|dataverse|o|a"]


async def test_tables_not_created_yet_hold_nothing_to_delete(stack: Stack) -> None:
    assert await LedgerTable(client(stack)).undecided_before(time.time(), after="", limit=10) == []
    assert await IntakeTable(client(stack)).written_before(time.time(), after="", limit=10) == []
