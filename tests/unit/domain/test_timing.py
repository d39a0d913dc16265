"""The timing model's invariants, for any host.json the host accepts: an invocation ends before its claim, the claim
before the queue's retry window, and everything before the host's function timeout."""

from __future__ import annotations

import pytest

from handlers.domain.timing import TimingModel


@pytest.mark.parametrize(
    ("visibility", "dequeues", "function_timeout"),
    [(30, 5, 300), (1, 5, 300), (1, 2, 300), (0.2, 2, 10), (600, 10, 300), (5, 3, 1800)],
)
def test_an_invocation_ends_inside_its_claim_and_the_claim_inside_the_retry_window(
    visibility: float, dequeues: int, function_timeout: float
) -> None:
    timing = TimingModel(visibility, dequeues, function_timeout)
    assert 0 < timing.invocation_timeout < timing.lease < timing.retry_window
    assert timing.invocation_timeout < function_timeout
    assert 0 < timing.round_budget <= timing.invocation_timeout / 4
    assert 0 < timing.max_retry_after <= min(60, timing.invocation_timeout)


def test_one_delivery_is_no_retry_window() -> None:
    with pytest.raises(ValueError, match="maxDequeueCount"):
        TimingModel(30, 1, 300)
