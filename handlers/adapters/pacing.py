"""Pacing: a smooth limiter shared by every Partner Center call of a worker (contract §3 rule 8)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable

SLOWDOWN = 0.7  # a 429 brings the pace down to (at most) this fraction of the budget


class Pacer:
    """Spaces call starts evenly, `margin` (2 %) under `per_minute`: a limit counted over a sliding window never
    sees the event loop's scheduling jitter as a burst, which pacing at exactly the limit would.

    A 429 holds every caller until its Retry-After, those already waiting for a slot included, and sets the pace to
    at most 70 % of the budget; the pace climbs back to the full budget over the next `recovery_calls` calls. The
    cut does not compound: repeated 429s (a quota shared with other tools, or random throttling) keep the pace at
    70 %, never 70 % of 70 % — the Retry-After holds are what slows a worker further. So a stray 429 costs its
    Retry-After and a few seconds, and a burst of them cannot starve a backlog.
    """

    def __init__(
        self,
        per_minute: int,
        *,
        margin: float = 0.02,
        recovery_calls: int = 100,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        if per_minute <= 0:
            raise ValueError("per_minute must be positive")
        if not 0 <= margin < 1 or recovery_calls <= 0:
            raise ValueError("margin must be in [0, 1) and recovery_calls positive")
        self._interval = 60.0 / (per_minute * (1 - margin))
        self._recovery_step = (1 - SLOWDOWN) / recovery_calls  # from one cut back to the whole budget
        self._clock = clock
        self._sleep = sleep
        self._next_slot = 0.0
        self._held_until = 0.0
        self._holds = 0  # 429s that started a hold
        self.pace = 1.0  # the fraction of the budget in use

    async def acquire(self) -> None:
        """Wait for this call's slot; slots are handed out first come, first served. A slot handed out before a
        429 arrived is given up for one after the hold."""
        while True:
            now = self._clock()
            slot = max(now, self._next_slot)
            self._next_slot = slot + self._interval / self.pace
            holds = self._holds
            if slot > now:
                await self._sleep(slot - now)
            if self._holds == holds or self._held_until <= slot:
                self.pace = min(1.0, self.pace + self._recovery_step)
                return

    def throttled(self, retry_after: float | None) -> None:
        """Record a 429: nobody starts before Retry-After (already bounded by the caller) has passed; the pace drops
        to at most SLOWDOWN."""
        now = self._clock()
        if now >= self._held_until:
            self.pace = min(self.pace, SLOWDOWN)
            self._holds += 1
        self._held_until = max(self._held_until, now + (retry_after or 0.0))
        self._next_slot = max(self._next_slot, self._held_until)
