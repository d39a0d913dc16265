"""Retries, in one place: transient errors are retried with backoff, honouring Retry-After, within a budget."""

from __future__ import annotations

import asyncio
import logging
import math
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from typing import Any, TypeVar

from tenacity import (
    AsyncRetrying,
    RetryCallState,
    retry_if_exception,
    stop_after_attempt,
    wait_exponential_jitter,
)
from tenacity.stop import stop_base

from handlers.domain.budget import OutOfBudget
from handlers.domain.failures import ErrorKind, OnboardingError
from handlers.domain.timing import TimingModel
from handlers.observability.telemetry import retries

T = TypeVar("T")
log = logging.getLogger("csp_onboarding")


@dataclass(frozen=True)
class RetryPolicy:
    """How hard one call tries: attempts, backoff, and a budget of call time (attempts and backoff; time spent
    waiting for a budget slot is not counted), so that each round of an invocation fits the timing model
    (domain/timing.py). A Retry-After is believed up to `max_retry_after`; one that does not fit the budget ends
    the call at once, and the queue redelivers (with the same MS-RequestId)."""

    budget_seconds: float
    max_retry_after: float
    max_attempts: int = 5
    initial_backoff: float = 0.5
    max_backoff: float = 8.0
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep

    @classmethod
    def of(cls, timing: TimingModel, **changes: Any) -> RetryPolicy:
        """One round's policy under this timing model: its call-time budget and Retry-After cap."""
        return cls(**{"budget_seconds": timing.round_budget, "max_retry_after": timing.max_retry_after, **changes})


def retry_after_seconds(value: str | None, *, cap: float, now: Callable[[], float] = time.time) -> float | None:
    """A Retry-After header (seconds, or an HTTP date) as a wait in [0, cap]; None when absent or unreadable.
    Parsed here for every client: an answer of `inf`, `86400` or the year 9999 holds nobody longer than `cap`."""
    if not value:
        return None
    try:
        seconds = float(value)
    except ValueError:
        try:
            seconds = parsedate_to_datetime(value).timestamp() - now()
        except (TypeError, ValueError, OverflowError, IndexError):
            return None
    if math.isnan(seconds):
        return None
    return min(max(seconds, 0.0), cap)


class _OutOfBudget(stop_base):
    """Stop when call time so far, plus the coming wait, would pass the budget; budget waits are not call time."""

    def __init__(self, budget: float, paused: Callable[[], float]) -> None:
        self._budget = budget
        self._paused = paused

    def __call__(self, retry_state: RetryCallState) -> bool:
        call_time = (retry_state.seconds_since_start or 0.0) - self._paused()
        return call_time + (retry_state.upcoming_sleep or 0.0) >= self._budget


def _is_transient(exc: BaseException) -> bool:
    # OutOfBudget is transient for the queue, never for the call: the budget has no slot in time, so its caller
    # decides (a request goes back to the queue, a validation answers 429).
    return isinstance(exc, OnboardingError) and exc.kind is ErrorKind.TRANSIENT and not isinstance(exc, OutOfBudget)


async def call_with_retries(
    policy: RetryPolicy,
    operation: Callable[[], Awaitable[T]],
    *,
    what: str,
    paused: Callable[[], float] = lambda: 0.0,
) -> T:
    """Run `operation` until it succeeds, fails for good, or the policy is spent; re-raises the last error.
    `paused()` tells how long the operation has spent waiting outside its own calls (for budget slots): that time
    does not count against the budget."""
    backoff = wait_exponential_jitter(
        multiplier=policy.initial_backoff, max=policy.max_backoff, jitter=policy.initial_backoff
    )

    def wait(state: RetryCallState) -> float:
        exc = state.outcome.exception() if state.outcome else None
        if isinstance(exc, OnboardingError) and exc.retry_after is not None:
            return min(max(exc.retry_after, 0.0), policy.max_retry_after)
        return float(backoff(state))

    def before_sleep(state: RetryCallState) -> None:
        exc = state.outcome.exception() if state.outcome else None
        wait_s = state.next_action.sleep if state.next_action else 0.0
        retries.add(1, {"target": what})
        log.warning(
            "%s failed (attempt %d): %s; retrying in %.2fs",
            what,
            state.attempt_number,
            exc,
            wait_s,
            extra={"retryAttempt": state.attempt_number},
        )

    retrying = AsyncRetrying(
        stop=stop_after_attempt(policy.max_attempts) | _OutOfBudget(policy.budget_seconds, paused),
        wait=wait,
        retry=retry_if_exception(_is_transient),
        before_sleep=before_sleep,
        sleep=policy.sleep,
        reraise=True,
    )
    return await retrying(operation)
