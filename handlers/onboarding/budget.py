"""The shared Partner Center budget (contract rule 8): every call of every instance and function waits here for a
slot of PARTNER_CENTER_MAX_REQUESTS_PER_MINUTE, the whole app's budget.

An instance leases small blocks of the shared schedule from one row of the app's storage account (the arithmetic:
handlers.domain.budget; the row and the fallback: onboarding/leases.py) and hands their slots to its callers in
process (onboarding/pacer.py), so the common call costs no storage round trip.

- A 429 holds this instance at once and is recorded on the row, so every instance holds off on its next lease.
- Who calls (CallClass) and by when (a deadline) ride in context variables set by the callers' entry points
  (`calls_as`), so the Partner Center client needs no argument for them. A call that cannot get a slot by its
  deadline raises OutOfBudget at once.
- A request is admitted only when its calls fit within half an invocation at this instance's share of the budget;
  otherwise it goes back to the queue (onboarding/backpressure.py), due back after every request sent back before
  it (the shared row counts them: Budget.defer).
- Validation runs on its own share, at most VALIDATION_CONCURRENCY at a time per instance.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
import uuid
from collections import deque
from collections.abc import Awaitable, Callable, Iterator
from contextvars import ContextVar
from typing import Any

from handlers.domain.budget import (
    BLOCK_SECONDS,
    REQUEST_CALLS,
    VALIDATION_CONCURRENCY,
    VALIDATION_HORIZON,
    Budget,
    BudgetRow,
    CallClass,
    Full,
    Lane,
    OutOfBudget,
    active_instances,
)
from handlers.domain.ports import BudgetRows
from handlers.observability.logs import log_context
from handlers.observability.telemetry import budget_calls
from handlers.onboarding.leases import Leases, Stats
from handlers.onboarding.pacer import Pacer

log = logging.getLogger("csp_onboarding")

MAX_DEFERRAL = 3600.0  # the longest a request is sent back for at once
DEFERRAL_BLOCK = 8  # requests' return times taken from the shared row at once
SUMMARY_SECONDS = 60.0

_call_class: ContextVar[CallClass] = ContextVar("partner_center_call_class", default=CallClass.ONBOARDING)
_deadline: ContextVar[float | None] = ContextVar("partner_center_call_deadline", default=None)


@contextlib.contextmanager
def calls_as(call_class: CallClass, *, until: float | None = None) -> Iterator[None]:
    """Partner Center calls made inside the block are `call_class`'s, and give up at `until` (wall clock) if set;
    their log records carry the class as the `budget` dimension."""
    class_token = _call_class.set(call_class)
    deadline_token = None if until is None else _deadline.set(until)
    try:
        with log_context(budget=call_class.name.lower()):
            yield
    finally:
        if deadline_token is not None:
            _deadline.reset(deadline_token)
        _call_class.reset(class_token)


class SharedBudget:
    """The CallBudget of one worker process (see the module docstring)."""

    def __init__(
        self,
        rows: BudgetRows,
        budget: Budget,
        *,
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        instance: str | None = None,
    ) -> None:
        self.budget = budget
        self.leases = Leases(rows, budget, instance or uuid.uuid4().hex[:12], clock=clock, sleep=sleep)
        self._clock = clock
        self._sleep = sleep
        self._pacer = Pacer(clock=clock, sleep=sleep)
        self._leasing: dict[Lane, asyncio.Task[None]] = {}
        self._background: set[asyncio.Task[object]] = set()
        self._granted: dict[Lane, deque[float]] = {"onboarding": deque(), "validation": deque()}
        self._admitted = 0
        self._validating = 0
        self._defer_next = 0.0  # the next return time while the row cannot be reached
        self._returns = (0.0, 0.0)  # this instance's block of return times: the next one, and its end
        self._returns_taken = asyncio.Lock()  # one write at a time takes the next block of them
        self._summary_at = clock() + SUMMARY_SECONDS

    @property
    def stats(self) -> Stats:
        return self.leases.stats

    async def aclose(self) -> None:
        """Stop leasing and close the row's storage client (scripts and tests; a worker keeps it for life)."""
        for task in [*self._leasing.values(), *self._background]:
            task.cancel()
        aclose = getattr(self.leases.rows, "aclose", None)
        if aclose is not None:
            await aclose()

    async def acquire(self) -> None:
        """Wait for this call's slot (CallClass and deadline from `calls_as`); raises OutOfBudget past the deadline."""
        call_class, deadline, seq = _call_class.get(), _deadline.get(), None
        while True:
            future, seq = self._pacer.wait(call_class, seq, deadline)
            self._lease_soon(call_class.lane)
            slot = await self._slot_by(future, deadline)
            if slot is None or (deadline is not None and slot > deadline):
                raise self._out_of_time(call_class)
            if await self._pacer.sleep_until(slot):
                self._granted[call_class.lane].append(slot)
                self.stats["calls"] += 1
                budget_calls.add(1, {"lane": call_class.lane, "mode": self.leases.mode})
                self._summarise()
                return

    async def _slot_by(self, future: asyncio.Future[float], deadline: float | None) -> float | None:
        """The slot the pacer gives `future`, or None when the deadline passes first (the wait is given up)."""
        try:
            if deadline is None:
                return await future
            if future.cancelled():
                return None
            timer = asyncio.ensure_future(self._sleep(max(deadline - self._clock(), 0.0)))
            racing: set[asyncio.Future[Any]] = {future, timer}
            try:
                await asyncio.wait(racing, return_when=asyncio.FIRST_COMPLETED)
            finally:
                timer.cancel()
            return future.result() if future.done() and not future.cancelled() else None
        finally:
            future.cancel()  # no-op once it has its slot; else the pacer skips it

    def throttled(self, retry_after: float | None) -> None:
        """A 429: hold this instance now, and record the hold on the row for every other (in the background)."""
        now = self._clock()
        if self.leases.mode == "fallback":  # nothing coordinates: the whole Retry-After, for this instance
            self._pacer.hold(now + (1.0 if retry_after is None else retry_after))
            return
        self._pacer.hold(self.budget.throttled(self.leases.seen or BudgetRow(), now, retry_after).held_until)
        task = asyncio.get_running_loop().create_task(self._record_hold(now, retry_after))
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    async def _record_hold(self, at: float, retry_after: float | None) -> None:
        row = await self.leases.record_hold(at, retry_after)
        if row is not None:
            self._pacer.hold(row.held_until)

    # --- admission: backpressure and the validation cap ----------------------------------------------------------

    def local_interval(self) -> float:
        """Seconds between this instance's onboarding calls at its share of the budget, as it last saw the row."""
        now = self._clock()
        if self.leases.mode == "fallback":
            return self.budget.fallback_interval(self.leases.seen, now, CallClass.ONBOARDING)
        row = self.leases.seen or BudgetRow()
        interval = self.budget.interval / self.budget.pace(row, now) * active_instances(row, now)
        return interval / (1 - self.budget.validation_share) if row.validation_until > now else interval

    @contextlib.contextmanager
    def admitted(self, calls: int, *, within: float, until: float | None = None) -> Iterator[None]:
        """Hold a request's place while it runs, if its `calls` fit within `within` seconds at this instance's share
        behind those already admitted, its calls given up `until` seconds from now; raises OutOfBudget, its
        retry_after when to come back, when they do not fit."""
        wait = (self._admitted + 1) * calls * self.local_interval()
        if wait > within:
            raise OutOfBudget("the backlog is larger than the budget serves within an invocation", wait - within)
        self._admitted += 1
        try:
            with calls_as(CallClass.ONBOARDING, until=None if until is None else self._clock() + until):
                yield
        finally:
            self._admitted -= 1

    @contextlib.contextmanager
    def validating(self) -> Iterator[None]:
        """One validation's calls, on the validation share, each waiting at most VALIDATION_HORIZON; raises
        OutOfBudget (answer 429 with its retry_after) above VALIDATION_CONCURRENCY in flight."""
        if self._validating >= VALIDATION_CONCURRENCY:
            raise OutOfBudget("too many validations in flight", self._validation_wait(VALIDATION_CONCURRENCY))
        self._validating += 1
        try:
            with calls_as(CallClass.VALIDATION, until=self._clock() + VALIDATION_HORIZON):
                yield
        finally:
            self._validating -= 1

    def _validation_wait(self, validations: int) -> float:
        row, now = self.leases.seen or BudgetRow(), self._clock()
        per_call = self.budget.interval / self.budget.validation_share
        return max(row.validation_tat - now, 0.0) + validations * 3 * per_call

    async def due_back(self, refused: OutOfBudget) -> float:
        """How long a request the budget refused (OutOfBudget) should stay away: after every request sent back before
        it, as the shared row counts them, or, while the row cannot be reached, as this instance does. The row is
        written once for DEFERRAL_BLOCK requests (a block of return times, as for calls), not once a request: the
        requests refused together wait for the one write that takes their block, rather than each racing to write."""
        async with self._returns_taken:
            return await self._due_back(refused)

    async def _due_back(self, refused: OutOfBudget) -> float:
        now, wait = self._clock(), refused.retry_after or 0.0
        step = REQUEST_CALLS * self.budget.interval
        next_back, block_end = self._returns
        if now < next_back < block_end:  # this instance's block of return times still has room (`wait` is a guess)
            self._returns = (next_back + step, block_end)
            return min(next_back - now, MAX_DEFERRAL)
        back = None
        if self.leases.mode != "fallback":
            back = await self.leases.defer(wait, REQUEST_CALLS * DEFERRAL_BLOCK)
        if back is not None:
            self._returns = (back + step, back + DEFERRAL_BLOCK * step)
        else:
            back = max(self._defer_next, now + wait)
            self._defer_next = back + REQUEST_CALLS * self.local_interval()
        return min(back - now, MAX_DEFERRAL)

    def _out_of_time(self, call_class: CallClass) -> OutOfBudget:
        if call_class.lane == "validation":
            return OutOfBudget("no validation slot within its horizon", self._validation_wait(1))
        row = self.leases.seen or BudgetRow()
        wait = max(row.tat - self._clock(), 0.0) + self._pacer.unserved("onboarding") * self.local_interval()
        return OutOfBudget("no Partner Center call slot before the invocation's deadline", wait)

    # --- leasing -------------------------------------------------------------------------------------------------

    def _lease_soon(self, lane: Lane) -> None:
        if lane not in self._leasing:
            self._leasing[lane] = asyncio.get_running_loop().create_task(self._lease_while_wanted(lane))

    def _recent(self, lane: Lane) -> int:
        """Calls of `lane` this instance made in the last half block: what a block adds to the callers waiting, so
        that a busy instance leases at its pace, not a few calls at a time (fewer storage operations a call)."""
        granted, since = self._granted[lane], self._clock() - BLOCK_SECONDS / 2
        while granted and granted[0] < since:
            granted.popleft()
        return len(granted)

    async def _lease_while_wanted(self, lane: Lane) -> None:
        try:
            while (waiting := self._pacer.unserved(lane)) > 0:
                calls = waiting + self._recent(lane)
                outcome = await self.leases.lease(lane, calls, held_until=self._pacer.held_until)
                if isinstance(outcome, Full):
                    self._pacer.give_up(lane, outcome.retry_at)
                    await self._sleep(max(outcome.retry_at - self._clock(), 0.0) + random.uniform(0, 0.05))
                else:
                    self._pacer.add(lane, outcome)
        except Exception:  # a bug here must not strand the callers: the next caller leases again
            log.exception("Partner Center budget: leasing failed")
        finally:
            self._leasing.pop(lane, None)

    def _summarise(self) -> None:
        now = self._clock()
        if now < self._summary_at:
            return
        self._summary_at = now + SUMMARY_SECONDS
        stats, mode = self.stats, self.leases.mode
        per_call = (stats["reads"] + stats["writes"]) / max(stats["calls"], 1)
        log.info(
            "Partner Center budget: %d calls, %d leases, %.2f storage operations a call, mode %s",
            stats["calls"], stats["leases"], per_call, mode,
            extra={
                "budgetPerMinute": self.budget.per_minute, "budgetInstance": self.leases.instance, "budgetMode": mode,
                "budgetCalls": stats["calls"], "budgetLeases": stats["leases"], "budgetReads": stats["reads"],
                "budgetWrites": stats["writes"], "budgetConflicts": stats["conflicts"],
                "budgetFailures": stats["failures"], "budgetFallbackCalls": stats["fallback_calls"],
            },
        )  # fmt: skip
