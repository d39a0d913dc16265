"""Exactly once through the real stack under the faults reality has: lost storage answers (the table fault proxy),
a ghost create with a forgotten MS-RequestId and listing lag, the same request delivered twice at once, an absurd
Retry-After, and a Key Vault outage after the create."""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Iterator
from typing import Any

import pytest

from bench.soak import request
from devhost.stack import Stack
from tests.integration.conftest import FAST_RETRIES, Harness
from tests.leak_scan import stop_after_scan

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def real(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Harness]:
    stack = Stack(
        log_dir=tmp_path_factory.mktemp("real-world-logs"),
        host_args=["--max-polling-interval", "0.2", "--lease-seconds", "30"],
        extra_env={**FAST_RETRIES, "PARTNER_CENTER_MAX_REQUESTS_PER_MINUTE": "12000"},
        table_proxy=True,
        vault=True,
    ).start()
    yield Harness(stack)
    stop_after_scan(stack)


@pytest.fixture
def harness(real: Harness) -> Harness:
    real.stack.admin("POST", "reset")
    return real


def outcomes(harness: Harness, ids: set[str], *, timeout: float = 60.0) -> dict[str, list[str]]:
    """Each request's published outcome types, once every request has one (or at the deadline), after a pause
    that lets wrong extra outcomes show themselves."""
    harness.wait_for_events(len(ids), where=lambda e: e["data"].get("requestId") in ids, timeout=timeout)
    harness.settle(3)
    kinds: dict[str, list[str]] = {i: [] for i in ids}
    for event in harness.stack.events():
        if event["data"].get("requestId") in ids:
            kinds[event["data"]["requestId"]].append(event["type"].rsplit(".", 1)[1])
    return kinds


def customers_by_domain(harness: Harness) -> Counter[str]:
    return Counter(c["companyProfile"]["domain"] for c in harness.stack.admin("GET", "customers"))


def bodies(tag: str, count: int) -> list[dict[str, Any]]:
    return [request(i, tag) for i in range(count)]


def test_lost_storage_answers_strand_no_request(harness: Harness) -> None:
    harness.stack.admin("POST", "storage-faults", {"dropAfterCommit": 0.3, "times": 12, "seed": 3})
    sent = bodies("sd", 8)
    for body in sent:
        harness.enqueue(body)
    kinds = outcomes(harness, {b["requestId"] for b in sent})
    assert harness.counters().get("storage_drops_after_commit", 0) > 0, "answers were dropped"
    assert all(set(k) == {"created"} for k in kinds.values()), kinds
    assert max(customers_by_domain(harness).values()) == 1 and sum(customers_by_domain(harness).values()) == 8


def test_a_ghost_create_forgotten_by_partner_center_and_hidden_by_listing_lag_is_adopted(harness: Harness) -> None:
    harness.stack.admin("POST", "behaviour", {"idempotent": False, "listingLagSeconds": 4})
    harness.stack.admin("POST", "faults", {"target": "customers.create", "kind": "commit_drop", "times": 1})
    [body] = bodies("gh", 1)
    harness.enqueue(body)
    kinds = outcomes(harness, {body["requestId"]}, timeout=40)
    assert kinds == {body["requestId"]: ["created"]}  # never domain_unavailable for our own tenant
    assert list(customers_by_domain(harness).values()) == [1]


def test_the_same_request_delivered_twice_at_the_same_moment_is_one_customer_and_one_outcome(
    harness: Harness,
) -> None:
    sent = bodies("dup", 6)
    for body in sent:
        harness.enqueue(body)
        harness.enqueue(body)
    kinds = outcomes(harness, {b["requestId"] for b in sent})
    assert all(set(k) == {"created"} for k in kinds.values()), kinds
    assert sum(customers_by_domain(harness).values()) == 6


def test_an_absurd_retry_after_does_not_stall_an_unrelated_request(harness: Harness) -> None:
    harness.stack.admin(
        "POST", "faults", {"target": "domains.head", "kind": "throttle", "retryAfter": "86400", "times": 1}
    )
    first, second = bodies("ra", 2)
    harness.enqueue(first)
    time.sleep(1)
    started = time.monotonic()
    harness.enqueue(second)
    kinds = outcomes(harness, {first["requestId"], second["requestId"]}, timeout=40)
    assert time.monotonic() - started < 25, "held no longer than the bounded Retry-After"
    assert all(k == ["created"] for k in kinds.values()), kinds


def test_a_vault_outage_after_the_create_ends_created_never_failed(harness: Harness) -> None:
    harness.stack.admin("POST", "faults", {"target": "vault.set", "kind": "status", "status": 503, "times": None})
    [body] = bodies("kv", 1)
    harness.enqueue(body)
    kinds = outcomes(harness, {body["requestId"]}, timeout=60)  # every delivery fails at the vault, then poison
    assert kinds == {body["requestId"]: ["created"]}
    [event] = [e for e in harness.stack.events() if e["data"].get("requestId") == body["requestId"]]
    assert event["data"]["adminCredentialsSecretId"] is None
    assert list(customers_by_domain(harness).values()) == [1]
