"""The HTTP routes through the real stack: local host (routes, keys) → intake → Azurite queue → pipeline → emulator."""

from __future__ import annotations

import json
import secrets
from typing import Any

import httpx
import pytest

from devhost.stack import ROOT, Stack
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
    """A CRM sample whose org, record and domain ids are this test's own (the stack is shared)."""
    for old in ("c2e4a6b8-1d3f-4a5b", "00D5g0000CspOnb", "wingtipdynamicsab", "zeilmakerijutrecht",
                "vastkustsegelab", "egeyelkenas"):  # fmt: skip
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
    assert status.json() == {"requestId": request["requestId"], "state": "created", "event": event}
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
