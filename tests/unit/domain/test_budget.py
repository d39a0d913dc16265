"""The shared budget's arithmetic (handlers/domain/budget.py): disjoint blocks spaced at the whole app's pace, a dead
instance's block ending with its window, the horizon, validation's bounded share, the hold ladder of recorded
Retry-Afters, and the fallback's conservative share. Pure: every time is passed in."""

from __future__ import annotations

import itertools
import math

import pytest

from handlers.domain.budget import (
    ACTIVE_SECONDS,
    BRIEF_HOLD,
    ONBOARDING_HORIZON,
    SLOWDOWN,
    UNKNOWN_INSTANCES,
    VALIDATION_GRACE,
    VALIDATION_HORIZON,
    Block,
    Budget,
    BudgetRow,
    CallClass,
    Full,
)

BUDGET = Budget(600)  # I = 60 / (600 × 0.98) ≈ 0.102 s; at most 9 calls a block
ONBOARD, VALIDATE = CallClass.ONBOARDING, CallClass.VALIDATION


def lease(row: BudgetRow, now: float, calls: int, who: str = "a", call_class: CallClass = ONBOARD) -> tuple[
    BudgetRow, Block
]:  # fmt: skip
    row, outcome = BUDGET.lease(row, now, calls, call_class, who)
    assert isinstance(outcome, Block)
    return row, outcome


def test_the_budget_is_the_whole_apps_paced_two_percent_under_it() -> None:
    assert BUDGET.interval == pytest.approx(60 / (600 * 0.98))
    assert BUDGET.max_block == math.floor(1.0 / BUDGET.interval) == 9
    with pytest.raises(ValueError, match="per_minute must be positive"):
        Budget(0)


def test_blocks_of_several_instances_never_overlap_so_all_calls_stay_an_interval_apart() -> None:
    row, slots = BudgetRow(), []
    for now, who in zip(itertools.count(100.0, 0.05), "abcabcabca", strict=False):
        row, block = lease(row, now, 5, who)
        slots += block.slots()
    assert slots == sorted(slots)
    gaps = [b - a for a, b in itertools.pairwise(slots)]
    assert min(gaps) == pytest.approx(BUDGET.interval)
    assert set(row.instances) == {"a", "b", "c"}


def test_a_lease_takes_no_more_than_a_block_nor_than_asked() -> None:
    _, block = lease(BudgetRow(), 100.0, 50)
    assert block.calls == BUDGET.max_block
    _, block = lease(BudgetRow(), 100.0, 2)
    assert (block.calls, block.start) == (2, 100.0)


def test_an_idle_schedule_saves_nothing_up_no_burst_after_a_quiet_spell() -> None:
    row, _ = lease(BudgetRow(), 100.0, 3)
    row, later = lease(row, 500.0, 3)
    assert later.start == 500.0  # not 100 s of saved-up calls at once: starts now, paced
    assert later.slots()[1] - later.slots()[0] == pytest.approx(BUDGET.interval)


def test_a_dead_instances_block_ends_with_its_window() -> None:
    row, dead = lease(BudgetRow(), 100.0, 9, "dies-holding-it")
    row, next_one = lease(row, 100.2, 3, "b")
    assert next_one.start == pytest.approx(dead.end)  # nobody else calls inside the dead one's window…
    row, after = lease(row, dead.end + 5.0, 3, "b")
    assert after.start == dead.end + 5.0  # …and once it has passed, nothing is owed or reclaimed


def test_onboarding_books_no_further_ahead_than_its_horizon() -> None:
    row, now = BudgetRow(), 100.0
    while True:
        leased, outcome = BUDGET.lease(row, now, 9, ONBOARD, "a")
        if isinstance(outcome, Full):
            break
        row = leased
    assert leased is row  # nothing written
    assert row.tat - now > ONBOARDING_HORIZON - BUDGET.max_block * BUDGET.interval
    assert outcome.retry_at == pytest.approx(row.tat - ONBOARDING_HORIZON)


def test_validation_takes_its_share_and_onboarding_leaves_it_free() -> None:
    row, now = BudgetRow(), 100.0
    row, validation = lease(row, now, 3, call_class=VALIDATE)
    assert validation.start == now
    assert validation.interval == pytest.approx(BUDGET.interval / BUDGET.validation_share)
    row, onboarding = lease(row, now, 9)
    assert onboarding.interval == pytest.approx(BUDGET.interval / (1 - BUDGET.validation_share))
    # Both lanes together: no sliding second holds more than the budget's calls.
    calls = sorted(validation.slots() + onboarding.slots())
    window = 1.0
    assert max(sum(1 for c in calls if t <= c < t + window) for t in calls) <= window / BUDGET.interval + 1
    # When validation has been quiet for its grace, onboarding has the whole budget again.
    _, later = lease(row, validation.end + VALIDATION_GRACE + 1, 9)
    assert later.interval == pytest.approx(BUDGET.interval)


def test_the_first_validation_after_a_quiet_spell_waits_for_what_onboarding_booked_at_the_full_rate() -> None:
    row, booked = lease(BudgetRow(), 100.0, 9)
    row, validation = lease(row, 100.0, 2, call_class=VALIDATE)
    assert validation.start == pytest.approx(booked.end)


def test_a_validation_beyond_its_horizon_is_refused_but_reserves_its_share() -> None:
    row = BudgetRow(validation_tat=100.0 + VALIDATION_HORIZON + 5, validation_until=130.0, tat=105.0)
    leased, outcome = BUDGET.lease(row, 100.0, 2, VALIDATE, "http")  # a flood of validations booked its share
    assert isinstance(outcome, Full) and outcome.retry_at == pytest.approx(105.0)
    assert leased.validation_until >= 120.0 + VALIDATION_GRACE  # onboarding leaves room meanwhile
    _, onboarding = lease(leased, 100.0, 9)
    assert onboarding.interval == pytest.approx(BUDGET.interval / (1 - BUDGET.validation_share))


def test_an_unpredicted_429_holds_everyone_briefly() -> None:
    row = BUDGET.throttled(BudgetRow(tat=101.0), 100.0, retry_after=8.0)
    assert row.held_until == 100.0 + BRIEF_HOLD * 8.0
    assert row.slowed_at == 0.0  # no pace cut for one 429
    _, block = lease(row, 100.0, 3, "another-instance")
    assert block.start == pytest.approx(max(101.0, row.held_until))


def test_429s_that_follow_each_other_double_the_hold_up_to_the_retry_after_and_cut_the_pace_once() -> None:
    row, now, holds = BudgetRow(), 100.0, []
    for _ in range(6):
        row = BUDGET.throttled(row, now, retry_after=8.0)
        holds.append(row.held_until - now)
        now = row.held_until + BUDGET.interval  # the first call after the hold is refused again
    assert holds == [1.0, 2.0, 4.0, 8.0, 8.0, 8.0]
    assert BUDGET.pace(row, row.slowed_at) == SLOWDOWN  # cut, never compounded
    assert BUDGET.pace(row, row.slowed_at + 100 * BUDGET.interval) == 1.0  # climbs back over 100 calls' time


def test_a_429_of_a_hold_already_recorded_changes_nothing() -> None:
    row = BUDGET.throttled(BudgetRow(), 100.0, retry_after=8.0)
    assert BUDGET.throttled(row, 100.5, retry_after=8.0) is row


def test_a_429_long_after_the_last_hold_is_unpredicted_again() -> None:
    row = BUDGET.throttled(BudgetRow(), 100.0, retry_after=8.0)
    row = BUDGET.throttled(row, 200.0, retry_after=8.0)
    assert row.held_until - 200.0 == BRIEF_HOLD * 8.0


def test_the_fallback_share_is_conservative() -> None:
    assert BUDGET.fallback_interval(None, 100.0, ONBOARD) == pytest.approx(BUDGET.interval * UNKNOWN_INSTANCES)
    seen = BudgetRow(instances={"a": 95.0, "b": 99.0, "c": 100.0, "gone": 100.0 - ACTIVE_SECONDS - 1})
    assert BUDGET.instances_for_fallback(seen, 100.0) == math.ceil(1.25 * 3)  # three active, 25 % to spare
    n = BUDGET.instances_for_fallback(seen, 100.0)
    assert n * (1 / BUDGET.fallback_interval(seen, 100.0, ONBOARD)) <= 1 / BUDGET.interval  # together, within it
    assert BUDGET.instances_for_fallback(BudgetRow(instances={"a": 100.0}), 100.0) == 2  # never alone
    assert BUDGET.fallback_interval(seen, 100.0, VALIDATE) == pytest.approx(
        BUDGET.interval * n / BUDGET.validation_share
    )


def test_requests_sent_back_are_due_back_one_after_the_other_at_the_whole_budgets_pace() -> None:
    row, due = BudgetRow(), []
    for now, wait in ((100.0, 5.0), (100.1, 0.0), (100.2, 30.0), (100.3, 0.0)):
        row, back = BUDGET.defer(row, now, wait, 3)
        due.append(back)
    assert due[0] == 105.0  # when it could be served
    assert due[1] == pytest.approx(105.0 + 3 * BUDGET.interval)  # behind the one sent back before it
    assert due[2] == 130.2 and due[3] == pytest.approx(130.2 + 3 * BUDGET.interval)
