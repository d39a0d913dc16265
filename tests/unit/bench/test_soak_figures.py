"""The soak's figures: outcomes per request (contradictions counted on their own) and the pace of a drain."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from bench.soak_figures import SoakReport, count_outcomes, measure_pace


def event(kind: str, request_id: str, reason: str | None = None) -> dict[str, Any]:
    data: dict[str, Any] = {"requestId": request_id}
    if reason:
        data["reason"] = reason
    return {"type": f"csp.onboarding.customer.{kind}", "id": f"{kind}-{request_id}", "data": data}


def customer(domain: str) -> dict[str, Any]:
    return {"id": domain, "companyProfile": {"domain": domain}}


def test_a_request_with_both_a_created_and_a_failed_event_is_a_contradiction() -> None:
    events = [
        event("created", "a"),
        event("created", "a"),  # published again: a duplicate, not a contradiction
        event("created", "b"),
        event("failed", "b", "retries_exhausted"),
        event("failed", "c", "domain_unavailable"),
        event("created", "other-run"),
    ]
    figures = count_outcomes({"a", "b", "c", "d"}, events, [customer("a.x"), customer("b.x"), customer("b.x")])
    assert figures.contradictory_outcomes == 1
    assert (figures.created_events, figures.created_requests, figures.failed_events) == (3, 2, 2)
    assert (figures.poisoned, figures.lost, figures.duplicate_outcomes) == (1, 1, 1)
    assert (figures.customers_created, figures.duplicate_domains) == (3, 1)


def report(**changes: Any) -> SoakReport:
    clean = count_outcomes({"a", "b"}, [event("created", "a"), event("created", "b")], [customer("a"), customer("b")])
    return SoakReport(**{**asdict(clean), "requests": 2, **changes})


def test_exactly_once_needs_one_customer_per_request_and_no_contradiction() -> None:
    assert report().exactly_once
    assert not report(contradictory_outcomes=1).exactly_once
    assert not report(customers_created=3).exactly_once
    assert not report(duplicate_domains=1).exactly_once
    assert not report(requests=3).exactly_once


def test_the_pace_is_partner_center_calls_per_minute_from_first_to_last_against_the_budget() -> None:
    calls = [{"endpoint": "customers.create", "at": 100.0 + i * 0.5, "status": 201} for i in range(121)]  # 60 s
    calls[3]["status"] = 429
    calls += [{"endpoint": "entra.token", "at": 50.0, "status": 200}, {"endpoint": "events.publish", "at": 500.0}]
    pace = measure_pace(calls)
    assert (pace.partner_center_calls, pace.throttled_calls, pace.drain_seconds) == (121, 1, 60.0)
    assert (pace.calls_per_minute, pace.budget_percent) == (121.0, 24.2)
    assert measure_pace(calls, budget_per_minute=121).budget_percent == 100.0


def test_no_pace_without_two_calls() -> None:
    assert measure_pace([]).calls_per_minute == 0.0
