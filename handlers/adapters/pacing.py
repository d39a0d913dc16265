"""Pacing: a smooth limiter shared by every Partner Center call of a worker (contract §3 rule 8)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable


class Pacer:
    """Spaces call starts evenly at `per_minute`.

    After a 429 nobody starts before Retry-After has passed, and the pace halves for `slowdown_seconds`.
    """

    def __init__(
        self,
        per_minute: int,
        *,
        slowdown_seconds: float = 60.0,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        if per_minute <= 0:
            raise ValueError("per_minute must be positive")
        self._interval = 60.0 / per_minute
        self._slowdown_seconds = slowdown_seconds
        self._clock = clock
        self._sleep = sleep
        self._next_slot = 0.0
        self._slow_until = 0.0

    async def acquire(self) -> None:
        """Wait for this call's slot; slots are handed out first come, first served."""
        now = self._clock()
        interval = self._interval * (2.0 if now < self._slow_until else 1.0)
        slot = max(now, self._next_slot)
        self._next_slot = slot + interval
        if slot > now:
            await self._sleep(slot - now)

    def throttled(self, retry_after: float | None) -> None:
        """Record a 429: nobody starts before Retry-After has passed, and the pace halves for a while."""
        now = self._clock()
        self._next_slot = max(self._next_slot, now + (retry_after or 0.0))
        self._slow_until = max(self._slow_until, now + self._slowdown_seconds)
