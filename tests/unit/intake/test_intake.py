"""The HTTP intake over fakes: enqueue once, answer in the failed event's shape, status, validate, CRM routes."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest

from handlers.domain.failures import ErrorKind, OnboardingError
from handlers.domain.ledger_entry import Decision
from handlers.intake.crm.dataverse_route import accept_dataverse
from handlers.intake.crm.routes import accept_salesforce
from handlers.intake.dependencies import IntakeDependencies
from handlers.intake.enqueue import accept_request
from handlers.intake.http_bodies import Answer
from handlers.intake.pending import release_pending
from handlers.intake.status import request_status
from handlers.onboarding.pipeline import handle_message
from tests.fakes import (
    FakePartnerCenter,
    FakeQueue,
    dependencies,
    message,
    sample,
)
from tests.fakes.intake import BASE, JSON, body_of, intake, post, sent

CRM = Path(__file__).resolve().parents[3] / "samples" / "crm"


async def test_a_valid_request_is_enqueued_once_per_content() -> None:
    deps = intake()
    request = sample()
    first = await post(deps, request)
    assert (first.status, body_of(first)) == (
        202, {"requestId": "crm-se-0001", "statusUrl": f"{BASE}/customer-requests/crm-se-0001"}
    )  # fmt: skip
    assert await post(deps, request) == first
    assert await post(deps, {**request, "correlationId": "another-trace"}) == first
    assert [m["requestId"] for m in sent(deps)] == ["crm-se-0001"]
    changed = sample()
    changed["customer"]["address"]["city"] = "Uppsala"
    assert (await post(deps, changed)).status == 202
    assert [m["customer"]["address"]["city"] for m in sent(deps)] == ["Stockholm", "Uppsala"]


async def test_an_invalid_request_gets_every_error_and_nothing_is_enqueued() -> None:
    deps = intake()
    request = sample()
    request["customer"]["email"] = "nope"
    request["customer"]["address"]["country"] = "UK"
    answer = await post(deps, request)
    assert answer.status == 400
    fields = sorted(e["field"] for e in body_of(answer)["errors"])
    assert fields == ["customer.address.country", "customer.email"]
    assert set(body_of(answer)["errors"][0]) == {"field", "code", "message"}
    assert sent(deps) == []


@pytest.mark.parametrize(
    ("body", "content_type", "status", "code"),
    [(b"{" + b" " * 70_000 + b"}", JSON, 413, "too_large"), (b"{}", "text/plain", 415, "unsupported_media_type"),
     (b"{}", None, 415, "unsupported_media_type"), (b"[" * 30_000 + b"]" * 30_000, JSON, 400, "too_deep"),
     (b"\xff\xfe{}", JSON, 400, "not_utf8"), (b"[1]", JSON, 400, "not_an_object"), (b"{", JSON, 400, "not_json"),
     (b'{"a": ' + b"9" * 5000 + b"}", JSON, 400, "number_too_long"),
     (b'{"requestId": "a", "requestId": "b"}', JSON, 400, "duplicate_name")],
)  # fmt: skip
async def test_hostile_bodies_are_refused_with_an_error_not_a_crash(
    body: bytes, content_type: str | None, status: int, code: str
) -> None:
    deps = intake()
    answer = await accept_request(body, content_type, BASE, deps)
    assert answer.status == status
    assert [e["code"] for e in body_of(answer)["errors"]][:1] == [code]
    assert sent(deps) == []


async def test_a_failed_but_retryable_request_sent_again_unchanged_is_enqueued_again() -> None:
    deps = intake()
    request = sample()
    await post(deps, request)
    ledger = deps.ledger
    entry = await ledger.claim("crm-se-0001", "ms", lease_seconds=10)
    await ledger.decide(entry, Decision("failed", "event-id", "{}", retryable=True))
    await post(deps, request)
    assert len(sent(deps)) == 2


async def test_a_request_the_ledger_never_saw_is_sent_again_only_after_an_hour() -> None:
    now = [1000.0]
    base = intake()
    deps = replace(base, clock=lambda: now[0])
    await post(deps, sample())
    now[0] += 600
    await post(deps, sample())
    assert len(sent(deps)) == 1  # still on its way
    now[0] += 3600
    await post(deps, sample())
    assert len(sent(deps)) == 2  # lost (expired unseen, or its ledger row purged): sent again


async def test_status_shows_each_state() -> None:
    taken = FakePartnerCenter()
    taken.taken_domains.add("taken.onmicrosoft.com")
    pipeline = dependencies(taken)
    deps = intake(pipeline)
    assert (await request_status("crm-se-0001", deps)).status == 404
    assert (await request_status("../../etc", deps)).status == 404
    await post(deps, sample())
    assert body_of(await request_status("crm-se-0001", deps)) == {
        "requestId": "crm-se-0001", "state": "received", "event": None
    }  # fmt: skip
    entry = await deps.ledger.claim("crm-se-0001", "ms", lease_seconds=10)
    await deps.ledger.start_create(
        entry, domain="wingtiptoysab.onmicrosoft.com", checked_hash=None, company_name="Wingtip Toys AB"
    )
    assert body_of(await request_status("crm-se-0001", deps))["state"] == "creating"
    done = sample("tr-anadolu-oyuncak")
    await handle_message(message(done), pipeline)
    status = body_of(await request_status(done["requestId"], deps))
    assert status["state"] == "created"
    published = pipeline.events.events[-1]  # type: ignore[attr-defined]
    # The event subscribers got, without what the CRM never sent: the admin's sign-in and its password's secret id.
    assert published["data"]["adminUserPrincipalName"] and "adminUserPrincipalName" not in status["event"]["data"]
    assert "adminCredentialsSecretId" not in status["event"]["data"]
    assert {**status["event"], "data": published["data"]} == published
    assert status["event"]["data"] == {
        k: v for k, v in published["data"].items() if k not in ("adminUserPrincipalName", "adminCredentialsSecretId")
    }
    refused = sample("nl-fietsfabriek")
    refused["customer"]["domainPrefix"] = "taken"
    await handle_message(message(refused), pipeline)
    status = body_of(await request_status(refused["requestId"], deps))
    assert (status["state"], status["event"]["data"]["reason"]) == ("failed", "domain_unavailable")


def dataverse(city: str = "Stockholm") -> bytes:
    context = json.loads((CRM / "dataverse-account-create.json").read_text(encoding="utf-8"))
    attributes = context["InputParameters"][0]["value"]["Attributes"]
    for attribute in attributes:
        if attribute["key"] == "address1_city":
            attribute["value"] = city
    return json.dumps(context).encode()


async def post_dataverse(deps: IntakeDependencies, body: bytes) -> Answer:
    return await accept_dataverse(body, {"content-type": JSON}, BASE, deps)


async def test_one_dataverse_account_never_leads_to_a_second_customer() -> None:
    pipeline = dependencies()
    deps = intake(pipeline)
    first = await post_dataverse(deps, dataverse())
    assert first.status == 202
    first_id = body_of(first)["requestId"]
    assert (await post_dataverse(deps, dataverse())).status == 202  # replayed webhook
    edited = await post_dataverse(deps, dataverse("Uppsala"))
    assert (edited.status, body_of(edited)["state"]) == (202, "pending")  # kept while the first is onboarded
    await handle_message(json.dumps(sent(deps)[0]).encode(), pipeline)  # → created
    after = await post_dataverse(deps, dataverse("Uppsala"))
    assert (after.status, body_of(after)["requestId"], body_of(after)["state"]) == (200, first_id, "created")
    assert deps.pending is not None and await release_pending(deps, deps.pending) == 1  # dropped: onboarded
    assert len(sent(deps)) == 1


async def test_an_edited_account_that_failed_is_a_new_attempt() -> None:
    taken = FakePartnerCenter()
    taken.taken_domains.add("wingtipdynamicsab.onmicrosoft.com")
    pipeline = dependencies(taken)
    deps = intake(pipeline)
    await post_dataverse(deps, dataverse())
    await handle_message(json.dumps(sent(deps)[0]).encode(), pipeline)  # → failed: domain taken
    again = await post_dataverse(deps, dataverse("Uppsala"))
    assert again.status == 202
    assert [m["customer"]["address"]["city"] for m in sent(deps)] == ["Stockholm", "Uppsala"]


async def test_an_unmappable_account_is_answered_with_the_dataverse_column_names() -> None:
    context = json.loads(dataverse())
    target = context["InputParameters"][0]["value"]
    target["Attributes"] = [a for a in target["Attributes"] if a["key"] != "csp_domainprefix"]
    answer = await post_dataverse(intake(), json.dumps(context).encode())
    assert answer.status == 400
    assert [e["field"] for e in body_of(answer)["errors"]] == ["csp_domainprefix"]


async def test_a_salesforce_message_is_acknowledged_once_every_notification_is_enqueued() -> None:
    deps = intake()
    body = (CRM / "salesforce-accounts.xml").read_bytes()
    answer = await accept_salesforce(body, "text/xml; charset=utf-8", deps)
    assert (answer.status, answer.content_type.startswith("text/xml")) == (200, True)
    assert b"<Ack>true</Ack>" in answer.body
    assert len(sent(deps)) == 3  # four notifications, one of them twice
    again = await accept_salesforce(body, "text/xml", deps)
    assert b"<Ack>true</Ack>" in again.body
    assert len(sent(deps)) == 3


@pytest.mark.parametrize(
    ("change", "content_type"),
    [(("http://soap.sforce.com/2005/09/outbound", "urn:evil"), "text/xml"),
     (("http://schemas.xmlsoap.org/soap/envelope/", "urn:not-soap"), "text/xml"),
     (("", ""), "application/json"), (("<notifications", " " * 1_100_000 + "<notifications"), "text/xml")],
)  # fmt: skip
async def test_anything_but_a_salesforce_outbound_message_gets_a_fault_and_enqueues_nothing(
    change: tuple[str, str], content_type: str
) -> None:
    deps = intake()
    body = (CRM / "salesforce-accounts.xml").read_text(encoding="utf-8").replace(*change)
    answer = await accept_salesforce(body.encode(), content_type, deps)
    assert (answer.status, answer.content_type.startswith("text/xml")) == (500, True)
    assert b"soapenv:Fault" in answer.body and b"<Ack>" not in answer.body
    assert sent(deps) == []


class BrokenQueue(FakeQueue):
    """Fails after `good` messages."""

    def __init__(self, good: int) -> None:
        super().__init__()
        self.good = good

    async def send(self, body: bytes) -> None:
        if len(self.sent) >= self.good:
            raise OnboardingError(ErrorKind.TRANSIENT, "queue unavailable")
        await super().send(body)


async def test_no_ack_until_every_notification_is_enqueued_and_the_retry_adds_only_the_rest() -> None:
    deps = intake()
    queue = BrokenQueue(good=1)
    deps = replace(deps, queue=queue)
    body = (CRM / "salesforce-accounts.xml").read_bytes()
    answer = await accept_salesforce(body, "text/xml", deps)
    assert answer.status == 500  # a SOAP Fault over HTTP (WS-I BP R1126)
    assert b"<Ack>" not in answer.body
    assert b"soapenv:Fault" in answer.body
    queue.good = 10
    assert b"<Ack>true</Ack>" in (await accept_salesforce(body, "text/xml", deps)).body
    assert len({json.loads(m)["requestId"] for m in queue.sent}) == len(queue.sent) == 3


async def test_an_unmappable_notification_is_a_fault_naming_salesforce_fields_and_the_rest_go_on() -> None:
    deps = intake()
    body = (CRM / "salesforce-accounts.xml").read_text(encoding="utf-8")
    body = body.replace("<sf:BillingCity>Utrecht</sf:BillingCity>", "", 2)
    answer = await accept_salesforce(body.encode(), "text/xml", deps)
    assert answer.status == 500
    assert b"BillingCity is required" in answer.body
    assert len(sent(deps)) == 2
