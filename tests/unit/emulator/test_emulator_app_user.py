"""The emulator's App+User (issue 16): the refresh-token grant with rotation, expiry, revocation and MFA; App+User-only
endpoints refusing app-only tokens (900329) and tokens without MFA (900421); resellers; MCA attestation."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer

from emulator.app import build_app
from emulator.state import PARTNER_CENTER_AUDIENCE, State
from emulator.users import ACTIVE_RESELLER, INACTIVE_RESELLER, NO_MPA_RESELLER, USER_IMPERSONATION
from tests.unit.emulator.partner_center_client import PartnerCenter

SECRET = "s" * 16
INDIRECT = {"relationship_type": "IsIndirectCloudSolutionProviderOf"}


@pytest.fixture
async def emu() -> AsyncIterator[PartnerCenter]:
    state = State(tenant_id="t", client_id="c", client_secret=SECRET, topic_key=None)
    async with TestClient(TestServer(build_app(state))) as client:
        yield PartnerCenter(client, state)


async def redeem(emu: PartnerCenter, refresh_token: str, *, secret: str | None = SECRET) -> tuple[int, dict[str, Any]]:
    form = {"grant_type": "refresh_token", "client_id": "c", "refresh_token": refresh_token,
            "scope": f"{USER_IMPERSONATION} offline_access openid profile"}  # fmt: skip
    if secret is not None:
        form["client_secret"] = secret
    response = await emu.client.post("/t/oauth2/v2.0/token", data=form)
    return response.status, await response.json()


def user_headers(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}", "MS-RequestId": str(uuid.uuid4()), "MS-CorrelationId": "x"}


async def test_each_redemption_rotates_and_old_refresh_tokens_stay_valid(emu: PartnerCenter) -> None:
    first = emu.state.app_user.issue_refresh_token("admin@partner", mfa=True)
    status, answer = await redeem(emu, first)
    assert status == 200 and answer["refresh_token"] != first
    assert emu.state.tokens[answer["access_token"]].user == "admin@partner"
    assert (await redeem(emu, first))[0] == 200, "the old token is not revoked by the new one"
    assert (await redeem(emu, answer["refresh_token"]))[0] == 200


async def test_a_public_clients_refresh_token_refuses_the_apps_credential_and_a_confidential_one_needs_it(
    emu: PartnerCenter,
) -> None:
    public = emu.state.app_user.issue_refresh_token("admin@partner", mfa=True, public=True)
    status, answer = await redeem(emu, public)
    assert (status, answer["error"], answer["error_codes"]) == (401, "invalid_client", [700025])
    status, answer = await redeem(emu, public, secret=None)
    assert status == 200 and emu.state.app_user.is_public(answer["refresh_token"]), "its successor is public too"
    confidential = emu.state.app_user.issue_refresh_token("admin@partner", mfa=True)
    status, answer = await redeem(emu, confidential, secret=None)
    assert (status, answer["error"]) == (401, "invalid_client")


@pytest.mark.parametrize(
    ("knob", "code"),
    [({"revoke": True}, 50173), ({"expire": True}, 700082), ({"mfa": False, "mfaRequired": True}, 50076)],
)
async def test_dead_refresh_tokens_answer_invalid_grant(emu: PartnerCenter, knob: dict[str, bool], code: int) -> None:
    token = emu.state.app_user.issue_refresh_token("admin@partner", mfa=True)
    assert (await emu.admin("app-user", knob))[0] == 200
    status, answer = await redeem(emu, token)
    assert (status, answer["error"], answer["error_codes"]) == (400, "invalid_grant", [code])


async def test_app_user_endpoints_refuse_app_tokens_and_tokens_without_mfa(emu: PartnerCenter) -> None:
    app_only = await emu.client.get("/v1/relationships", params=INDIRECT, headers=emu.headers())
    assert (app_only.status, (await app_only.json())["code"]) == (403, 900329)
    no_mfa = emu.state.issue_token(PARTNER_CENTER_AUDIENCE, user="admin@partner", mfa=False)[0]
    refused = await emu.client.get("/v1/agreements", params={"agreementType": "MicrosoftCustomerAgreement"},
                                   headers=user_headers(no_mfa))  # fmt: skip
    assert (refused.status, (await refused.json())["code"]) == (401, 900421)


async def test_resellers_are_listed_and_checked_on_create(emu: PartnerCenter) -> None:
    user = emu.state.issue_token(PARTNER_CENTER_AUDIENCE, user="admin@partner", mfa=True)[0]
    listed = await emu.client.get("/v1/relationships", params=INDIRECT, headers=user_headers(user))
    states = {r["id"]: r["state"] for r in (await listed.json())["items"]}
    assert states[ACTIVE_RESELLER] == "Active" and states[INACTIVE_RESELLER] == "Inactive"
    status, customer = await emu.create(str(uuid.uuid4()))
    assert status == 201 and customer["associatedPartnerId"] is None
    outcomes = []
    cases = [(ACTIVE_RESELLER, emu.token), (ACTIVE_RESELLER, user), (INACTIVE_RESELLER, user),
             (str(uuid.uuid4()), user), (NO_MPA_RESELLER, user)]  # fmt: skip
    for reseller, token in cases:
        body = {"companyProfile": {"domain": f"r{uuid.uuid4().hex[:10]}.onmicrosoft.com"},
                "billingProfile": {"email": "a@b.se", "culture": "sv-SE", "language": "sv", "companyName": "R",
                "defaultAddress": {"firstName": "A", "lastName": "B", "addressLine1": "Gatan 1", "city": "Sthlm",
                                   "postalCode": "111 51", "country": "SE"}},
                "associatedPartnerId": reseller}  # fmt: skip
        response = await emu.client.post("/v1/customers", json=body, headers=user_headers(token))
        outcomes.append((response.status, (await response.json()).get("code")))
    assert outcomes == [(403, 900329), (201, None), (400, 800016), (404, 800015), (403, 900123)]


async def test_mca_template_then_attestation_then_600061_on_repeat(emu: PartnerCenter) -> None:
    user = emu.state.issue_token(PARTNER_CENTER_AUDIENCE, user="admin@partner", mfa=True)[0]
    _, customer = await emu.create(str(uuid.uuid4()))
    meta = await emu.client.get("/v1/agreements", params={"agreementType": "MicrosoftCustomerAgreement"},
                                headers=user_headers(user))  # fmt: skip
    template = (await meta.json())["items"][0]["templateId"]
    default = await (await emu.client.get("/v1/agreements", headers=user_headers(user))).json()
    assert default["items"][0]["templateId"] != template, "without the query: the Microsoft Cloud Agreement"
    body = {"primaryContact": {"firstName": "A", "lastName": "B", "email": "a@b.se"}, "templateId": template,
            "dateAgreed": "2026-01-02T03:04:05Z", "type": "MicrosoftCustomerAgreement"}  # fmt: skip
    path = f"/v1/customers/{customer['id']}/agreements"
    assert (await emu.client.post(path, json=body, headers=user_headers(user))).status == 201
    again = await emu.client.post(path, json=body, headers=user_headers(user))
    assert (await again.json())["code"] == 600061
    wrong = await emu.client.post(path, json={**body, "templateId": str(uuid.uuid4())}, headers=user_headers(user))
    assert wrong.status == 400
    assert len(emu.state.app_user.agreements[customer["id"]]) == 1
