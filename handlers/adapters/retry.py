"""Retries, in one place: transient errors are retried with backoff, honouring Retry-After, within a budget."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TypeVar

from tenacity import (
    AsyncRetrying,
    RetryCallState,
    retry_if_exception,
    stop_after_attempt,
    stop_before_delay,
    wait_exponential_jitter,
)

from handlers.failures import ErrorKind, OnboardingError
from handlers.telemetry import retries

T = TypeVar("T")
log = logging.getLogger("csp_onboarding")


@dataclass(frozen=True)
class RetryPolicy:
    """How hard one call tries: attempts, backoff, and a time budget so an invocation ends well within
    the queue's visibility timeout (the queue then redelivers, with the same MS-RequestId)."""

    max_attempts: int = 5
    initial_backoff: float = 0.5
    max_backoff: float = 8.0
    budget_seconds: float = 120.0
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep


def _is_transient(exc: BaseException) -> bool:
    return isinstance(exc, OnboardingError) and exc.kind is ErrorKind.TRANSIENT


async def call_with_retries(policy: RetryPolicy, operation: Callable[[], Awaitable[T]], *, what: str) -> T:
    """Run `operation` until it succeeds, fails for good, or the policy is spent; re-raises the last error."""
    backoff = wait_exponential_jitter(
        multiplier=policy.initial_backoff, max=policy.max_backoff, jitter=policy.initial_backoff
    )

    def wait(state: RetryCallState) -> float:
        exc = state.outcome.exception() if state.outcome else None
        if isinstance(exc, OnboardingError) and exc.retry_after is not None:
            return max(exc.retry_after, 0.0)
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
        stop=stop_after_attempt(policy.max_attempts) | stop_before_delay(policy.budget_seconds),
        wait=wait,
        retry=retry_if_exception(_is_transient),
        before_sleep=before_sleep,
        sleep=policy.sleep,
        reraise=True,
    )
    return await retrying(operation)
