"""Paced to the quota: a backlog drains at Partner Center's pace with (almost) no 429."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator

import pytest

from bench.soak import request
from devhost.stack import Stack
from emulator.app import PARTNER_CENTER_ENDPOINTS
from tests.integration.conftest import Harness

pytestmark = pytest.mark.integration

PER_MINUTE = 1200  # 20 calls a second: Partner Center's 500/min, scaled up in time


@pytest.fixture(scope="module")
def paced_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    stack = Stack(
        log_dir=tmp_path_factory.mktemp("paced"),
        host_args=["--max-polling-interval", "0.1"],
        extra_env={"PARTNER_CENTER_MAX_REQUESTS_PER_MINUTE": str(PER_MINUTE)},
    ).start(host=False)
    yield stack
    stack.stop()


@pytest.mark.parametrize("window_seconds", [None, 3], ids=["token-bucket", "strict-3s-window"])
def test_a_backlog_drains_at_the_quota_pace_without_429_storms(paced_stack: Stack, window_seconds: int | None) -> None:
    paced_stack.kill_host()
    paced_stack.admin("POST", "reset")
    paced_stack.admin("POST", "ratelimit", {"perMinute": PER_MINUTE, "windowSeconds": window_seconds})
    queue = paced_stack.queue()
    tag = f"pace{window_seconds or 0}"
    for i in range(40):
        queue.send_message(json.dumps(request(i, tag)))
    started = time.monotonic()
    paced_stack.start_host()
    events = Harness(paced_stack).wait_for_events(40, timeout=120)
    drained = time.monotonic() - started
    assert {e["type"] for e in events} == {"csp.onboarding.customer.created"}
    calls = [c for c in paced_stack.admin("GET", "calls") if c["endpoint"] in PARTNER_CENTER_ENDPOINTS]
    throttled = sum(1 for c in calls if c["status"] == 429)
    assert throttled <= max(1, 0.02 * len(calls)), f"{throttled} of {len(calls)} calls throttled"
    assert drained >= (len(calls) - throttled) / (PER_MINUTE / 60) * 0.9  # paced, not bursting
