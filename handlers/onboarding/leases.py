"""Leasing blocks of the shared Partner Center budget from its row (the BudgetRows port), or, while the row cannot
be reached, from this instance's conservative local share.

- **One write a block, usually.** The row as last written is kept with its ETag, and the next lease writes over
  it at once: a lone instance leases in one storage operation, others read the row again only when someone else
  wrote meanwhile (412), then retry after a few milliseconds' jitter.
- **Fallback.** Two failed storage operations in a row (the second after 50 ms) and the instance paces alone at
  Budget.fallback_interval for FALLBACK_RETRY seconds, then tries the row once more. Its fallback calls start once
  the schedule it last saw is spent (every instance's blocks end by then, but for one each leased since) and after
  its own last block; its first shared block after that starts after its own fallback calls.
- **Lead.** A block is leased for slots that start once its write can have been answered: the storage round trip
  as lately measured (up to MAX_LEAD). A block leased for "now" arrives a round trip later, and a slot more than half
  an interval past is dropped (the pacer's use it or lose it): with round trips longer than that, an idle instance
  would lease again and again and never call.
- **Holds.** A 429 is recorded with a fresh read and a conditional write; a 429 of a hold already recorded (a call
  another instance sent before it knew) changes nothing.
"""

from __future__ import annotations

import logging
import math
import random
from collections import Counter
from collections.abc import Awaitable, Callable
from typing import TypeVar

from handlers.domain.budget import BLOCK_SECONDS, Block, Budget, BudgetRow, CallClass, Full, Lane
from handlers.domain.ports import BudgetRows, RowChanged, RowExists
from handlers.observability.telemetry import budget_storage

log = logging.getLogger("csp_onboarding")
T = TypeVar("T")

FALLBACK_RETRY = 2.0  # seconds in fallback before the row is tried again
MAX_LEAD = BLOCK_SECONDS / 2  # the furthest ahead of now a block starts for its write's round trip


# What the leases did since the instance started (the budget logs it every minute): calls, leases, reads, writes,
# conflicts, failures and fallback_calls.
Stats = Counter[str]


class Leases:
    """This instance's leases (see the module docstring)."""

    def __init__(
        self, rows: BudgetRows, budget: Budget, instance: str, *, clock: Callable[[], float],
        sleep: Callable[[float], Awaitable[None]],
    ) -> None:  # fmt: skip
        self.rows = rows
        self.budget = budget
        self.instance = instance
        self.stats: Stats = Counter()
        self.seen: BudgetRow | None = None  # the last row seen at all (the fallback's count of instances)
        self._clock = clock
        self._sleep = sleep
        self._row: BudgetRow | None = None  # as last read or written: the next write is conditional on its ETag
        self._fallback_until = 0.0
        self._lead = 0.0  # a storage round trip, as lately measured: quick to rise, slow to fall
        self._next: dict[Lane, float] = {"onboarding": 0.0, "validation": 0.0}  # after this instance's last block
        self._after_fallback: dict[Lane, float] = {"onboarding": 0.0, "validation": 0.0}  # its last fallback call

    @property
    def mode(self) -> str:
        """`shared` while the row answers, `fallback` while this instance paces alone."""
        return "fallback" if self._clock() < self._fallback_until else "shared"

    async def lease(self, lane: Lane, calls: int, *, held_until: float = 0.0) -> Block | Full:
        """A block of up to `calls` slots of `lane` (or Full: the schedule is booked to its horizon)."""
        call_class = CallClass.VALIDATION if lane == "validation" else CallClass.ONBOARDING
        if self.mode == "fallback":
            return self._fallback_block(lane, call_class, calls, held_until)
        failures = attempt = 0
        while True:
            attempt += 1
            try:
                row = self._row or await self._read()
                # after its write can have been answered, and never over this instance's fallback calls
                now = max(self._clock() + self._lead, self._after_fallback[lane])
                leased, outcome = self.budget.lease(row, now, calls, call_class, self.instance)
                if leased is not row:
                    leased = await self._write(leased)
                self._row = self.seen = leased
                if isinstance(outcome, Block):
                    self.stats["leases"] += 1
                    self._next[lane] = max(self._next[lane], outcome.end)
                return outcome
            except (RowChanged, RowExists):
                self._row = None
                self.stats["conflicts"] += 1
                budget_storage.add(1, {"kind": "conflict"})
                await self._sleep(random.uniform(0, 0.002 * min(attempt, 10)))
            except Exception as error:  # storage failed (OnboardingError), or a surprise: either way, not the row now
                self._row = None
                failures += 1
                self.stats["failures"] += 1
                budget_storage.add(1, {"kind": "failure"})
                if failures >= 2 or self._fallback_until:
                    return self._enter_fallback(lane, call_class, calls, held_until, error)
                await self._sleep(0.05)

    async def record_hold(self, at: float, retry_after: float | None) -> BudgetRow | None:
        """Record a 429 answered at `at` on the row; the row as it then stands, or None when storage failed."""
        return await self._update(lambda row: self.budget.throttled(row, at, retry_after), "a 429")

    async def defer(self, wait: float, calls: int) -> float | None:
        """Record a request sent back to the queue; when it is due back (absolute), or None when storage failed."""
        due: list[float] = []

        def sent_back(row: BudgetRow) -> BudgetRow:
            later, back = self.budget.defer(row, self._clock(), wait, calls)
            due.append(back)
            return later

        return None if await self._update(sent_back, "a deferral") is None else due[-1]

    async def _update(self, change: Callable[[BudgetRow], BudgetRow], what: str) -> BudgetRow | None:
        """`change` applied to the row as it stands (read afresh, written over its ETag, again on a lost race)."""
        for _ in range(5):
            try:
                row = await self._read()
                changed = change(row)
                if changed is not row:
                    changed = await self._write(changed)
                self._row = self.seen = changed
                return changed
            except (RowChanged, RowExists):
                self.stats["conflicts"] += 1
            except Exception as error:  # storage failed (OnboardingError), or a surprise: the caller does without
                log.warning("Partner Center budget: %s could not be recorded for the other instances (%s)", what, error)
                return None
        return None

    async def _read(self) -> BudgetRow:
        self.stats["reads"] += 1
        budget_storage.add(1, {"kind": "read"})
        row = await self._timed(self.rows.read()) or BudgetRow()
        self.seen = row
        if self._fallback_until:
            log.info("Partner Center budget: the shared row answers again; leaving the fallback")
            self._fallback_until = 0.0
        return row

    async def _write(self, row: BudgetRow) -> BudgetRow:
        self.stats["writes"] += 1
        budget_storage.add(1, {"kind": "write"})
        return await self._timed(self.rows.insert(row) if row.etag is None else self.rows.replace(row))

    async def _timed(self, operation: Awaitable[T]) -> T:
        """A storage operation, its round trip kept as the lead of the next block."""
        sent = self._clock()
        answer = await operation
        self._lead = min(MAX_LEAD, max(0.8 * self._lead, 1.5 * (self._clock() - sent)))
        return answer

    def _enter_fallback(
        self, lane: Lane, call_class: CallClass, calls: int, held_until: float, error: Exception
    ) -> Block:
        if not self._fallback_until:
            n = self.budget.instances_for_fallback(self.seen, self._clock())
            log.warning("Partner Center budget: the shared row cannot be reached (%s); pacing alone at 1/%d", error, n)
        self._fallback_until = self._clock() + FALLBACK_RETRY
        return self._fallback_block(lane, call_class, calls, held_until)

    def _fallback_block(self, lane: Lane, call_class: CallClass, calls: int, held_until: float) -> Block:
        now = self._clock()
        interval = self.budget.fallback_interval(self.seen, now, call_class)
        seen = self.seen or BudgetRow()
        booked = seen.validation_tat if lane == "validation" else seen.tat  # others' blocks end by then, as last seen
        start = max(now, self._next[lane], booked, held_until)
        block = Block(start, min(calls, max(1, math.floor(BLOCK_SECONDS / interval))), interval)
        self._next[lane] = self._after_fallback[lane] = block.end
        self.stats["fallback_calls"] += block.calls
        return block
