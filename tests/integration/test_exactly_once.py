"""Exactly once under faults: a small chaos soak, and a replay of poisoned requests after an outage."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from bench.soak import request, run_soak
from devhost.hostjson import timing_overrides
from devhost.stack import QUEUE, Stack
from ops.replay_poison import replay
from tests.integration.conftest import Harness
from tests.leak_scan import stop_after_scan

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def chaos_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    """A stack whose invocations have time to honour Retry-After: each injected 429 holds every caller of the
    worker for a second, so a round of calls can wait several seconds (the shared stack allows 1.5 s)."""
    stack = Stack(
        log_dir=tmp_path_factory.mktemp("chaos-logs"),
        host_args=["--max-polling-interval", "0.2", "--lease-seconds", "45"],
        extra_env={**timing_overrides(visibility_timeout=4), "PARTNER_CENTER_MAX_REQUESTS_PER_MINUTE": "100000"},
        table_proxy=True,
        app_user=True,
    ).start()
    yield stack
    stop_after_scan(stack)


def test_a_chaos_soak_of_100_requests_gives_exactly_one_customer_and_outcome_each(chaos_stack: Stack) -> None:
    # Reality's mix: throttling, 503s, creates committed then dropped, lost storage answers, listing lag, replays
    # without the password, and a tenth of the requests delivered twice at the same moment.
    report = run_soak(100, kills=0, seed=11, timeout=240, stack=chaos_stack)
    assert sum(report.faults_fired.values()) > 0, "the soak injected faults"
    figures = (report.customers_created, report.created_requests, report.duplicate_domains, report.lost)
    assert figures == (100, 100, 0, 0), report
    assert (report.poisoned, report.failed_events, report.contradictory_outcomes) == (0, 0, 0), report
    # A fifth carry mcaAcceptance, with faults on the agreement endpoints too: one agreement.* outcome each, and
    # Partner Center holds one attestation per confirmed request.
    assert report.mca_requests > 0 and report.faults_fired["agreements.create:status:first2"] == 2, report
    assert (report.agreements_missing, report.agreements_contradictory) == (0, 0), report
    assert report.attestations == report.agreements_confirmed == report.mca_requests, report


def test_poisoned_requests_replayed_after_an_outage_are_created_once(harness: Harness) -> None:
    harness.stack.admin(
        "POST", "faults", {"target": "customers.create", "kind": "status", "status": 503, "times": None}
    )
    requests = [request(i, "rp") for i in range(3)]
    for body in requests:
        harness.enqueue(body)
    exhausted = harness.wait_for_events(3, timeout=120)
    assert {e["data"]["reason"] for e in exhausted} == {"retries_exhausted"}
    harness.stack.admin("DELETE", "faults")  # the outage is over
    parked = harness.stack.queue(f"{QUEUE}-exhausted")
    assert harness.wait_for_messages(parked, 3) == 3, "the poison function parked them for a replay"
    assert harness.queue_length(harness.poison) == 0, "and consumed them"
    assert len(harness.stack.events()) == 3, "each on its first try: no poison invocation failed and repeated"
    assert replay(parked, harness.queue, limit=100) == 3
    created = harness.wait_for_events(3, where=lambda e: e["type"].endswith(".created"), timeout=60)
    assert sorted(e["data"]["requestId"] for e in created) == sorted(r["requestId"] for r in requests)
    assert len(harness.stack.admin("GET", "customers")) == 3
