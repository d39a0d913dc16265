"""Microsoft Graph's application object, the three calls `ops.consent --temporary-certificate` makes: read the app
registration (GET /v1.0/applications(appId='…')), give it a certificate credential (PATCH /v1.0/applications/{id}
with `keyCredentials`), and take it away (POST /v1.0/applications/{id}/removeKey, with a proof of possession: a JWT
signed by one of the app's certificates, audience 00000002-0000-0000-c000-000000000000, issuer the application's
object id, valid for at most 10 minutes: learn.microsoft.com/graph/api/application-removekey and application-addkey).

Entra accepts a certificate credential here at once; real Entra may take a while to replicate it, which
`ops.consent` waits out. The key credentials Graph answers carry no `key`, as Graph's do."""

from __future__ import annotations

import base64
import time
import uuid
from typing import Any

from aiohttp import web
from cryptography import x509
from cryptography.hazmat.primitives import hashes

from emulator import assertions
from emulator.partner_center import STATE_KEY
from emulator.state import GRAPH_AUDIENCE, AppKey, State

PROOF_AUDIENCE = "00000002-0000-0000-c000-000000000000"


def _graph_error(status: int, code: str, message: str) -> web.Response:
    return web.json_response({"error": {"code": code, "message": message}}, status=status)


def _public(key: AppKey) -> dict[str, Any]:
    """A key credential as Graph lists it: no key."""
    thumbprint = key.certificate.fingerprint(hashes.SHA1())  # noqa: S303 — Graph's customKeyIdentifier is the SHA-1 thumbprint
    return {
        "keyId": key.key_id, "type": "AsymmetricX509Cert", "usage": "Verify", "displayName": key.display_name,
        "customKeyIdentifier": base64.b64encode(thumbprint).decode(), "key": None,
        "startDateTime": key.certificate.not_valid_before_utc.isoformat().replace("+00:00", "Z"),
        "endDateTime": key.certificate.not_valid_after_utc.isoformat().replace("+00:00", "Z"),
    }  # fmt: skip


def _refused(request: web.Request, state: State, key: str, expected: str) -> web.Response | None:
    """401 without a Graph token; 404 for an application other than the app registration (by `key` of the path)."""
    if not state.token_valid(request.headers.get("Authorization"), GRAPH_AUDIENCE):
        return _graph_error(401, "InvalidAuthenticationToken", "Access token is empty or not valid for Graph.")
    if request.match_info[key] != expected:
        return _graph_error(404, "Request_ResourceNotFound", "Resource does not exist.")
    return None


async def get_application(request: web.Request) -> web.Response:
    """GET /v1.0/applications(appId='{appId}')."""
    state = request.app[STATE_KEY]
    if (refused := _refused(request, state, "app_id", state.client_id)) is not None:
        return refused
    keys = [_public(key) for key in state.app_keys]
    return web.json_response({"id": state.app_object_id, "appId": state.client_id, "keyCredentials": keys})


async def update_application(request: web.Request) -> web.Response:
    """PATCH /v1.0/applications/{id} with {"keyCredentials": [...]}: the whole collection is replaced."""
    state = request.app[STATE_KEY]
    if (refused := _refused(request, state, "object_id", state.app_object_id)) is not None:
        return refused
    body = await request.json()
    given = body.get("keyCredentials") if isinstance(body, dict) else None
    if not isinstance(given, list):
        return _graph_error(400, "Request_BadRequest", "keyCredentials must be a list.")
    keys: list[AppKey] = []
    for credential in given:
        try:
            certificate = x509.load_der_x509_certificate(base64.b64decode(credential["key"]))
        except (KeyError, TypeError, ValueError):
            return _graph_error(400, "KeyCredentialsInvalid", "Each key credential needs its certificate (key).")
        keys.append(AppKey(str(uuid.uuid4()), certificate, str(credential.get("displayName") or "")))
    state.app_keys[:] = keys
    state.count("graph_key_updates")
    return web.Response(status=204)


async def remove_key(request: web.Request) -> web.Response:
    """POST /v1.0/applications/{id}/removeKey {"keyId", "proof"}: the proof signed by one of the app's certificates."""
    state = request.app[STATE_KEY]
    if (refused := _refused(request, state, "object_id", state.app_object_id)) is not None:
        return refused
    body = await request.json()
    key_id, proof = (body.get("keyId"), body.get("proof")) if isinstance(body, dict) else (None, None)
    target = next((key for key in state.app_keys if key.key_id == key_id), None)
    if target is None or not isinstance(proof, str):
        return _graph_error(404, "Request_ResourceNotFound", "No key credential with this keyId.")
    for key in state.app_keys:
        try:
            claims = assertions.verify(proof, key.certificate.public_key(), audiences={PROOF_AUDIENCE}, leeway=0)  # type: ignore[arg-type]
        except assertions.InvalidToken:
            continue
        lifetime = int(claims.get("exp", 0)) - int(claims.get("nbf", time.time()))
        if claims.get("iss") != state.app_object_id or lifetime > 600:
            break
        state.app_keys.remove(target)
        state.count("graph_keys_removed")
        return web.Response(status=204)
    return _graph_error(400, "Authorization_IdentityNotFound", "The proof of possession is not valid.")


def add_routes(app: web.Application) -> None:
    r = app.router
    r.add_get("/v1.0/applications(appId='{app_id}')", get_application, name="graph.application")
    r.add_patch("/v1.0/applications/{object_id}", update_application, name="graph.application.update")
    r.add_post("/v1.0/applications/{object_id}/removeKey", remove_key, name="graph.application.remove_key")
