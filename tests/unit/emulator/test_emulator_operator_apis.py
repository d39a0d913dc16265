"""What the emulator serves the operator commands (issue 24): Resource Manager's effective permissions from the role
assignments a test sets (inherited from a scope above, excluded by NotDataActions); Graph's application object, whose
certificate credential Entra then accepts and whose removeKey demands a proof signed by one of its certificates; and
managed-identity storage tokens shaped as Entra's, which Azurite's --oauth basic reads."""

from __future__ import annotations

import base64
import datetime as dt
import time
from collections.abc import AsyncIterator
from typing import Any

import jwt
import pytest
from aiohttp.test_utils import TestClient, TestServer
from cryptography.hazmat.primitives import serialization

from emulator.app import build_app
from emulator.state import GRAPH_AUDIENCE, MANAGEMENT_AUDIENCE, State
from ops.temporary_certificate import PROOF_AUDIENCE, make_certificate

GROUP = "/subscriptions/s1/resourceGroups/rg-csp/providers"
QUEUE = f"{GROUP}/Microsoft.Storage/storageAccounts/st1/queueServices/default/queues/customer-requests"
PERMISSIONS = "/providers/Microsoft.Authorization/permissions"


@pytest.fixture
async def emulator() -> AsyncIterator[tuple[TestClient[Any, Any], State]]:
    state = State(tenant_id="t1", client_id="app-1", client_secret="s" * 16, topic_key=None, identity_header="h")
    async with TestClient(TestServer(build_app(state))) as client:
        yield client, state


def bearer(state: State, audience: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {state.issue_token(audience)[0]}"}


async def test_permissions_are_those_of_the_assignments_at_or_above_the_resource(
    emulator: tuple[TestClient[Any, Any], State],
) -> None:
    client, state = emulator
    sender = {
        "scope": QUEUE,
        "dataActions": ["Microsoft.Storage/storageAccounts/queueServices/queues/messages/add/action"],
    }
    account = {"scope": f"{GROUP}/Microsoft.Storage/storageAccounts/st1", "actions": ["*/read"]}
    elsewhere = {"scope": f"{GROUP}/Microsoft.Storage/storageAccounts/st10", "actions": ["*"]}
    assert (await client.post("/_emulator/role-assignments", json=[sender, account, elsewhere])).status == 200
    answer = await client.get(QUEUE + PERMISSIONS, params={"api-version": "2022-04-01"},
                              headers=bearer(state, MANAGEMENT_AUDIENCE))  # fmt: skip
    assert answer.status == 200
    value = (await answer.json())["value"]
    assert [entry["actions"] for entry in value] == [[], ["*/read"]], "st10 is another account, not a parent"
    assert value[0]["dataActions"] == sender["dataActions"]
    refused = await client.get(QUEUE + PERMISSIONS, params={"api-version": "2022-04-01"})
    assert refused.status == 401


async def test_a_certificate_added_through_graph_signs_in_and_is_removed_with_a_proof(
    emulator: tuple[TestClient[Any, Any], State],
) -> None:
    client, state = emulator
    graph = bearer(state, GRAPH_AUDIENCE)
    app = await (await client.get("/v1.0/applications(appId='app-1')", headers=graph)).json()
    assert app["keyCredentials"] == []
    made = make_certificate(dt.timedelta(hours=1))
    der = base64.b64encode(made.certificate.public_bytes(serialization.Encoding.DER)).decode()
    patch = await client.patch(
        f"/v1.0/applications/{app['id']}", json={"keyCredentials": [{"key": der}]}, headers=graph
    )
    assert patch.status == 204
    [key] = (await (await client.get("/v1.0/applications(appId='app-1')", headers=graph)).json())["keyCredentials"]
    assert key["key"] is None and key["customKeyIdentifier"] == base64.b64encode(made.thumbprint).decode()

    # Entra takes a client assertion signed with it (the auth-code redemption of ops.consent signs the same way).
    now, x5t = int(time.time()), base64.urlsafe_b64encode(made.thumbprint).rstrip(b"=").decode()
    claims = {"aud": str(client.make_url("/t1/oauth2/v2.0/token")), "iss": "app-1", "sub": "app-1", "nbf": now,
              "exp": now + 600, "jti": str(now)}  # fmt: skip
    assertion = jwt.encode(claims, made.key, algorithm="RS256", headers={"x5t": x5t})
    form = {"client_id": "app-1", "grant_type": "client_credentials", "client_assertion": assertion,
            "client_assertion_type": "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
            "scope": "https://api.partnercenter.microsoft.com/.default"}  # fmt: skip
    assert (await client.post("/t1/oauth2/v2.0/token", data=form)).status == 200

    wrong = jwt.encode({"aud": PROOF_AUDIENCE, "iss": "someone-else", "nbf": int(time.time()),
                        "exp": int(time.time()) + 600}, made.key, algorithm="RS256")  # fmt: skip
    refused = await client.post(f"/v1.0/applications/{app['id']}/removeKey",
                                json={"keyId": key["keyId"], "proof": wrong}, headers=graph)  # fmt: skip
    assert refused.status == 400 and len(state.app_keys) == 1
    proof = {"keyId": key["keyId"], "proof": made.proof(app["id"])}
    removed = await client.post(f"/v1.0/applications/{app['id']}/removeKey", json=proof, headers=graph)
    assert removed.status == 204 and state.app_keys == []
    assert (await client.post("/t1/oauth2/v2.0/token", data=form)).status == 401, "no longer a credential"


async def test_storage_tokens_carry_what_azurite_checks(emulator: tuple[TestClient[Any, Any], State]) -> None:
    client, state = emulator
    answer = await client.get("/msi/token", params={"api-version": "2019-08-01", "resource": "https://storage.azure.com"},
                              headers={"X-IDENTITY-HEADER": "h"})  # fmt: skip
    token = (await answer.json())["access_token"]
    claims = jwt.decode(token, options={"verify_signature": False})
    assert claims["iss"] == "https://sts.windows.net/t1/" and claims["aud"] == "https://storage.azure.com"
    assert claims["nbf"] <= time.time() < claims["exp"] and token in state.tokens, "known to the leak scans"
