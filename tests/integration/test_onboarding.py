"""The real path: Azurite queue → local host → function → MSAL + httpx → emulator → Event Grid."""

from __future__ import annotations

from collections import Counter
from typing import Any

import jsonschema
import pytest

from handlers.domain.partner_center_body import ms_request_id_for
from handlers.domain.schemas import contract_schemas
from tests.fakes import sample
from tests.integration.conftest import Harness
from tests.leak_scan import scan_stack

pytestmark = pytest.mark.integration


def unique(name: str, tag: str) -> dict[str, Any]:
    """A sample with its own requestId and domain, so tests never collide."""
    data = sample(name)
    data["requestId"] = f"{data['requestId']}-{tag}"
    data["customer"]["domainPrefix"] = f"{data['customer']['domainPrefix'][:20]}{tag}"
    return data


def test_the_samples_become_customers_and_created_events(harness: Harness) -> None:
    names = ["tr-anadolu-oyuncak", "se-wingtip-toys", "nl-fietsfabriek"]
    requests = [unique(n, "s1") for n in names]
    for request in requests:
        harness.enqueue(request)
    events = harness.wait_for_events(3)
    assert sorted(e["data"]["requestId"] for e in events) == sorted(str(r["requestId"]) for r in requests)
    assert {e["type"] for e in events} == {"csp.onboarding.customer.created"}
    schema = contract_schemas()["customer-created.event.schema.json"]
    for event in events:
        jsonschema.Draft202012Validator(schema).validate(event)
    customers = harness.stack.admin("GET", "customers")
    assert len(customers) == 3
    assert {e["data"]["customerId"] for e in events} == {c["id"] for c in customers}
    # every create carried the MS-RequestId derived from its requestId, and a correlation id of its own
    creates = harness.calls("customers.create")
    assert {c["ms_request_id"] for c in creates} == {ms_request_id_for(str(r["requestId"])) for r in requests}
    assert len({c["ms_correlation_id"] for c in creates}) == len(creates)
    assert harness.counters().get("tokens_issued", 0) <= 1  # the worker's token is reused


def test_an_invalid_message_is_answered_and_consumed(harness: Harness) -> None:
    british = unique("se-wingtip-toys", "uk")
    british["customer"]["address"]["country"] = "UK"
    harness.enqueue(british)
    harness.enqueue("this is not JSON")
    events = harness.wait_for_events(2)
    assert [e["data"]["reason"] for e in events] == ["invalid_request", "invalid_request"]
    by_request = {e["data"]["requestId"]: e for e in events}
    [error] = by_request[british["requestId"]]["data"]["errors"]
    assert error["field"] == "customer.address.country"
    assert by_request[None]["data"]["errors"][0]["code"] == "not_json"
    harness.settle()
    assert harness.calls("customers.create") == []
    assert harness.queue_length(harness.queue) == 0
    assert harness.queue_length(harness.poison) == 0


def test_redelivery_of_a_succeeded_request_repeats_its_event_and_creates_nothing(harness: Harness) -> None:
    request = unique("se-wingtip-toys", "re")
    harness.enqueue(request)
    [first] = harness.wait_for_events(1)
    harness.enqueue(request)
    events = harness.wait_for_events(2)
    assert len(events) == 2
    assert events[0]["id"] == events[1]["id"] == first["id"]
    assert events[0]["data"] == events[1]["data"]
    assert len(harness.stack.admin("GET", "customers")) == 1


def test_throttling_and_a_dropped_connection_still_give_one_customer(harness: Harness) -> None:
    harness.stack.admin(
        "POST",
        "faults",
        [
            {"target": "customers.create", "kind": "commit_drop", "times": 1},
            {"target": "customers.create", "kind": "throttle", "retryAfter": 1, "times": 1},
            {"target": "customers.create", "kind": "status", "status": 503, "times": 1},
        ],
    )
    request = unique("tr-anadolu-oyuncak", "ch")
    harness.enqueue(request)
    [event] = harness.wait_for_events(1)
    assert event["type"] == "csp.onboarding.customer.created"
    assert len(harness.stack.admin("GET", "customers")) == 1
    creates = harness.calls("customers.create")
    assert len(creates) == 4
    assert {c["ms_request_id"] for c in creates} == {ms_request_id_for(str(request["requestId"]))}
    assert harness.counters()["idempotent_replays"] >= 1


def test_an_event_grid_outage_retries_the_message_without_creating_again(harness: Harness) -> None:
    harness.stack.admin("POST", "faults", {"target": "events.publish", "kind": "status", "status": 500, "times": 4})
    request = unique("nl-fietsfabriek", "eg")
    harness.enqueue(request)
    [event] = harness.wait_for_events(1, timeout=60)
    assert event["data"]["requestId"] == request["requestId"]
    assert len(harness.stack.admin("GET", "customers")) == 1
    assert len(harness.calls("customers.create")) == 1  # the retry published from the ledger


def test_a_request_that_keeps_failing_ends_in_retries_exhausted(harness: Harness) -> None:
    harness.stack.admin(
        "POST", "faults", {"target": "customers.create", "kind": "status", "status": 503, "times": None}
    )
    request = unique("se-wingtip-toys", "px")
    harness.enqueue(request)
    events = harness.wait_for_events(1, timeout=120)
    harness.stack.admin("DELETE", "faults")
    [event] = events
    assert event["data"]["reason"] == "retries_exhausted"
    assert event["data"]["retryable"] is True
    assert event["data"]["requestId"] == request["requestId"]
    assert event["subject"] == f"crmAccounts/{request['crmAccountId']}"
    harness.settle()
    assert harness.queue_length(harness.queue) == 0
    assert harness.queue_length(harness.poison) == 0  # the poison function consumed it
    assert harness.stack.admin("GET", "customers") == []


def test_no_secret_reaches_a_log_or_an_event(harness: Harness) -> None:
    harness.enqueue(unique("se-wingtip-toys", "sc"))
    harness.wait_for_events(1)
    assert harness.stack.admin("GET", "secrets")["passwords"], "the emulator generated admin passwords"
    assert scan_stack(harness.stack) == []


def test_events_are_never_duplicated_by_type_and_request(harness: Harness) -> None:
    for tag in ("d1", "d2", "d3"):
        harness.enqueue(unique("se-wingtip-toys", tag))
    events = harness.wait_for_events(3)
    harness.settle()
    counts = Counter((e["type"], e["data"]["requestId"]) for e in harness.stack.events())
    assert set(counts.values()) == {1}
    assert len(events) == 3


def test_a_ghost_create_at_a_forgetful_partner_center_is_adopted_not_reported_taken(harness: Harness) -> None:
    harness.stack.admin("POST", "behaviour", {"idempotent": False})
    harness.stack.admin("POST", "faults", {"target": "customers.create", "kind": "commit_drop", "times": 1})
    request = unique("nl-fietsfabriek", "gh")
    harness.enqueue(request)
    [event] = harness.wait_for_events(1)
    assert event["type"] == "csp.onboarding.customer.created", event["data"]
    customers = harness.stack.admin("GET", "customers")
    assert len(customers) == 1
    assert event["data"]["customerId"] == customers[0]["id"]
    assert [c["status"] for c in harness.calls("customers.create")] == [201, 400]  # committed, then "taken"
    assert len(harness.calls("customers.list")) == 1  # found by domain and adopted
