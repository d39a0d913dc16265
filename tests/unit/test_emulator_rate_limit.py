"""The emulator's Partner Center rate limit: a token bucket that bursts to one second's worth."""

from __future__ import annotations

from emulator.state import RateLimit


def test_a_burst_beyond_one_second_of_budget_is_refused_with_a_wait() -> None:
    limit = RateLimit(per_minute=600)  # 10 per second
    answers = [limit.take() for _ in range(11)]
    assert answers[:10] == [0.0] * 10
    assert 0 < answers[10] <= 0.1 + 1e-6


def test_the_bucket_refills_at_the_rate() -> None:
    limit = RateLimit(per_minute=600)
    for _ in range(10):
        limit.take()
    limit.updated -= 0.5  # half a second later: five more calls
    assert [limit.take() for _ in range(5)] == [0.0] * 5
    assert limit.take() > 0
