"""The emulator's Partner Center behaves as reality does when told to: listing lag, forgotten MS-RequestIds,
replays without credentials, Retry-After as sent (issue 13, item 5)."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer

from emulator.app import build_app
from emulator.state import State
from tests.unit.emulator.partner_center_client import DOMAIN, PartnerCenter


@pytest.fixture
async def pc() -> AsyncIterator[PartnerCenter]:
    state = State(tenant_id="t", client_id="c", client_secret="s" * 16, topic_key=None)
    async with TestClient(TestServer(build_app(state))) as client:
        yield PartnerCenter(client, state)


async def test_a_new_customer_is_missing_from_reads_during_the_listing_lag_but_its_domain_is_taken(
    pc: PartnerCenter,
) -> None:
    assert (await pc.admin("behaviour", {"listingLagSeconds": 20}))[0] == 200
    status, customer = await pc.create(str(uuid.uuid4()))
    assert status == 201
    assert await pc.listed_ids() == []
    assert await pc.listed_ids("wingtip") == []
    assert await pc.get_status(customer["id"]) == 404
    assert await pc.domain_status() == 200, "HEAD sees the domain taken at once"
    status, refusal = await pc.create(str(uuid.uuid4()))
    assert (status, refusal["code"]) == (400, 27100), "and a second create on it is refused at once"
    pc.state.created_at[customer["id"]] -= 20  # twenty seconds later
    assert await pc.listed_ids() == [customer["id"]]
    assert await pc.listed_ids("wingtip") == [customer["id"]]
    assert await pc.get_status(customer["id"]) == 200


async def test_without_a_listing_lag_a_new_customer_is_read_at_once(pc: PartnerCenter) -> None:
    _, customer = await pc.create(str(uuid.uuid4()))
    assert await pc.listed_ids("wingtip") == [customer["id"]]
    assert await pc.get_status(customer["id"]) == 200


async def test_an_ms_request_id_is_forgotten_after_the_idempotency_window(pc: PartnerCenter) -> None:
    await pc.admin("behaviour", {"idempotencyWindowSeconds": 30})
    ms_request_id = str(uuid.uuid4())
    _, first = await pc.create(ms_request_id)
    status, replay = await pc.create(ms_request_id)
    assert (status, replay["id"]) == (201, first["id"]), "within the window: a replay"
    pc.state.request_id_at[ms_request_id] -= 30
    status, refusal = await pc.create(ms_request_id)
    assert (status, refusal["code"]) == (400, 27100), "after it: a new create, refused for our own tenant's domain"
    status, second = await pc.create(ms_request_id, domain="wingtiptoys2.onmicrosoft.com")
    assert status == 201 and second["id"] != first["id"], "a corrected resend creates a second customer"
    assert len(pc.state.customers) == 2


async def test_by_default_an_ms_request_id_is_remembered_for_ever(pc: PartnerCenter) -> None:
    ms_request_id = str(uuid.uuid4())
    _, first = await pc.create(ms_request_id)
    pc.state.request_id_at[ms_request_id] -= 10 * 365 * 86400
    status, replay = await pc.create(ms_request_id)
    assert (status, replay["id"]) == (201, first["id"])
    assert pc.state.counters["idempotent_replays"] == 1


async def test_not_idempotent_forgets_every_ms_request_id_at_once(pc: PartnerCenter) -> None:
    ms_request_id = str(uuid.uuid4())
    await pc.create(ms_request_id)
    await pc.admin("behaviour", {"idempotent": False})
    status, refusal = await pc.create(ms_request_id)
    assert (status, refusal["code"]) == (400, 27100)


@pytest.mark.parametrize("without_credentials", [False, True])
async def test_a_replay_carries_the_password_only_unless_told_otherwise(
    pc: PartnerCenter, without_credentials: bool
) -> None:
    await pc.admin("behaviour", {"replayWithoutCredentials": without_credentials})
    ms_request_id = str(uuid.uuid4())
    _, first = await pc.create(ms_request_id)
    assert first["userCredentials"]["password"] in pc.state.passwords
    status, replay = await pc.create(ms_request_id)
    assert (status, replay["id"]) == (201, first["id"])
    assert ("userCredentials" in replay) is not without_credentials
    if not without_credentials:
        assert replay["userCredentials"] == first["userCredentials"]


async def test_omitted_behaviours_stay_and_reset_restores_every_default(pc: PartnerCenter) -> None:
    await pc.admin("behaviour", {"listingLagSeconds": 5, "idempotent": False})
    status, now = await pc.admin("behaviour", {"replayWithoutCredentials": True})
    assert status == 200
    assert now == {
        "idempotent": False, "listingLagSeconds": 5, "idempotencyWindowSeconds": None, "replayWithoutCredentials": True,
    }  # fmt: skip
    assert (await pc.client.post("/_emulator/reset")).status == 204
    state = await (await pc.client.get("/_emulator/state")).json()
    assert state["behaviour"] == {
        "idempotent": True, "listingLagSeconds": 0, "idempotencyWindowSeconds": None, "replayWithoutCredentials": False,
    }  # fmt: skip


@pytest.mark.parametrize(
    "body",
    [{"listingLag": 5}, {"listingLagSeconds": "5"}, {"listingLagSeconds": -1}, {"idempotent": "no"}, [1]],
    ids=["unknown-key", "string", "negative", "not-bool", "not-object"],
)
async def test_a_behaviour_the_emulator_cannot_take_is_refused_and_changes_nothing(
    pc: PartnerCenter, body: Any
) -> None:
    status, answer = await pc.admin("behaviour", body)
    assert status == 400 and answer["error"]
    assert pc.state.behaviour.as_json()["listingLagSeconds"] == 0


@pytest.mark.parametrize(
    ("retry_after", "header"),
    [(2, "2"), (0.5, "0.5"), (86400, "86400"), ("inf", "inf"), ("-5", "-5"), (-5, "-5"), ("soon", "soon"),
     ("Fri, 31 Dec 9999 23:59:59 GMT", "Fri, 31 Dec 9999 23:59:59 GMT"), (None, "1")],
)  # fmt: skip
async def test_a_throttle_sends_its_retry_after_verbatim(pc: PartnerCenter, retry_after: Any, header: str) -> None:
    rule = {"target": "domains.head", "kind": "throttle", "times": 1}
    if retry_after is not None:
        rule["retryAfter"] = retry_after
    assert (await pc.admin("faults", rule))[0] == 201
    response = await pc.client.head(f"/v1/domains/{DOMAIN}", headers=pc.headers())
    assert (response.status, response.headers.get("Retry-After")) == (429, header)


@pytest.mark.parametrize("retry_after", ["120", "Fri, 31 Dec 9999 23:59:59 GMT", None])
async def test_a_503_sends_a_retry_after_only_when_given_one(pc: PartnerCenter, retry_after: str | None) -> None:
    rule: dict[str, Any] = {"target": "customers.create", "kind": "status", "status": 503}
    if retry_after is not None:
        rule["retryAfter"] = retry_after
    await pc.admin("faults", rule)
    response = await pc.client.post("/v1/customers", json={}, headers=pc.headers())
    assert (response.status, response.headers.get("Retry-After")) == (503, retry_after)


async def test_a_retry_after_that_cannot_be_a_header_is_refused(pc: PartnerCenter) -> None:
    status, answer = await pc.admin("faults", {"kind": "throttle", "retryAfter": "1\r\nX-Injected: yes"})
    assert status == 400 and "retryAfter" in answer["error"]
