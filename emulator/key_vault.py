"""Key Vault secrets as Key Vault answers them, behind the bearer challenge real vaults answer unauthenticated calls
with: each PUT a new version; GET the latest version (403 SecretDisabled when it is disabled: Key Vault does not
step back to an older one); the versions listed without values, at most 25 a page, ordered by version id (Key
Vault's order is deterministic but not the order of writing) with a nextLink; PATCH a version's attributes."""

from __future__ import annotations

import base64
import time
import uuid
from typing import Any

from aiohttp import web

from emulator.partner_center import STATE_KEY
from emulator.state import KEY_VAULT_AUDIENCE, State

API_VERSION = "7.4"
PAGE_SIZE = 25  # Key Vault's default and largest page (maxresults)


def _challenge(request: web.Request) -> web.Response:
    state = request.app[STATE_KEY]
    authority = f"{request.scheme}://{request.host}/{state.tenant_id}"
    header = f'Bearer authorization="{authority}", resource="{KEY_VAULT_AUDIENCE}"'
    body = {"error": {"code": "Unauthorized", "message": "AKV10000: Request is missing a Bearer or PoP token."}}
    return web.json_response(body, status=401, headers={"WWW-Authenticate": header})


def _error(status: int, code: str, message: str, inner: str | None = None) -> web.Response:
    error: dict[str, Any] = {"code": code, "message": message}
    if inner is not None:
        error["innererror"] = {"code": inner}
    return web.json_response({"error": error}, status=status)


def _authorized(request: web.Request) -> bool:
    return request.app[STATE_KEY].token_valid(request.headers.get("Authorization"), KEY_VAULT_AUDIENCE)


def store_version(
    state: State, base_url: str, name: str, value: str, *, content_type: str | None = None,
    tags: dict[str, str] | None = None, attributes: dict[str, Any] | None = None,
) -> dict[str, Any]:  # fmt: skip
    """Add a new version of secret `name` (what a PUT does) and return it, value included."""
    now = int(time.time())
    secret = {
        "value": value,
        "id": f"{base_url}/secrets/{name}/{uuid.uuid4().hex}",
        "contentType": content_type,
        "tags": tags or {},
        "attributes": {"enabled": True, "created": now, "updated": now, **(attributes or {})},
    }
    state.vault.setdefault(name, []).append(secret)
    state.count("vault_secrets_set")
    return secret


def _without_value(secret: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in secret.items() if k != "value"}


async def set_secret(request: web.Request) -> web.Response:
    if not _authorized(request):
        return _challenge(request)
    body = await request.json()
    if not isinstance(body, dict) or not isinstance(body.get("value"), str):
        return _error(400, "BadParameter", "value is required")
    secret = store_version(
        request.app[STATE_KEY], f"{request.scheme}://{request.host}", request.match_info["name"], body["value"],
        content_type=body.get("contentType"), tags=body.get("tags"), attributes=body.get("attributes"),
    )  # fmt: skip
    return web.json_response(secret)


async def get_secret(request: web.Request) -> web.Response:
    if not _authorized(request):
        return _challenge(request)
    versions = request.app[STATE_KEY].vault.get(request.match_info["name"])
    if not versions:
        return _error(404, "SecretNotFound", "not found")
    latest = versions[-1]
    if not latest["attributes"].get("enabled", True):
        return _error(403, "Forbidden", "Operation get is not allowed on a disabled secret.", "SecretDisabled")
    return web.json_response(latest)


def _skiptoken(after: str) -> str:
    return base64.urlsafe_b64encode(after.encode()).decode()


def _after(skiptoken: str) -> str:
    return base64.urlsafe_b64decode(skiptoken.encode()).decode()


async def list_versions(request: web.Request) -> web.Response:
    """GET /secrets/{name}/versions?maxresults=N[&$skiptoken=…]: one page of the versions, values left out."""
    if not _authorized(request):
        return _challenge(request)
    name = request.match_info["name"]
    try:
        size = int(request.query.get("maxresults", PAGE_SIZE))
        after = _after(request.query["$skiptoken"]) if "$skiptoken" in request.query else ""
    except ValueError:
        return _error(400, "BadParameter", "maxresults or $skiptoken is invalid")
    if not 1 <= size <= PAGE_SIZE:
        return _error(400, "BadParameter", f"maxresults must be between 1 and {PAGE_SIZE}")
    versions = sorted(request.app[STATE_KEY].vault.get(name, []), key=lambda s: s["id"].rsplit("/", 1)[1])
    rest = [s for s in versions if s["id"].rsplit("/", 1)[1] > after]
    page = rest[:size]
    next_link = None
    if len(rest) > size:
        last = page[-1]["id"].rsplit("/", 1)[1]
        next_link = (
            f"{request.scheme}://{request.host}/secrets/{name}/versions?api-version={API_VERSION}"
            f"&$skiptoken={_skiptoken(last)}&maxresults={size}"
        )
    return web.json_response({"value": [_without_value(s) for s in page], "nextLink": next_link})


async def update_secret(request: web.Request) -> web.Response:
    """PATCH /secrets/{name}/{version}: its attributes (enabled, exp, nbf), tags and content type; answers the
    version without its value."""
    if not _authorized(request):
        return _challenge(request)
    name, version = request.match_info["name"], request.match_info["version"]
    secret = next((s for s in request.app[STATE_KEY].vault.get(name, []) if s["id"].endswith(f"/{version}")), None)
    if secret is None:
        return _error(404, "SecretNotFound", f"A secret with (name/id) {name}/{version} was not found in this vault.")
    body = await request.json()
    attributes = body.get("attributes") if isinstance(body, dict) else None
    if not isinstance(body, dict) or not isinstance(attributes or {}, dict):
        return _error(400, "BadParameter", "the body must be a SecretUpdateParameters object")
    changes = {k: v for k, v in (attributes or {}).items() if k in ("enabled", "exp", "nbf")}
    secret["attributes"] = {**secret["attributes"], **changes, "updated": int(time.time())}
    if isinstance(body.get("tags"), dict):
        secret["tags"] = body["tags"]
    if "contentType" in body:
        secret["contentType"] = body["contentType"]
    request.app[STATE_KEY].count("vault_secrets_updated")
    return web.json_response(_without_value(secret))
