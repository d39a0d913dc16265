"""Key Vault secrets (set and get), behind the bearer challenge real vaults answer unauthenticated calls with."""

from __future__ import annotations

import time
import uuid

from aiohttp import web

from emulator.partner_center import STATE_KEY
from emulator.state import KEY_VAULT_AUDIENCE


def _challenge(request: web.Request) -> web.Response:
    state = request.app[STATE_KEY]
    authority = f"{request.scheme}://{request.host}/{state.tenant_id}"
    header = f'Bearer authorization="{authority}", resource="{KEY_VAULT_AUDIENCE}"'
    body = {"error": {"code": "Unauthorized", "message": "AKV10000: Request is missing a Bearer or PoP token."}}
    return web.json_response(body, status=401, headers={"WWW-Authenticate": header})


async def set_secret(request: web.Request) -> web.Response:
    state = request.app[STATE_KEY]
    if not state.token_valid(request.headers.get("Authorization"), KEY_VAULT_AUDIENCE):
        return _challenge(request)
    body = await request.json()
    if not isinstance(body, dict) or not isinstance(body.get("value"), str):
        return web.json_response({"error": {"code": "BadParameter", "message": "value is required"}}, status=400)
    name = request.match_info["name"]
    version = uuid.uuid4().hex
    now = int(time.time())
    attributes = {"enabled": True, "created": now, "updated": now, **(body.get("attributes") or {})}
    secret = {
        "value": body["value"],
        "id": f"{request.scheme}://{request.host}/secrets/{name}/{version}",
        "contentType": body.get("contentType"),
        "tags": body.get("tags") or {},
        "attributes": attributes,
    }
    state.vault.setdefault(name, []).append(secret)
    state.count("vault_secrets_set")
    return web.json_response(secret)


async def get_secret(request: web.Request) -> web.Response:
    state = request.app[STATE_KEY]
    if not state.token_valid(request.headers.get("Authorization"), KEY_VAULT_AUDIENCE):
        return _challenge(request)
    versions = state.vault.get(request.match_info["name"])
    if not versions:
        return web.json_response({"error": {"code": "SecretNotFound", "message": "not found"}}, status=404)
    return web.json_response(versions[-1])
