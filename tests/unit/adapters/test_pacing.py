"""The pacer: evenly spaced starts, shared by all callers, slowed after a 429."""

from __future__ import annotations

import asyncio
import itertools

from handlers.adapters.pacing import Pacer


class Clock:
    def __init__(self) -> None:
        self.now = 100.0
        self.starts: list[float] = []

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.now += seconds


async def test_starts_are_spaced_at_the_rate() -> None:
    clock = Clock()
    pacer = Pacer(120, margin=0, clock=clock, sleep=clock.sleep)  # one start every 0.5 s
    starts = []
    for _ in range(5):
        await pacer.acquire()
        starts.append(clock.now)
    assert [round(b - a, 3) for a, b in itertools.pairwise(starts)] == [0.5] * 4


async def test_by_default_the_pace_stays_two_percent_under_the_budget() -> None:
    clock = Clock()
    pacer = Pacer(60, clock=clock, sleep=clock.sleep)
    for _ in range(50):
        await pacer.acquire()
    assert round(clock.now - 100.0, 6) == round(49 / 0.98, 6)  # 49 intervals of 1 s / 0.98


async def test_concurrent_callers_share_the_budget() -> None:
    clock = Clock()
    pacer = Pacer(60, margin=0, clock=clock, sleep=clock.sleep)
    started: list[float] = []

    async def call() -> None:
        await pacer.acquire()
        started.append(clock.now)

    await asyncio.gather(*(call() for _ in range(4)))
    assert sorted(started) == [100.0, 101.0, 102.0, 103.0]


async def test_a_429_holds_everyone_cuts_the_pace_and_the_pace_climbs_back() -> None:
    clock = Clock()
    pacer = Pacer(60, margin=0, recovery_calls=10, clock=clock, sleep=clock.sleep)
    await pacer.acquire()
    pacer.throttled(retry_after=5)
    assert pacer.pace == 0.7
    starts = []
    for _ in range(14):
        await pacer.acquire()
        starts.append(clock.now)
    assert starts[0] == 105.0  # nobody before Retry-After
    gaps = [round(b - a, 3) for a, b in itertools.pairwise(starts)]
    assert gaps[0] == round(1 / 0.7, 3)  # 70 % of the pace
    assert all(a > b for a, b in itertools.pairwise(gaps[:10]))  # climbing back…
    assert gaps[10:] == [1.0] * 3  # …to the full budget within `recovery_calls` calls
    assert pacer.pace == 1.0


async def test_repeated_429s_do_not_compound_the_cut() -> None:
    clock = Clock()
    pacer = Pacer(60, clock=clock, sleep=clock.sleep)
    for _ in range(3):  # three calls sent before the limit answered: three 429s at once
        pacer.throttled(retry_after=2)
    assert pacer.pace == 0.7
    for _ in range(10):  # 429 after 429, each after its hold (random throttling, or a quota shared with others)
        clock.now += 3
        pacer.throttled(retry_after=2)
    assert pacer.pace == 0.7  # never 0.7 ** 11: the holds themselves do the rest of the slowing
    holds_before = clock.now
    await pacer.acquire()
    assert clock.now == holds_before + 2  # the last hold is honoured


async def test_a_caller_already_waiting_for_its_slot_waits_for_the_hold_too() -> None:
    clock = Clock()

    async def sleep(seconds: float) -> None:  # an earlier call's 429 lands while this caller waits for its slot
        await clock.sleep(seconds)
        if clock.now == 101.0:
            pacer.throttled(retry_after=10)

    pacer = Pacer(60, margin=0, clock=clock, sleep=sleep)
    await pacer.acquire()  # at 100 s; the next slot is at 101 s
    await pacer.acquire()
    assert clock.now == 111.0  # not at its old slot: after the Retry-After
