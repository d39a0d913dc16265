"""The HTTP routes through the real stack: local host (routes, keys) → intake → Azurite queue → pipeline → emulator."""

from __future__ import annotations

import hashlib
import json
import secrets
from typing import Any

import httpx
import pytest

from devhost.stack import ROOT, Stack
from handlers.intake.status import NOT_SHOWN
from tests.fakes import sample
from tests.integration.conftest import Harness

pytestmark = pytest.mark.integration
CRM = ROOT / "samples" / "crm"
JSON = {"Content-Type": "application/json"}


def call(stack: Stack, method: str, route: str, body: bytes | None = None, **headers: str) -> httpx.Response:
    """One call with the stack's function key in the x-functions-key header."""
    headers = {"x-functions-key": stack.function_key, **headers}
    return httpx.request(method, f"{stack.http_url}/{route}", content=body, headers=headers, timeout=30)


def created(harness: Harness, count: int) -> list[dict[str, Any]]:
    return harness.wait_for_events(count, where=lambda e: e["type"].endswith(".created"), timeout=60)


def fresh_request(tag: str) -> dict[str, Any]:
    data = sample("se-wingtip-toys")
    data["requestId"] = f"http-{tag}-{secrets.token_hex(3)}"
    data["customer"]["domainPrefix"] = f"wingtiphttp{tag}{secrets.token_hex(3)}"
    return data


def with_unique_ids(text: str, tag: str) -> str:
    """A CRM sample whose record, notification and domain ids are this test's own (the stack is shared), each still
    of its kind (a GUID, a Salesforce id); its organizations stay the samples', which the stack accepts."""
    hex_tag = hashlib.sha256(tag.encode()).hexdigest()[:4]
    for old, new in (("6a4b2f1e-8c3d-4e5f", f"6a4b2f1e-8c3d-{hex_tag}"), ("0015g0000Acc", f"0015{tag}0Acc"),
                     ("04l5g0000Ntf", f"04l5{tag}0Ntf")):  # fmt: skip
        text = text.replace(old, new)
    for old in ("wingtipdynamicsab", "zeilmakerijutrecht", "vastkustsegelab", "egeyelkenas"):
        text = text.replace(old, f"{old[:-4]}{tag}")
    return text


def test_a_dataverse_webhook_becomes_one_customer_and_a_replay_adds_nothing(harness: Harness) -> None:
    body = with_unique_ids((CRM / "dataverse-account-create.json").read_text(encoding="utf-8"), "dv01").encode()
    first = call(harness.stack, "POST", "crm/dataverse", body, **JSON)
    assert first.status_code == 202, first.text
    request_id = first.json()["requestId"]
    assert request_id.startswith("dv:")
    assert first.json()["statusUrl"] == f"{harness.stack.http_url}/customer-requests/{request_id.replace(':', '%3A')}"
    [event] = created(harness, 1)
    assert event["data"]["requestId"] == request_id
    assert event["data"]["domain"] == f"{'wingtipdynamicsab'[:-4]}dv01.onmicrosoft.com"
    replay = call(harness.stack, "POST", "crm/dataverse", body, **JSON)
    assert (replay.status_code, replay.json()["requestId"]) == (202, request_id)
    status = httpx.get(first.json()["statusUrl"], params={"code": harness.stack.function_key}, timeout=30)
    assert status.status_code == 200
    assert (status.json()["state"], status.json()["event"]["id"]) == ("created", event["id"])
    harness.settle()
    assert len(harness.calls("customers.create")) == 1
    assert harness.queue_length(harness.queue) == 0


def test_a_salesforce_message_with_a_repeated_notification_is_acknowledged_once_enqueued(harness: Harness) -> None:
    body = with_unique_ids((CRM / "salesforce-accounts.xml").read_text(encoding="utf-8"), "sf01").encode()
    answer = call(harness.stack, "POST", "crm/salesforce", body, **{"Content-Type": "text/xml; charset=utf-8"})
    assert answer.status_code == 200, answer.text
    assert "<Ack>true</Ack>" in answer.text
    events = created(harness, 3)
    assert len({e["data"]["requestId"] for e in events}) == 3
    assert all(e["data"]["requestId"].startswith("sf:") for e in events)
    again = call(harness.stack, "POST", "crm/salesforce", body, **{"Content-Type": "text/xml"})
    assert "<Ack>true</Ack>" in again.text  # Salesforce delivered it twice: acknowledged, nothing more
    harness.settle()
    assert len(harness.calls("customers.create")) == 3
    assert len(harness.stack.events()) == 3


def test_the_intake_refuses_what_the_model_refuses_and_enqueues_a_request_once(harness: Harness) -> None:
    request = fresh_request("in")
    broken = {**request, "customer": {**request["customer"], "email": "not an address"}}
    refused = call(harness.stack, "POST", "customer-requests", json.dumps(broken).encode(), **JSON)
    assert refused.status_code == 400
    assert [e["field"] for e in refused.json()["errors"]] == ["customer.email"]
    assert harness.queue_length(harness.queue) == 0
    body = json.dumps(request).encode()
    assert call(harness.stack, "POST", "customer-requests", body, **JSON).status_code == 202
    [event] = created(harness, 1)
    assert call(harness.stack, "POST", "customer-requests", body, **JSON).status_code == 202
    harness.settle()
    assert len(harness.stack.events()) == 1  # no second message, so not even the event again
    status = call(harness.stack, "GET", f"customer-requests/{request['requestId']}")
    shown = {**event, "data": {k: v for k, v in event["data"].items() if k not in NOT_SHOWN}}  # nothing the CRM
    assert status.json() == {"requestId": request["requestId"], "state": "created", "event": shown}  # did not send
    assert call(harness.stack, "GET", "customer-requests/never-sent").status_code == 404


def test_validate_runs_the_pre_flight_without_creating_or_publishing(harness: Harness) -> None:
    good = call(harness.stack, "POST", "customer-requests/validate", json.dumps(fresh_request("v")).encode(), **JSON)
    assert good.json() == {"valid": True, "errors": [], "suggestedAddresses": []}
    taken = json.loads((ROOT / "samples" / "failing" / "nl-domain-taken.json").read_text(encoding="utf-8"))
    bad = call(harness.stack, "POST", "customer-requests/validate", json.dumps(taken).encode(), **JSON)
    assert bad.status_code == 200
    assert bad.json()["valid"] is False
    assert [e["field"] for e in bad.json()["errors"]] == ["customer.domainPrefix"]
    assert {c["endpoint"] for c in harness.stack.admin("GET", "calls")} >= {"domains.head", "address.validate"}
    harness.settle(0.5)
    assert harness.calls("customers.create") == []
    assert harness.stack.events() == []


@pytest.mark.parametrize(
    ("key", "where"), [(None, None), ("wrong-key", "header"), ("wrong-key", "query"), ("RIGHT", "query")]
)
def test_routes_need_a_function_key(stack: Stack, key: str | None, where: str | None) -> None:
    value = stack.function_key if key == "RIGHT" else key
    headers = {"x-functions-key": value} if where == "header" and value else {}
    params = {"code": value} if where == "query" and value else {}
    url = f"{stack.http_url}/customer-requests/unknown-request"
    answer = httpx.get(url, headers=headers, params=params, timeout=30)
    assert answer.status_code == (404 if key == "RIGHT" else 401)
    if answer.status_code == 401:
        assert answer.content == b""


def test_paths_and_methods_no_function_takes_are_404(stack: Stack) -> None:
    assert call(stack, "GET", "customer-requests").status_code == 404  # POST only
    assert call(stack, "POST", "nothing-here", b"{}", **JSON).status_code == 404
    outside = httpx.get(f"{stack.http_url.removesuffix('/api')}/customer-requests", timeout=30)
    assert outside.status_code == 404  # routes live under /api only


def test_each_route_familys_key_opens_its_own_route_only(stack: Stack) -> None:
    # Function-level keys, as the host authorizes them: the Salesforce URL's key (which every Salesforce admin can
    # read) opens the Salesforce route and nothing else.
    def status(key: str) -> int:
        return httpx.get(
            f"{stack.http_url}/customer-requests/unknown", headers={"x-functions-key": key}, timeout=30
        ).status_code

    assert status(stack.route_keys["status"]) == 404  # in: an unknown request
    for family in ("salesforce", "dataverse", "intake", "validate"):
        assert status(stack.route_keys[family]) == 401, family
    salesforce = call(stack, "POST", "crm/salesforce", b"<x/>", **{"x-functions-key": stack.route_keys["salesforce"],
                                                                 "Content-Type": "text/xml"})  # fmt: skip
    assert salesforce.status_code == 500 and b"soapenv:Fault" in salesforce.content  # in: refused as no message
    assert call(stack, "POST", "crm/dataverse", b"{}", **{"x-functions-key": stack.route_keys["salesforce"],
                                                          **JSON}).status_code == 401  # fmt: skip


def test_a_dataverse_context_with_a_broken_character_is_a_400_not_a_crash(harness: Harness) -> None:
    text = with_unique_ids((CRM / "dataverse-account-create.json").read_text(encoding="utf-8"), "dv09")
    broken = {
        "an attribute": text.replace('"value": "Wingtip', '"value": "\\ud800Wingtip', 1),
        "OrganizationId": text.replace('"OrganizationId": "c2e4a6b8', '"OrganizationId": "\\udfffc2e4a6b8', 1),
    }
    for where, body in broken.items():
        answer = call(harness.stack, "POST", "crm/dataverse", body.encode(), **JSON)
        assert answer.status_code == (403 if where == "OrganizationId" else 400), (where, answer.text)
    correlation = text.replace('"CorrelationId": "5e2b', '"CorrelationId": "\\ud8005e2b', 1)
    assert call(harness.stack, "POST", "crm/dataverse", correlation.encode(), **JSON).status_code == 202


def test_a_record_of_an_organization_the_route_does_not_accept_is_refused_and_enqueues_nothing(
    harness: Harness,
) -> None:
    text = with_unique_ids((CRM / "dataverse-account-create.json").read_text(encoding="utf-8"), "dv08")
    other = text.replace("c2e4a6b8-1d3f-4a5b-9c7d-0e2f4a6b8c0d", "0badc0de-1d3f-4a5b-9c7d-0e2f4a6b8c0d")
    answer = call(harness.stack, "POST", "crm/dataverse", other.encode(), **JSON)
    assert (answer.status_code, answer.json()["errors"][0]["code"]) == (403, "organization_not_allowed")
    salesforce = with_unique_ids((CRM / "salesforce-accounts.xml").read_text(encoding="utf-8"), "sf08")
    other_org = salesforce.replace("00D5g0000CspOnb", "00D5g0000Other").encode()
    fault = call(harness.stack, "POST", "crm/salesforce", other_org, **{"Content-Type": "text/xml"})
    assert fault.status_code == 500 and b"SALESFORCE_ORGANIZATION_IDS" in fault.content
    harness.settle(1.0)
    assert [e for e in harness.stack.events() if "dv08" in json.dumps(e) or "sf08" in json.dumps(e)] == []


def test_a_create_then_at_once_an_edit_of_its_taken_prefix_ends_with_one_customer_on_the_edit(
    harness: Harness,
) -> None:
    # Dataverse sends the Create, then the user's fix of the domain prefix while the first is still being onboarded.
    # The first prefix is taken (the emulator's contoso): the first version fails, the kept edit is sent by the
    # release_pending_records timer, and the account ends with one customer on the edited prefix; no 503 is answered.
    tag = secrets.token_hex(2)
    text = with_unique_ids((CRM / "dataverse-account-create.json").read_text(encoding="utf-8"), f"e{tag}")
    first = text.replace(f"{'wingtipdynamicsab'[:-4]}e{tag}", "contoso")
    edited = text.replace(f"{'wingtipdynamicsab'[:-4]}e{tag}", f"wingtipedit{tag}")
    answers = [call(harness.stack, "POST", "crm/dataverse", body.encode(), **JSON) for body in (first, edited)]
    assert [a.status_code for a in answers] == [202, 202], [a.text for a in answers]
    failed = harness.wait_for_events(1, where=lambda e: e["data"].get("requestId") == answers[0].json()["requestId"],
                                     timeout=60)  # fmt: skip
    assert failed[0]["data"]["reason"] == "domain_unavailable"
    domain = f"wingtipedit{tag}.onmicrosoft.com"
    [event] = harness.wait_for_events(
        1, where=lambda e: e["type"].endswith(".created") and e["data"]["domain"] == domain, timeout=90
    )
    assert event["data"]["requestId"] == answers[1].json()["requestId"]
    customers = [c for c in harness.stack.admin("GET", "customers") if f"wingtipedit{tag}" in json.dumps(c)]
    assert len(customers) == 1
