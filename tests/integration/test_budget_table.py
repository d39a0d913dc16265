"""The shared budget's row on Azurite (handlers/adapters/budget_table.py): created on first use, ETag-conditional
writes that lose races as they should, and leases racing from several clients that never overlap."""

from __future__ import annotations

import asyncio
import itertools
import secrets
import time

import pytest
from azure.data.tables.aio import TableClient

from devhost.stack import Stack
from handlers.adapters.budget_table import BudgetTable
from handlers.domain.budget import Block, Budget, BudgetRow, CallClass
from handlers.domain.ports import RowChanged, RowExists
from handlers.onboarding.budget import SharedBudget

pytestmark = pytest.mark.integration

BUDGET = Budget(60_000)  # 1 ms a call


def tables(stack: Stack, count: int) -> list[BudgetTable]:
    """`count` clients of one fresh table (as many instances would have), which none has created yet."""
    name = f"budget{secrets.token_hex(4)}"
    connection = stack.env["AzureWebJobsStorage"]
    return [BudgetTable(TableClient.from_connection_string(connection, table_name=name)) for _ in range(count)]


async def test_the_row_is_written_only_over_the_etag_it_was_read_with(stack: Stack) -> None:
    [table] = tables(stack, 1)
    try:
        assert await table.read() is None
        first = await table.insert(BudgetRow(tat=10.0, instances={"a": 1.0}))
        with pytest.raises(RowExists):
            await table.insert(BudgetRow(tat=11.0))
        moved = await table.replace(BudgetRow(tat=12.0, etag=first.etag))
        with pytest.raises(RowChanged):
            await table.replace(BudgetRow(tat=13.0, etag=first.etag))  # a stale ETag: another instance wrote
        read = await table.read()
        assert read is not None and (read.tat, read.etag) == (12.0, moved.etag)
        assert dict(read.instances) == {} and first.etag != moved.etag
    finally:
        await table.aclose()


async def lease_blocks(table: BudgetTable, who: str, count: int) -> tuple[list[Block], int]:
    """`count` leases through the real adapter, each retried on a lost race; the blocks, and the races lost."""
    blocks: list[Block] = []
    lost = 0
    while len(blocks) < count:
        row = await table.read() or BudgetRow()
        leased, block = BUDGET.lease(row, time.time(), 5, CallClass.ONBOARDING, who)
        assert isinstance(block, Block)
        try:
            await (table.insert(leased) if row.etag is None else table.replace(leased))
        except (RowChanged, RowExists):
            lost += 1
            continue
        blocks.append(block)
    return blocks, lost


async def test_leases_racing_from_several_instances_never_overlap(stack: Stack) -> None:
    clients = tables(stack, 4)
    try:
        results = await asyncio.gather(*(lease_blocks(t, f"i{n}", 10) for n, t in enumerate(clients)))
    finally:
        await asyncio.gather(*(t.aclose() for t in clients))
    blocks = sorted(itertools.chain.from_iterable(b for b, _ in results), key=lambda b: b.start)
    assert len(blocks) == 40
    assert all(a.end <= b.start + 1e-9 for a, b in itertools.pairwise(blocks))
    assert sum(lost for _, lost in results) > 0  # they did race, and the ETags settled it


async def test_instances_sharing_the_row_through_azurite_call_at_the_shared_pace(stack: Stack) -> None:
    budgets = [SharedBudget(t, BUDGET) for t in tables(stack, 2)]
    started = time.time()

    async def calls(budget: SharedBudget) -> None:
        await asyncio.gather(*(budget.acquire() for _ in range(200)))

    try:
        await asyncio.gather(*(calls(b) for b in budgets))
    finally:
        await asyncio.gather(*(b.aclose() for b in budgets))
    assert time.time() - started >= 399 * BUDGET.interval  # 400 calls at the one budget's pace, not twice it
    assert all(b.stats["calls"] == 200 for b in budgets)
    writes = sum(b.stats["writes"] for b in budgets)
    assert writes < 400 / 2  # blocks, not a write a call
