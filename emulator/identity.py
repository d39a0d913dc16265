"""Entra's client-assertion checks and the App Service managed-identity endpoint (IDENTITY_ENDPOINT)."""

from __future__ import annotations

import time
import uuid

from aiohttp import web

from emulator import assertions
from emulator.partner_center import STATE_KEY
from emulator.state import (
    EVENT_GRID_AUDIENCE,
    FEDERATED_AUDIENCE,
    GRAPH_AUDIENCE,
    KEY_VAULT_AUDIENCE,
    MANAGEMENT_AUDIENCE,
    STORAGE_AUDIENCE,
    State,
    Token,
)

JWT_BEARER = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
_MI_RESOURCES = {EVENT_GRID_AUDIENCE, KEY_VAULT_AUDIENCE, MANAGEMENT_AUDIENCE, GRAPH_AUDIENCE}


def mi_issuer(request: web.Request, state: State) -> str:
    return f"{request.scheme}://{request.host}/{state.tenant_id}/v2.0"


def storage_token(state: State, expires_on: int) -> str:
    """A storage token as Entra issues one (a JWT from the v1 issuer `https://sts.windows.net/{tenant}/`): Azurite's
    `--oauth basic` reads its issuer, audience and lifetime, not its signature, and checks no role."""
    now = int(time.time())
    claims = {
        "iss": f"https://sts.windows.net/{state.tenant_id}/", "aud": STORAGE_AUDIENCE, "iat": now, "nbf": now,
        "exp": expires_on, "oid": state.mi_client_id, "appid": state.mi_client_id, "tid": state.tenant_id,
    }  # fmt: skip
    token = assertions.sign(claims, state.signing_key)
    state.tokens[token] = Token(STORAGE_AUDIENCE, state.mi_client_id, expires_on)  # known to the leak scans
    state.count("storage_tokens_issued")
    return token


def check_assertion(request: web.Request, state: State, assertion: str, token_url: str) -> str | None:
    """None when the client assertion proves the app's identity; else the AADSTS refusal text."""
    try:
        header, claims = assertions.parse(assertion)
        if claims.get("iss") == mi_issuer(request, state):  # secretless: a managed-identity token as credential
            claims = assertions.verify(assertion, state.signing_key.public_key(), audiences={FEDERATED_AUDIENCE})
            if claims.get("sub") != state.mi_client_id:
                return "AADSTS70021: No matching federated identity record found for presented assertion."
            return None
        presented = {str(header.get(k, "")).rstrip("=") for k in ("x5t", "x5t#S256")}  # MSAL pads its base64url
        certificate = next(
            (c for c in state.app_certificates() if presented & assertions.certificate_thumbprints(c)), None
        )
        if certificate is None:
            return "AADSTS700027: The certificate with identifier used to sign the client assertion is not registered."
        public_key = certificate.public_key()
        claims = assertions.verify(assertion, public_key, audiences={token_url, token_url.rsplit("/oauth2", 1)[0]})  # type: ignore[arg-type]
        if claims.get("iss") != state.client_id or claims.get("sub") != state.client_id:
            return "AADSTS700023: The client assertion's issuer and subject must be the client id."
        return None
    except assertions.InvalidToken as exc:
        return f"AADSTS700027: Client assertion failed signature validation: {exc}."


async def managed_identity_token(request: web.Request) -> web.Response:
    """GET {IDENTITY_ENDPOINT}?api-version=2019-08-01&resource=…&client_id=… with X-IDENTITY-HEADER."""
    state = request.app[STATE_KEY]
    if state.identity_header is None or request.headers.get("X-IDENTITY-HEADER") != state.identity_header:
        return web.json_response({"statusCode": 401, "message": "X-IDENTITY-HEADER is missing or wrong."}, status=401)
    client_id = request.query.get("client_id")
    if client_id not in (None, state.mi_client_id):
        return web.json_response(
            {"statusCode": 400, "message": f"No user-assigned identity with client id {client_id}."}, status=400
        )
    resource = request.query.get("resource", "")
    expires_on = int(time.time()) + state.token_lifetime
    if resource.startswith("api://AzureADTokenExchange"):
        now = int(time.time())
        claims = {
            "iss": mi_issuer(request, state),
            "sub": state.mi_client_id,
            "oid": state.mi_client_id,
            "aud": resource,
            "iat": now,
            "nbf": now,
            "exp": expires_on,
            "jti": str(uuid.uuid4()),
        }
        access_token = assertions.sign(claims, state.signing_key)
        state.assertions.append(access_token)
        state.count("mi_assertions_issued")
    elif resource.rstrip("/") == STORAGE_AUDIENCE:
        access_token = storage_token(state, expires_on)
    elif resource.rstrip("/") in _MI_RESOURCES:
        access_token, _ = state.issue_token(resource.rstrip("/"))
        state.count("mi_tokens_issued")
    else:
        return web.json_response({"statusCode": 400, "message": f"Unknown resource {resource}."}, status=400)
    body = {
        "access_token": access_token,
        "expires_on": str(expires_on),
        "resource": resource,
        "token_type": "Bearer",
        "client_id": state.mi_client_id,
    }
    return web.json_response(body)
