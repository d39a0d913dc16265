"""The shared budget's row in memory (the BudgetRows port), a storage outage on demand, and virtual time for the
budget's tests: sleeps advance a clock instead of waiting."""

from __future__ import annotations

import asyncio
import heapq
import itertools
from collections.abc import Awaitable, Callable
from dataclasses import replace
from typing import TypeVar

from handlers.domain.budget import BudgetRow
from handlers.domain.failures import ErrorKind, OnboardingError
from handlers.domain.ports import RowChanged, RowExists

T = TypeVar("T")


class FakeBudgetRows:
    """One row with ETags; `down` makes every operation fail as storage does (503), and `answers` (when set) is how
    many more operations succeed before it goes down; each operation takes `latency` (a sleep, virtual time's in
    tests) when given. Counts operations."""

    def __init__(self, latency: Callable[[], Awaitable[None]] | None = None) -> None:
        self.latency = latency
        self.row: BudgetRow | None = None
        self.down = False
        self.answers: int | None = None
        self.reads = 0
        self.writes = 0
        self._versions = itertools.count(1)

    async def _answer(self) -> None:
        await (asyncio.sleep(0) if self.latency is None else self.latency())
        if self.answers is not None:
            self.down, self.answers = self.answers <= 0, self.answers - 1
        if self.down:
            raise OnboardingError(ErrorKind.TRANSIENT, "storage budget read failed (HTTP 503)")

    async def read(self) -> BudgetRow | None:
        await self._answer()
        self.reads += 1
        return self.row

    async def insert(self, row: BudgetRow) -> BudgetRow:
        await self._answer()
        self.writes += 1
        if self.row is not None:
            raise RowExists("budget")
        return self._stamp(row)

    async def replace(self, row: BudgetRow) -> BudgetRow:
        await self._answer()
        self.writes += 1
        if self.row is None or self.row.etag != row.etag:
            raise RowChanged("budget")
        return self._stamp(row)

    def _stamp(self, row: BudgetRow) -> BudgetRow:
        self.row = replace(row, etag=f"W/{next(self._versions)}")
        return self.row


class VirtualTime:
    """A clock and a sleep for code under test: `run` drives a coroutine, and whenever every task is waiting, moves
    the clock to the earliest sleeper's wake-up."""

    def __init__(self, start: float = 1_000.0) -> None:
        self.now = start
        self._sleepers: list[tuple[float, int, asyncio.Future[None]]] = []
        self._seq = itertools.count()

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        if seconds <= 0:
            await asyncio.sleep(0)
            return
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        heapq.heappush(self._sleepers, (self.now + seconds, next(self._seq), future))
        await future

    async def run(self, work: Awaitable[T], *, limit: float = 3600.0) -> T:
        """Run `work` to its end in virtual time (at most `limit` virtual seconds); raises what it raises."""
        task = asyncio.ensure_future(work)
        end = self.now + limit
        while not task.done():
            for _ in range(50):  # let every runnable task run
                await asyncio.sleep(0)
            if task.done():
                break
            while self._sleepers and self._sleepers[0][2].done():
                heapq.heappop(self._sleepers)
            if not self._sleepers or self._sleepers[0][0] > end:
                task.cancel()
                raise RuntimeError("virtual time: nothing left to wake and the work is not done")
            wake, _, future = heapq.heappop(self._sleepers)
            self.now = max(self.now, wake)
            future.set_result(None)
        return task.result()


class FreeBudget:
    """A CallBudget with no limit, for the Partner Center client's own tests: every slot at once (after `wait`
    seconds of a real sleep, as a busy budget makes callers wait); records the Retry-Afters it was told of."""

    def __init__(self, wait: float = 0.0) -> None:
        self.wait = wait
        self.acquired = 0
        self.throttles: list[float | None] = []

    async def acquire(self) -> None:
        if self.wait:
            await asyncio.sleep(self.wait)
        self.acquired += 1

    def throttled(self, retry_after: float | None) -> None:
        self.throttles.append(retry_after)
