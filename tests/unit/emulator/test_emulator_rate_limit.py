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


def test_a_sliding_window_allows_its_share_in_any_window_and_no_burst_beyond() -> None:
    limit = RateLimit(per_minute=600, window_seconds=1)  # at most 10 calls in any second
    assert [limit.take() for _ in range(10)] == [0.0] * 10
    wait = limit.take()
    assert 0.9 < wait <= 1.0  # until the oldest call leaves the window
    limit.recent[0] -= 1.0  # a second after the first call: one slot is free again, and only one
    assert limit.take() == 0.0
    assert limit.take() > 0
