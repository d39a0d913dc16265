"""The shared budget of a worker (handlers/onboarding/budget.py, leases.py, pacer.py) over a row in memory, in
virtual time: instances sharing one row never call closer than the whole budget allows, a lone one writes once a
block, a recorded Retry-After holds the others, a dead instance's block ends with its window, and an instance whose
row cannot be reached keeps calling at its conservative share."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import math

import pytest

from handlers.domain.budget import (
    BRIEF_HOLD,
    VALIDATION_CONCURRENCY,
    Budget,
    BudgetRow,
    CallClass,
    OutOfBudget,
)
from handlers.onboarding.budget import SharedBudget, calls_as
from tests.fakes.budget import FakeBudgetRows, VirtualTime

BUDGET = Budget(600)  # INTERVAL ≈ 0.102 s, 9 calls a block
INTERVAL = BUDGET.interval


def shared(rows: FakeBudgetRows, time: VirtualTime, name: str = "a") -> SharedBudget:
    return SharedBudget(rows, BUDGET, clock=time, sleep=time.sleep, instance=name)


async def calls(budget: SharedBudget, time: VirtualTime, n: int, call_class: CallClass = CallClass.ONBOARDING) -> list[
    float
]:  # fmt: skip
    """`n` concurrent calls through `budget`; the times they went out."""
    starts: list[float] = []

    async def one() -> None:
        with calls_as(call_class):
            await budget.acquire()
        starts.append(time.now)

    await asyncio.gather(*(one() for _ in range(n)))
    return sorted(starts)


def gaps(starts: list[float]) -> list[float]:
    return [b - a for a, b in itertools.pairwise(sorted(starts))]


async def test_a_lone_instance_calls_at_the_budgets_pace_and_writes_the_row_once_a_block() -> None:
    time, rows = VirtualTime(), FakeBudgetRows()
    budget = shared(rows, time)
    starts = await time.run(calls(budget, time, 45))
    assert min(gaps(starts)) == pytest.approx(INTERVAL)
    assert starts[-1] - starts[0] == pytest.approx(44 * INTERVAL)  # no gap between blocks
    assert rows.writes == math.ceil(45 / BUDGET.max_block) and rows.reads == 1  # one read ever, one write a block
    assert budget.stats["calls"] == 45


async def test_instances_sharing_the_row_never_call_closer_than_the_whole_budget_allows() -> None:
    time, rows = VirtualTime(), FakeBudgetRows()
    instances = [shared(rows, time, name) for name in "abc"]
    results = await time.run(asyncio.gather(*(calls(b, time, 30) for b in instances)))
    everyone = sorted(itertools.chain.from_iterable(results))
    assert min(gaps(everyone)) >= INTERVAL - 1e-9
    assert everyone[-1] - everyone[0] <= 90 * INTERVAL + 3 * INTERVAL  # and the schedule is used, not left idle
    assert sum(b.stats["conflicts"] for b in instances) > 0  # they did race for the row


async def test_a_recorded_retry_after_holds_every_instance() -> None:
    time, rows = VirtualTime(), FakeBudgetRows()
    refused, other = shared(rows, time, "refused"), shared(rows, time, "other")
    await time.run(calls(refused, time, 1))
    refused.throttled(retry_after=8.0)  # Partner Center answered that call 429
    await time.run(time.sleep(0.01))
    assert rows.row is not None and rows.row.held_until == pytest.approx(time.now + BRIEF_HOLD * 8.0, abs=0.05)
    [start] = await time.run(calls(other, time, 1))
    assert start >= rows.row.held_until  # the other instance never saw the 429, yet holds off


async def test_a_dead_instances_block_ends_with_its_window() -> None:
    time, rows = VirtualTime(), FakeBudgetRows()
    dying = shared(rows, time, "dying")
    waiting = [asyncio.ensure_future(calls(dying, time, 1)) for _ in range(9)]
    await time.run(time.sleep(0.001))  # it leased a block for its nine callers…
    block_end = rows.row.tat if rows.row else 0.0
    for task in waiting:  # …and died before calling
        task.cancel()
    survivor = shared(rows, time, "survivor")
    [first] = await time.run(calls(survivor, time, 1))
    assert first == pytest.approx(block_end)  # nobody calls inside the dead one's window
    time.now = block_end + 30
    [later] = await time.run(calls(survivor, time, 1))
    assert later == time.now  # and once it has passed, nothing is owed


async def test_when_the_row_cannot_be_reached_an_instance_keeps_calling_at_its_conservative_share() -> None:
    time, rows = VirtualTime(), FakeBudgetRows()
    others = [shared(rows, time, name) for name in ("b", "c")]
    await time.run(asyncio.gather(*(calls(b, time, 1) for b in others)))
    budget = shared(rows, time, "a")
    await time.run(calls(budget, time, 1))  # it has seen three instances lease
    rows.down = True
    starts = await time.run(calls(budget, time, 12))
    assert budget.stats["fallback_calls"] >= 12
    share = INTERVAL * math.ceil(1.25 * 3)
    assert min(gaps(starts)) == pytest.approx(share)  # neither stopped nor at the whole budget
    rows.down = False
    time.now += 3  # past FALLBACK_RETRY: the row is tried again
    starts = await time.run(calls(budget, time, 9))
    assert budget.leases.mode == "shared" and min(gaps(starts)) == pytest.approx(INTERVAL)


async def test_an_instance_that_never_saw_the_row_falls_back_to_the_floors_share() -> None:
    time, rows = VirtualTime(), FakeBudgetRows()
    rows.down = True
    budget = shared(rows, time)
    starts = await time.run(calls(budget, time, 3))
    assert min(gaps(starts)) == pytest.approx(INTERVAL * 40)


async def test_a_call_that_cannot_get_a_slot_by_its_deadline_gives_up_at_once() -> None:
    time, rows = VirtualTime(), FakeBudgetRows()
    rows.row = BudgetRow(tat=time.now + 9.0, etag="W/0")  # the others booked 9 s ahead
    budget = shared(rows, time)

    async def call() -> None:
        with calls_as(CallClass.ONBOARDING, until=time.now + 2.0):
            await budget.acquire()

    started = time.now
    with pytest.raises(OutOfBudget) as refused:
        await time.run(call())
    assert time.now - started < 2.1  # it did not wait out the 9 s
    assert refused.value.retry_after is not None and refused.value.retry_after > 0


async def test_a_requests_create_goes_before_other_requests_pre_flight() -> None:
    time, rows = VirtualTime(), FakeBudgetRows()
    budget = shared(rows, time)
    preflight = asyncio.ensure_future(calls(budget, time, 20))
    await asyncio.sleep(0)
    create = asyncio.ensure_future(calls(budget, time, 1, CallClass.FINISH))
    starts, [created] = await time.run(asyncio.gather(preflight, create))
    assert created < starts[-1] - 5 * INTERVAL  # not behind the whole queue of pre-flight calls


async def test_validations_beyond_the_cap_are_refused_with_a_retry_after() -> None:
    time, rows = VirtualTime(), FakeBudgetRows()
    budget = shared(rows, time)
    with contextlib.ExitStack() as held:
        for _ in range(VALIDATION_CONCURRENCY):
            held.enter_context(budget.validating())
        with pytest.raises(OutOfBudget) as refused, budget.validating():
            pass
        assert refused.value.retry_after is not None and refused.value.retry_after >= 1
    with budget.validating():
        pass


async def test_validation_slots_do_not_come_out_of_onboardings_lane() -> None:
    time, rows = VirtualTime(), FakeBudgetRows()
    budget = shared(rows, time)
    onboarding = asyncio.ensure_future(calls(budget, time, 30))
    validation = asyncio.ensure_future(calls(budget, time, 30, CallClass.VALIDATION))
    queued, _ = await time.run(asyncio.gather(onboarding, validation))
    assert (
        queued[-1] - queued[0] <= 29 * INTERVAL / (1 - BUDGET.validation_share) + 2 * INTERVAL
    )  # at most 1/(1 - share) slower


async def test_a_request_is_admitted_only_when_its_calls_fit_in_time() -> None:
    time, rows = VirtualTime(), FakeBudgetRows()
    rows.row = BudgetRow(instances={f"i{n}": time.now for n in range(40)}, etag="W/0")
    budget = shared(rows, time)
    await time.run(calls(budget, time, 1))  # it has seen forty instances: its share is 1/40 of the budget
    with contextlib.ExitStack() as admitted:
        for _ in range(3):  # each request's 3 calls take 3 × 41 × INTERVAL ≈ 12.5 s at its share
            admitted.enter_context(budget.admitted(3, within=45.0))
        with pytest.raises(OutOfBudget) as refused, budget.admitted(3, within=45.0):
            pass  # a fourth would wait ≈ 50 s: more than half an invocation
        assert refused.value.retry_after is not None and refused.value.retry_after > 0
        first, second = await budget.due_back(refused.value), await budget.due_back(refused.value)
        assert first == pytest.approx(refused.value.retry_after)  # when this instance expects room…
        assert second == pytest.approx(first + 3 * INTERVAL)  # …and the next one after it
    with budget.admitted(3, within=45.0):  # places came free
        pass


async def test_a_caller_already_waiting_for_its_slot_waits_for_the_hold_too() -> None:
    time, rows = VirtualTime(), FakeBudgetRows()
    budget = shared(rows, time)
    waiting = asyncio.ensure_future(calls(budget, time, 5))
    await time.run(time.sleep(INTERVAL * 1.5))  # two went out; three sleep on slots already handed to them
    budget.throttled(retry_after=8.0)
    starts = await time.run(waiting)
    assert rows.row is not None
    held_until = rows.row.held_until
    assert [s for s in starts if s > time.now - 10] and all(s < held_until - 0.5 or s >= held_until for s in starts)
    assert sum(1 for s in starts if s >= held_until) == 3  # not at their old slots: after the hold


async def test_a_fallback_starts_after_the_blocks_already_leased_so_it_never_doubles_up_on_them() -> None:
    time, rows = VirtualTime(), FakeBudgetRows()
    budget, other = shared(rows, time, "a"), shared(rows, time, "other")
    await time.run(calls(budget, time, 1))
    booked = asyncio.ensure_future(calls(other, time, 9))  # the other instance books a second's block…
    await time.run(time.sleep(0.001))
    assert rows.row is not None
    others_block_end = rows.row.tat
    rows.answers = 2  # …this one's next lease loses the race, reads the row, and then storage stops answering
    starts = await time.run(calls(budget, time, 3))
    await time.run(booked)
    assert budget.stats["fallback_calls"] >= 3 and min(starts) >= others_block_end


async def test_requests_sent_back_by_several_instances_are_due_back_in_turn_with_a_write_per_block_of_them() -> None:
    time, rows = VirtualTime(), FakeBudgetRows()
    instances = [shared(rows, time, name) for name in "ab"]
    refused = OutOfBudget("the backlog is larger than the budget serves within an invocation", 5.0)
    due = []
    for n in range(32):  # unevenly: three of every four to the first
        budget = instances[0] if n % 4 else instances[1]
        due.append(time.now + await time.run(budget.due_back(refused)))
    assert len(set(due)) == 32 and min(due) >= time.now + 5.0  # nobody due back at the same moment, none early
    gaps = [b - a for a, b in itertools.pairwise(sorted(due))]
    assert min(gaps) == pytest.approx(3 * INTERVAL)  # a request's calls' share of the schedule apart
    assert max(due) - min(due) <= 48 * 3 * INTERVAL  # the whole batch back within its share (gaps: unused returns)
    assert rows.writes <= 32 / 8 + 2  # one write for a block of eight requests, not one a request


@pytest.mark.parametrize(("per_minute", "round_trip"), [(600, 0.08), (500, 0.15), (100_000, 0.02)])
async def test_a_lone_instance_whose_storage_answers_slowly_still_gets_its_slot(
    per_minute: int, round_trip: float
) -> None:
    # A block leased for now arrives a storage round trip later. When the round trip is longer than half an interval
    # the block's slots were all past by then, and the pacer dropped them (use it or lose it): an idle instance
    # leased again and again and never called. A block starts once its lease can have been answered.
    time = VirtualTime()
    rows = FakeBudgetRows(latency=lambda: time.sleep(round_trip))
    budget = SharedBudget(rows, Budget(per_minute), clock=time, sleep=time.sleep, instance="a")
    started = time.now

    async def one_call() -> float:
        with calls_as(CallClass.ONBOARDING, until=time.now + 5.0):
            await budget.acquire()
        return time.now

    went_out = await time.run(one_call())
    assert went_out - started <= 4 * round_trip + Budget(per_minute).interval
    assert rows.writes <= 3


async def test_requests_sent_back_at_once_by_one_instance_take_their_return_times_in_one_write_a_block() -> None:
    # A wave of deferrals arrives together (24 requests in flight refused at once): they must share the block of
    # return times one write takes, not each write the row (and lose the race to each other) while it is taken.
    time = VirtualTime()
    rows = FakeBudgetRows(latency=lambda: time.sleep(0.02))
    budget = shared(rows, time)
    refused = OutOfBudget("the backlog is larger than the budget serves within an invocation", 5.0)
    due = await time.run(asyncio.gather(*(budget.due_back(refused) for _ in range(24))))
    assert len(set(due)) == 24 and min(due) >= 5.0  # each its own return time, none early
    assert rows.writes <= 24 / 8 + 1 and rows.reads <= 24 / 8 + 1
