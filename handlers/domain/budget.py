"""The shared Partner Center budget's arithmetic (contract rule 8, §4): one schedule of call slots for the whole app,
kept in one storage row that every instance of every function leases small blocks from. Pure: the clock is passed in.

PARTNER_CENTER_MAX_REQUESTS_PER_MINUTE (B) is the whole app's budget, never divided by an instance count. Calls are
spaced I = 60 / (B × 0.98) apart: 2 % under the budget, so a limit counted over a sliding window never sees
scheduling jitter as a burst. The row holds `tat`, the time of the next free slot (a GCRA "theoretical arrival
time"). A lease of k calls takes the window [start, start + k·I) with start = max(now, tat, held_until) and moves
`tat` to its end, in a write conditional on the row's ETag. Windows never overlap, so the app's calls together are
spaced at least I apart however many instances lease, and an instance spaces its own calls inside its window with
no storage round trip.

- **Blocks.** A block holds at most BLOCK_SECONDS of the budget and no more calls than the instance has waiting. A
  block nobody uses (its instance died, or its callers went away) ends with its window: nothing is owed, nothing
  needs reclaiming, and the schedule never runs ahead of the clock for an idle budget (start >= now).
- **Horizon.** Onboarding books at most ONBOARDING_HORIZON ahead; beyond it the row is full, and a request whose
  calls cannot be had within its invocation goes back to the queue (onboarding/backpressure.py).
- **Validation share.** POST /validate has its own schedule, `validation_tat`, at VALIDATION_SHARE of the budget.
  While validation has booked within VALIDATION_GRACE, onboarding leases at (1 - share) of the budget, so the two
  together stay at B and a validation flood slows a backlog by at most 1 / (1 - share). The first validation after
  a quiet spell starts after the slots onboarding has already booked at the full rate.
- **Holds.** A 429's Retry-After (already bounded by the timing model) is recorded on the row, so every instance
  holds off on its next lease. A 429 the schedule did not predict (random throttling, another tool on the tenant)
  holds everyone briefly: BRIEF_HOLD of its Retry-After. A 429 that follows a hold within a few calls doubles the
  hold, up to the whole Retry-After, and cuts the pace to SLOWDOWN, which climbs back over RECOVERY_CALLS calls'
  time; the cut never compounds. The refused call itself always waits its whole Retry-After (the retry policy).
- **Backpressure.** A request sent back to the queue is due back after every request sent back before it, each
  taking its calls' share of the schedule (`deferred_until`): a backlog sent back by many instances returns at the
  pace the whole budget serves, however unevenly the instances received it.
- **Fallback.** When the row cannot be read or written, an instance paces alone at 1/n of the budget, n being
  FALLBACK_SAFETY × the instances that leased within ACTIVE_SECONDS as the row last showed, or UNKNOWN_INSTANCES
  (the lowest maximum instance count Flex Consumption accepts everywhere) when it never saw the row.

Times are wall-clock seconds (time.time()). Instances' clocks are taken to be NTP-close: one running ε ahead may
start ε early, at most ε / I calls, inside the 2 % margin.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from enum import IntEnum
from types import MappingProxyType
from typing import Literal

from handlers.domain.failures import ErrorKind, OnboardingError

MARGIN = 0.02
BLOCK_SECONDS = 1.0
ONBOARDING_HORIZON = 10.0
VALIDATION_SHARE = 0.1
VALIDATION_GRACE = 30.0
VALIDATION_HORIZON = 15.0  # a validation waits at most this long for its calls (else 429 with Retry-After)
VALIDATION_CONCURRENCY = 4  # validations in flight per instance (above it: 429 with Retry-After)
BRIEF_HOLD = 1 / 8
FOLLOW_CALLS = 3
SLOWDOWN = 0.7
RECOVERY_CALLS = 100
ACTIVE_SECONDS = 60.0
FALLBACK_SAFETY = 1.25
UNKNOWN_INSTANCES = 40
DEFAULT_RETRY_AFTER = 1.0  # a 429 without a Retry-After
REQUEST_CALLS = 3  # a request's calls: domain check, address validation, create (country rules are cached)

Lane = Literal["onboarding", "validation"]


class CallClass(IntEnum):
    """Whose call it is: the lower, the sooner it is served within an instance."""

    FINISH = 0  # a request past its pre-flight: its create and what follows it
    ONBOARDING = 1  # the queue function's pre-flight, the poison and timer paths, ops.backfill --preflight
    VALIDATION = 2  # POST /validate, on its own bounded share

    @property
    def lane(self) -> Lane:
        """Which schedule the call's slot comes from."""
        return "validation" if self is CallClass.VALIDATION else "onboarding"


class OutOfBudget(OnboardingError):
    """No Partner Center call slot can be had in time (a backlog larger than the quota serves within an invocation,
    or a validation over its share): `retry_after` says when to try again. Never retried where it is raised."""

    def __init__(self, message: str, retry_after: float) -> None:
        super().__init__(ErrorKind.TRANSIENT, message, retry_after=max(retry_after, 0.0))


@dataclass(frozen=True)
class BudgetRow:
    """The shared row, as read (with its ETag) or about to be written."""

    tat: float = 0.0  # the next free onboarding slot
    validation_tat: float = 0.0  # the next free validation slot
    validation_until: float = 0.0  # onboarding leaves the validation share free until then
    held_until: float = 0.0  # nobody calls before this (a recorded Retry-After)
    hold_seconds: float = 0.0  # the last hold's length: a 429 that follows it doubles it
    slowed_at: float = 0.0  # when the pace was last cut
    deferred_until: float = 0.0  # when the last request sent back to the queue is due back
    instances: Mapping[str, float] = field(default_factory=lambda: MappingProxyType({}))  # id → its last lease
    etag: str | None = None


@dataclass(frozen=True)
class Block:
    """A leased window of the schedule: `calls` slots, `interval` apart, from `start`."""

    start: float
    calls: int
    interval: float

    @property
    def end(self) -> float:
        return self.start + self.calls * self.interval

    def slots(self) -> list[float]:
        return [self.start + i * self.interval for i in range(self.calls)]


@dataclass(frozen=True)
class Full:
    """Nothing can be leased now: the schedule is booked beyond the horizon until `retry_at`."""

    retry_at: float


@dataclass(frozen=True)
class Budget:
    """The whole app's budget of Partner Center calls per minute, and the arithmetic of leasing it."""

    per_minute: int
    margin: float = MARGIN
    validation_share: float = VALIDATION_SHARE

    def __post_init__(self) -> None:
        if self.per_minute <= 0 or not 0 <= self.margin < 1 or not 0 < self.validation_share < 1:
            raise ValueError("per_minute must be positive, margin in [0, 1), validation_share in (0, 1)")

    @property
    def interval(self) -> float:
        """I: seconds between two calls of the whole app at full pace."""
        return 60.0 / (self.per_minute * (1 - self.margin))

    @property
    def max_block(self) -> int:
        """The most calls one lease takes."""
        return max(1, math.floor(BLOCK_SECONDS / self.interval))

    def pace(self, row: BudgetRow, at: float) -> float:
        """The fraction of the budget in use at `at`: SLOWDOWN after a cut, back to 1 over RECOVERY_CALLS calls."""
        if not row.slowed_at:
            return 1.0
        recovered = (at - row.slowed_at) / (RECOVERY_CALLS * self.interval)
        return min(1.0, SLOWDOWN + (1 - SLOWDOWN) * max(recovered, 0.0))

    def lease(
        self, row: BudgetRow, now: float, calls: int, call_class: CallClass, instance: str
    ) -> tuple[BudgetRow, Block | Full]:
        """The row after leasing up to `calls` slots for `call_class`, and the block (or Full: come back later).
        The row returned is `row` itself when nothing is to be written."""
        calls = max(1, min(calls, self.max_block))
        if call_class.lane == "validation":
            return self._lease_validation(row, now, calls, instance)
        start = max(now, row.tat, row.held_until)
        if start - now > ONBOARDING_HORIZON:
            return row, Full(start - ONBOARDING_HORIZON)
        interval = self.interval / self.pace(row, start)
        if row.validation_until > start:  # leave validation its share
            interval /= 1 - self.validation_share
        block = Block(start, calls, interval)
        return replace(row, tat=block.end, instances=_seen(row, instance, now)), block

    def _lease_validation(
        self, row: BudgetRow, now: float, calls: int, instance: str
    ) -> tuple[BudgetRow, Block | Full]:
        if row.validation_until <= now:  # quiet until now: start after what onboarding booked at the full rate
            row = replace(row, validation_tat=max(now, row.tat))
        start = max(now, row.validation_tat, row.held_until)
        interval = self.interval / self.pace(row, start) / self.validation_share
        if start - now > VALIDATION_HORIZON:  # still reserve the share, so that it frees up
            return replace(row, validation_until=max(row.validation_until, start + VALIDATION_GRACE)), Full(
                start - VALIDATION_HORIZON
            )
        block = Block(start, calls, interval)
        leased = replace(
            row, validation_tat=block.end, validation_until=block.end + VALIDATION_GRACE,
            instances=_seen(row, instance, now),
        )  # fmt: skip
        return leased, block

    def throttled(self, row: BudgetRow, now: float, retry_after: float | None) -> BudgetRow:
        """The row after a 429 answered at `now` (see the module docstring, Holds); `row` itself when the 429 belongs
        to a hold already recorded."""
        if now < row.held_until:
            return row  # a call that went out before the hold was known: the same event
        whole = DEFAULT_RETRY_AFTER if retry_after is None else max(retry_after, 0.0)
        follows = bool(row.held_until) and now - row.held_until <= FOLLOW_CALLS * self.interval + row.hold_seconds
        hold = min(whole, max(2 * row.hold_seconds, BRIEF_HOLD * whole)) if follows else BRIEF_HOLD * whole
        return replace(row, held_until=now + hold, hold_seconds=hold, slowed_at=now if follows else row.slowed_at)

    def defer(self, row: BudgetRow, now: float, wait: float, calls: int) -> tuple[BudgetRow, float]:
        """The row after sending a request of `calls` calls back to the queue at `now`, and when it is due back: once
        it could be served (`wait`), and after every request sent back before it, each taking its calls' share of
        the whole app's schedule, so that a backlog sent back returns at the pace the budget serves it."""
        back = max(now + max(wait, 0.0), row.deferred_until)
        return replace(row, deferred_until=back + calls * self.interval / self.pace(row, now)), back

    def fallback_interval(self, row: BudgetRow | None, now: float, call_class: CallClass) -> float:
        """Seconds between this instance's calls while the row cannot be reached: its conservative local share."""
        share = self.interval * self.instances_for_fallback(row, now)
        return share / self.validation_share if call_class.lane == "validation" else share

    def instances_for_fallback(self, row: BudgetRow | None, now: float) -> int:
        """How many instances the fallback shares the budget with (the module docstring, Fallback)."""
        if row is None:
            return UNKNOWN_INSTANCES
        return max(2, math.ceil(FALLBACK_SAFETY * active_instances(row, now)))


def active_instances(row: BudgetRow, now: float) -> int:
    """Instances that leased within ACTIVE_SECONDS (at least one: this one)."""
    return max(1, sum(1 for seen in row.instances.values() if now - seen <= ACTIVE_SECONDS))


def _seen(row: BudgetRow, instance: str, now: float) -> Mapping[str, float]:
    recent = {name: at for name, at in row.instances.items() if now - at <= ACTIVE_SECONDS}
    recent[instance] = now
    return MappingProxyType(recent)
