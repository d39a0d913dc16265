"""Each pre-flight refusal over the real stack: one failed event, no POST /v1/customers, nothing poisoned."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.integration.conftest import Harness

pytestmark = pytest.mark.integration

FAILING = Path(__file__).resolve().parents[2] / "samples" / "failing"


@pytest.mark.parametrize(
    ("sample", "reason", "field"),
    [
        ("tr-without-registration-number", "invalid_request", "customer.organizationRegistrationNumber"),
        ("gb-sent-as-uk", "invalid_request", "customer.address.country"),
        ("nl-domain-taken", "domain_unavailable", "customer.domainPrefix"),
        ("se-unverifiable-address", "address_invalid", "customer.address"),
    ],
)
def test_a_refused_request_gets_one_failed_event_and_no_create(
    harness: Harness, sample: str, reason: str, field: str
) -> None:
    request = json.loads((FAILING / f"{sample}.json").read_text(encoding="utf-8"))
    harness.enqueue(request)
    [event] = harness.wait_for_events(1)
    data = event["data"]
    assert (data["reason"], data["requestId"]) == (reason, request["requestId"])
    assert field in [e["field"] for e in data["errors"]]
    assert ("suggestedAddresses" in data) is (reason == "address_invalid")
    harness.settle(1.0)
    assert harness.calls("customers.create") == []
    assert harness.queue_length(harness.queue) == 0
    assert harness.queue_length(harness.poison) == 0
    assert len(harness.stack.events()) == 1


def test_a_localized_request_with_every_market_rule_broken_lists_them_all(harness: Harness) -> None:
    request = json.loads((FAILING / "nl-domain-taken.json").read_text(encoding="utf-8"))
    request["requestId"] = "crm-nl-0003"
    request["customer"]["culture"] = "de-DE"
    request["customer"]["address"]["postalCode"] = "1012"
    harness.enqueue(request)
    [event] = harness.wait_for_events(1)
    fields = {e["field"]: e["code"] for e in event["data"]["errors"]}
    assert event["data"]["reason"] == "invalid_request"
    assert fields == {
        "customer.culture": "not_supported",
        "customer.address.postalCode": "pattern",
        "customer.domainPrefix": "domain_unavailable",
        "customer.address": "address_none",  # Partner Center cannot verify a Dutch address with that postal code
    }
    assert harness.calls("customers.create") == []


def test_pre_flight_calls_go_out_together_with_one_request_id(harness: Harness) -> None:
    request = json.loads((FAILING.parent / "requests" / "se-wingtip-toys.json").read_text(encoding="utf-8"))
    request["requestId"] = "crm-se-pf01"
    request["customer"]["domainPrefix"] = "wingtippf01"
    harness.enqueue(request)
    harness.wait_for_events(1)
    partner_center = ("rules.get", "domains.head", "address.validate", "customers.create")
    calls = [c for c in harness.stack.admin("GET", "calls") if c["endpoint"] in partner_center]
    assert {c["ms_request_id"] for c in calls} == {calls[0]["ms_request_id"]}
    assert {c["endpoint"] for c in calls} >= {"domains.head", "address.validate", "customers.create"}


def test_a_refused_request_corrected_and_resent_with_the_same_request_id_is_onboarded(harness: Harness) -> None:
    request = json.loads((FAILING / "nl-domain-taken.json").read_text(encoding="utf-8"))
    harness.enqueue(request)
    [refused] = harness.wait_for_events(1)
    assert refused["data"]["reason"] == "domain_unavailable"
    harness.enqueue(request)  # unchanged: the same answer, from the ledger
    harness.wait_for_events(2)
    request["customer"]["domainPrefix"] = "contosonederland"  # the CRM user picked another prefix
    harness.enqueue(request)
    created = harness.wait_for_events(1, where=lambda e: e["type"].endswith(".created"))
    assert created[0]["data"]["requestId"] == request["requestId"]
    events = harness.stack.events()
    assert [e["data"].get("reason") for e in events] == ["domain_unavailable", "domain_unavailable", None]
    assert events[0]["id"] == events[1]["id"]
    assert len(harness.calls("customers.create")) == 1
