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
    pacer = Pacer(120, clock=clock, sleep=clock.sleep)  # one start every 0.5 s
    starts = []
    for _ in range(5):
        await pacer.acquire()
        starts.append(clock.now)
    assert [round(b - a, 3) for a, b in itertools.pairwise(starts)] == [0.5] * 4


async def test_concurrent_callers_share_the_budget() -> None:
    clock = Clock()
    pacer = Pacer(60, clock=clock, sleep=clock.sleep)
    started: list[float] = []

    async def call() -> None:
        await pacer.acquire()
        started.append(clock.now)

    await asyncio.gather(*(call() for _ in range(4)))
    assert sorted(started) == [100.0, 101.0, 102.0, 103.0]


async def test_a_429_holds_everyone_and_halves_the_pace() -> None:
    clock = Clock()
    pacer = Pacer(60, clock=clock, sleep=clock.sleep, slowdown_seconds=30)
    await pacer.acquire()
    pacer.throttled(retry_after=5)
    start = clock.now
    await pacer.acquire()
    assert clock.now - start == 5
    await pacer.acquire()
    assert clock.now - start == 7  # 2 s spacing while slowed down
