"""Backpressure, not poison (handlers/onboarding/backpressure.py): a request the shared budget cannot serve within
its invocation goes back to the queue as a delayed fresh copy, its claim freed, the invocation successful; nothing is
lost, and it stays exactly once."""

from __future__ import annotations

import time

import pytest

from handlers.domain.budget import Budget, BudgetRow, OutOfBudget
from handlers.domain.failures import OnboardingError
from handlers.onboarding.backpressure import onboard_or_defer
from handlers.onboarding.budget import SharedBudget
from handlers.onboarding.pipeline import handle_message
from tests.fakes import FakeEventSink, FakePartnerCenter, FakeQueue, dependencies, memory_ledger, message, sample
from tests.fakes.budget import FakeBudgetRows
from tests.fakes.outbound import created_ids

BODY = message(sample())


def budget_with(row: BudgetRow, per_minute: int = 60_000) -> SharedBudget:
    """A budget over `row`; by default 1 ms a call: only what the row says makes anyone wait."""
    rows = FakeBudgetRows()
    rows.row = row if row.etag else None  # a stored row has an ETag
    return SharedBudget(rows, Budget(per_minute))


def crowded() -> BudgetRow:
    """Four thousand instances leased a moment ago: this one's share serves a request in minutes, not seconds."""
    now = time.time()
    return BudgetRow(instances={f"i{n}": now for n in range(4000)}, etag="W/0")


def booked_ahead(seconds: float) -> BudgetRow:
    """The others booked the schedule `seconds` ahead."""
    return BudgetRow(tat=time.time() + seconds, etag="W/0")


async def test_a_request_the_budget_cannot_serve_in_time_goes_back_to_the_queue_without_failing() -> None:
    budget, queue, sink, ledger = budget_with(crowded()), FakeQueue(), FakeEventSink(), memory_ledger()
    await budget.acquire()  # it has seen the row: four thousand instances share the budget
    partner_center = FakePartnerCenter(budget=budget)
    deps = dependencies(partner_center, sink, ledger, budget=budget, requeue=queue)
    assert await onboard_or_defer(BODY, deps) is None  # success: the host deletes the original
    [(copy, delay)] = queue.deferred
    assert copy == BODY and delay >= 1.0
    assert partner_center.calls == [] and sink.events == []  # no call spent, no outcome yet
    entry = await ledger.read(sample()["requestId"])
    assert entry is not None and entry.owner is None  # the claim is free: the copy's delivery need not wait


async def test_a_request_whose_calls_run_out_of_time_midway_is_deferred_and_its_copy_creates_once() -> None:
    budget, queue, sink, ledger = budget_with(booked_ahead(9.0)), FakeQueue(), FakeEventSink(), memory_ledger()
    partner_center = FakePartnerCenter(budget=budget)
    deps = dependencies(partner_center, sink, ledger, budget=budget, requeue=queue)
    started = time.monotonic()
    assert await onboard_or_defer(BODY, deps) is None
    assert time.monotonic() - started < 1.0  # given up at once: the first free slot is past its deadline
    assert len(queue.deferred) == 1 and sink.events == []
    partner_center.budget = relaxed = budget_with(BudgetRow())  # later: the schedule has room
    later = dependencies(partner_center, sink, ledger, budget=relaxed, requeue=queue)
    await onboard_or_defer(queue.deferred[0][0], later)  # the copy, delivered later
    await onboard_or_defer(BODY, later)  # the original too: a crash between the copy and the success
    assert len(partner_center.created) == 1 and created_ids(sink) == {sample()["requestId"]}


async def test_without_a_queue_to_send_the_copy_to_it_is_a_transient_failure() -> None:
    budget = budget_with(crowded())
    await budget.acquire()
    deps = dependencies(FakePartnerCenter(budget=budget), budget=budget)
    with pytest.raises(OutOfBudget):
        await onboard_or_defer(BODY, deps)


async def test_a_copy_that_cannot_be_sent_fails_the_invocation_so_nothing_is_lost() -> None:
    budget, queue = budget_with(crowded()), FakeQueue()
    await budget.acquire()
    queue.down = True
    with pytest.raises(OnboardingError, match="sending to customer-requests failed"):
        await onboard_or_defer(BODY, dependencies(FakePartnerCenter(budget=budget), budget=budget, requeue=queue))


async def test_requests_sent_back_together_return_one_after_the_other_at_the_whole_budgets_pace() -> None:
    budget, queue = budget_with(crowded(), per_minute=600), FakeQueue()
    await budget.acquire()
    for n in range(3):
        data = sample()
        data["requestId"] = f"crm-se-000{n}"
        await onboard_or_defer(message(data), dependencies(budget=budget, requeue=queue))
    delays = [delay for _, delay in queue.deferred]
    share = 3 * budget.budget.interval  # a request's three calls of the whole app's schedule
    assert delays[1] - delays[0] == pytest.approx(share, abs=0.05) and delays[2] - delays[1] == pytest.approx(
        share, abs=0.05
    )
    assert budget.leases.seen is not None and budget.leases.seen.deferred_until > 0  # counted on the shared row


async def test_a_decided_request_is_published_again_without_waiting_for_the_budget() -> None:
    sink, ledger = FakeEventSink(), memory_ledger()
    await handle_message(BODY, dependencies(sink=sink, ledger=ledger))
    budget, queue = budget_with(crowded()), FakeQueue()
    await budget.acquire()
    await onboard_or_defer(BODY, dependencies(sink=sink, ledger=ledger, budget=budget, requeue=queue))
    assert queue.deferred == [] and len(sink.events) == 2  # published again, no deferral
