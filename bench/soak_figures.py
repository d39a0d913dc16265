"""What a soak counts: customers, outcomes and Partner Center calls, from what the emulator recorded."""

from __future__ import annotations

from collections import Counter
from collections.abc import Collection, Iterable
from dataclasses import dataclass, field
from typing import Any

from emulator.app import PARTNER_CENTER_ENDPOINTS

DEFAULT_BUDGET_PER_MINUTE = 500  # PARTNER_CENTER_MAX_REQUESTS_PER_MINUTE unset: Partner Center's per-tenant limit


@dataclass
class Outcomes:
    customers_created: int
    duplicate_domains: int
    created_events: int
    created_requests: int
    failed_events: int
    poisoned: int
    lost: int
    duplicate_outcomes: int
    contradictory_outcomes: int  # requests with both a `created` and a `failed` event: must be 0
    mca_requests: int = 0  # requests carrying customer.mcaAcceptance
    agreements_confirmed: int = 0  # of those, requests with an agreement.confirmed event
    agreements_failed: int = 0  # … with an agreement.failed event
    agreements_missing: int = 0  # … with no agreement.* event: must be 0
    agreements_contradictory: int = 0  # … with both: must be 0
    attestations: int = 0  # agreements Partner Center holds for the soak's customers (one per MCA request)


def count_outcomes(
    wanted: Collection[str],
    events: Iterable[dict[str, Any]],
    customers: list[dict[str, Any]],
    *,
    mca: Collection[str] = (),
    agreements: dict[str, list[Any]] | None = None,
) -> Outcomes:
    """Tally the events of the wanted requestIds and the customers Partner Center holds; for the requests in `mca`,
    their agreement.* events and the attestations (`agreements`: customer id → agreements) Partner Center holds."""
    events = [e for e in events if e["data"].get("requestId") in wanted]
    agreement_events = [e for e in events if e["type"].startswith("csp.onboarding.agreement.")]
    events = [e for e in events if e["type"].startswith("csp.onboarding.customer.")]
    domains = Counter(c["companyProfile"]["domain"] for c in customers)
    created = [e for e in events if e["type"].endswith(".created")]
    failed = [e for e in events if e["type"].endswith(".failed")]
    confirmed = {e["data"]["requestId"] for e in agreement_events if e["type"].endswith(".confirmed")}
    refused = {e["data"]["requestId"] for e in agreement_events if e["type"].endswith(".failed")}
    created_ids = {e["data"]["requestId"] for e in created}
    outcomes = Counter((e["type"], e["data"]["requestId"]) for e in events)
    return Outcomes(
        customers_created=len(customers),
        duplicate_domains=sum(n - 1 for n in domains.values() if n > 1),
        created_events=len(created),
        created_requests=len(created_ids),
        failed_events=len(failed),
        poisoned=sum(1 for e in failed if e["data"]["reason"] == "retries_exhausted"),
        lost=len(set(wanted) - {e["data"]["requestId"] for e in events}),
        duplicate_outcomes=sum(n - 1 for n in outcomes.values() if n > 1),
        contradictory_outcomes=len(created_ids & {e["data"]["requestId"] for e in failed}),
        mca_requests=len(mca),
        agreements_confirmed=len(confirmed & set(mca)),
        agreements_failed=len(refused & set(mca)),
        agreements_missing=len(set(mca) - confirmed - refused),
        agreements_contradictory=len(confirmed & refused),
        attestations=sum(len(found) for found in (agreements or {}).values()),
    )


@dataclass
class Pace:
    """Partner Center calls over the drain (first call to last), against the default budget."""

    partner_center_calls: int
    throttled_calls: int  # answered 429 (injected, or the emulator's own limit)
    drain_seconds: float
    calls_per_minute: float
    budget_percent: float


def measure_pace(calls: Iterable[dict[str, Any]], budget_per_minute: float = DEFAULT_BUDGET_PER_MINUTE) -> Pace:
    """The pace of the recorded Partner Center calls (every call counts against the quota, refused ones too)."""
    partner_center = sorted((c for c in calls if c["endpoint"] in PARTNER_CENTER_ENDPOINTS), key=lambda c: c["at"])
    span = partner_center[-1]["at"] - partner_center[0]["at"] if len(partner_center) > 1 else 0.0
    per_minute = len(partner_center) / (span / 60) if span > 0 else 0.0
    return Pace(
        partner_center_calls=len(partner_center),
        throttled_calls=sum(1 for c in partner_center if c["status"] == 429),
        drain_seconds=round(span, 1),
        calls_per_minute=round(per_minute, 1),
        budget_percent=round(100 * per_minute / budget_per_minute, 1),
    )


@dataclass
class SoakReport(Outcomes):
    requests: int = 0
    delivered_twice: int = 0  # requests enqueued twice back to back
    host_kills: int = 0
    messages_left: int = 0  # still in the request and poison queues when the soak stopped counting
    faults_fired: dict[str, int] = field(default_factory=dict)
    wall_seconds: float = 0.0
    pace: Pace | None = None  # --paced only

    @property
    def exactly_once(self) -> bool:
        return (
            self.customers_created == self.requests == self.created_requests
            and self.duplicate_domains == 0
            and self.lost == 0
            and self.poisoned == 0
            and self.failed_events == 0
            and self.contradictory_outcomes == 0
            and self.agreements_missing == 0
            and self.agreements_contradictory == 0
            and self.attestations == self.agreements_confirmed
        )
