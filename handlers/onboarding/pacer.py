"""The in-process pacer: the fast path inside a leased block. It hands this process's callers the slots of the blocks
the shared budget leased for it (handlers.onboarding.budget), at the times the blocks space them, with no storage
round trip per call.

- **Priority.** Waiting callers are served by CallClass, then first come first served: a request's create before
  another request's pre-flight. Onboarding and validation draw on separate lanes (their own schedules), so a
  validation flood cannot take the slots of a queued request.
- **Use it or lose it.** A slot nobody took within half an interval of its time is dropped: a late call going out
  beside the next one would look like a burst to a sliding window.
- **Holds.** A hold (a recorded Retry-After) drops the free slots it covers, and a caller already sleeping on one
  gives it up when it wakes and waits for a new one.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from handlers.domain.budget import Block, CallClass, Lane

LANES: tuple[Lane, ...] = ("onboarding", "validation")


@dataclass(order=True)
class _Waiter:
    priority: int
    seq: int
    future: asyncio.Future[float] = field(compare=False)
    deadline: float | None = field(default=None, compare=False)


class Pacer:
    """Slots of leased blocks, handed to waiting callers (see the module docstring)."""

    def __init__(self, *, clock: Callable[[], float], sleep: Callable[[float], Awaitable[None]]) -> None:
        self._clock = clock
        self._sleep = sleep
        self._waiters: dict[Lane, list[_Waiter]] = {lane: [] for lane in LANES}
        self._slots: dict[Lane, deque[tuple[float, float]]] = {lane: deque() for lane in LANES}  # (time, interval)
        self._seq = itertools.count()
        self.held_until = 0.0
        self._holds = 0
        self.granted = 0

    def wait(
        self, call_class: CallClass, seq: int | None = None, deadline: float | None = None
    ) -> tuple[asyncio.Future[float], int]:
        """Queue a caller; its future gets a slot time (it is cancelled when no slot can come before `deadline`).
        Returns the future and the caller's place (kept when it waits again after a hold)."""
        place = next(self._seq) if seq is None else seq
        future: asyncio.Future[float] = asyncio.get_running_loop().create_future()
        heapq.heappush(self._waiters[call_class.lane], _Waiter(call_class, place, future, deadline))
        self._dispatch(call_class.lane)
        return future, place

    def unserved(self, lane: Lane) -> int:
        """Callers of `lane` that no free slot covers: what the next lease is for."""
        self._dispatch(lane)
        return sum(1 for w in self._waiters[lane] if not w.future.done())

    def add(self, lane: Lane, block: Block) -> None:
        """Slots of a block just leased (those before a hold are not usable)."""
        self._slots[lane].extend((t, block.interval) for t in block.slots() if t >= self.held_until)
        self._dispatch(lane)

    def give_up(self, lane: Lane, before: float) -> None:
        """No slot of `lane` can come before `before`: callers whose deadline is earlier stop waiting now."""
        for waiter in self._waiters[lane]:
            if waiter.deadline is not None and waiter.deadline < before:
                waiter.future.cancel()

    def hold(self, until: float) -> None:
        """Nobody starts before `until`."""
        if until <= self.held_until:
            return
        self.held_until = until
        self._holds += 1
        for slots in self._slots.values():
            while slots and slots[0][0] < until:
                slots.popleft()

    async def sleep_until(self, slot: float) -> bool:
        """Sleep until `slot`; False when a hold that covers it started meanwhile (the caller waits again)."""
        holds = self._holds
        delay = slot - self._clock()
        if delay > 0:
            await self._sleep(delay)
        return self._holds == holds or self.held_until <= slot

    def _dispatch(self, lane: Lane) -> None:
        slots, waiters = self._slots[lane], self._waiters[lane]
        now = self._clock()
        while slots and slots[0][0] + slots[0][1] / 2 < now:
            slots.popleft()
        while slots and waiters:
            waiter = heapq.heappop(waiters)
            if not waiter.future.done():
                waiter.future.set_result(slots.popleft()[0])
                self.granted += 1
