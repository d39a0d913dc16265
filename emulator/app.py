"""The emulator's aiohttp application: routes, the fault-and-record middleware, and /_emulator/ inspection."""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import Awaitable, Callable
from dataclasses import asdict
from typing import Any

from aiohttp import web

from emulator import app_user, arm, entra, event_grid, graph, identity, key_vault, partner_center
from emulator.faults import Faults, drop_connection, error_response
from emulator.partner_center import STATE_KEY
from emulator.state import Call, RateLimit, State
from emulator.table_proxy import StorageFaults

FAULTS_KEY: web.AppKey[Faults] = web.AppKey("faults", Faults)
STORAGE_FAULTS_KEY: web.AppKey[StorageFaults] = web.AppKey("storage_faults", StorageFaults)
PARTNER_CENTER_ENDPOINTS = frozenset(
    {"customers.create", "customers.list", "customers.get", "domains.head", "address.validate", "rules.get"}
    | app_user.APP_USER_ENDPOINTS
)
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@web.middleware
async def faults_and_calls(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Record every service call; apply the fault rules that fire for its endpoint."""
    route = request.match_info.route
    endpoint = route.name if route is not None else None
    if endpoint is None or endpoint.startswith("admin."):
        return await handler(request)
    state = request.app[STATE_KEY]
    if state.rate_limit is not None and endpoint in PARTNER_CENTER_ENDPOINTS:
        wait = state.rate_limit.take()
        if wait > 0:
            state.count("rate_limited")
            state.calls.append(Call(endpoint, request.method, request.path, 429, None, None, time.time(), "rate_limit"))
            body = {"statusCode": 429, "message": "Rate limit is exceeded. Try again in a while."}
            return web.json_response(body, status=429, headers={"Retry-After": str(max(1, math.ceil(wait)))})
    rules = request.app[FAULTS_KEY].pick(endpoint)
    call = Call(
        endpoint=endpoint,
        method=request.method,
        path=request.path,
        status=0,
        ms_request_id=request.headers.get("MS-RequestId"),
        ms_correlation_id=request.headers.get("MS-CorrelationId"),
        at=time.time(),
        connection=_client_port(request),
    )
    state.calls.append(call)
    for rule in rules:
        call.fault = rule.kind
        if rule.kind == "latency":
            await asyncio.sleep(rule.delay_ms / 1000)
        elif rule.kind == "hang":
            await asyncio.sleep(rule.delay_ms / 1000 if rule.delay_ms else 600)
            return drop_connection(request)
        elif rule.kind == "drop":
            return drop_connection(request)
        elif rule.kind in ("status", "throttle"):
            state.count("throttled" if rule.kind == "throttle" else "faults_answered")
            refusal = error_response(rule)
            call.status = refusal.status
            return refusal
    response = await handler(request)
    call.status = response.status
    if any(rule.kind == "commit_drop" for rule in rules):
        state.count("commit_drops")
        return drop_connection(request)
    return response


def _client_port(request: web.Request) -> int | None:
    peer = request.transport.get_extra_info("peername") if request.transport is not None else None
    return int(peer[1]) if isinstance(peer, tuple) and len(peer) >= 2 else None


def _json(data: Any, status: int = 200) -> web.Response:
    return web.json_response(data, status=status)


async def admin_state(request: web.Request) -> web.Response:
    state = request.app[STATE_KEY]
    return _json(
        {
            "counters": state.counters,
            "customers": len(state.customers),
            "events": len(state.events),
            "calls": len(state.calls),
            "faults": [asdict(r) for r in request.app[FAULTS_KEY].rules],
            "behaviour": state.behaviour.as_json(),
            "storageFaults": request.app[STORAGE_FAULTS_KEY].as_json(),
            "appUser": state.app_user.as_json(),
        }
    )


async def admin_events(request: web.Request) -> web.Response:
    return _json(request.app[STATE_KEY].events)


async def admin_customers(request: web.Request) -> web.Response:
    return _json([partner_center.public_view(c) for c in request.app[STATE_KEY].customers.values()])


async def admin_calls(request: web.Request) -> web.Response:
    return _json([asdict(c) for c in request.app[STATE_KEY].calls])


async def admin_secrets(request: web.Request) -> web.Response:
    """What must never leak (for leak-scan tests): passwords, tokens, assertions, the client secret, the key."""
    state = request.app[STATE_KEY]
    return _json(
        {
            "passwords": state.passwords,
            "tokens": list(state.tokens),
            "assertions": state.assertions,
            "clientSecret": state.client_secret,
            "topicKey": state.topic_key,
            "identityHeader": state.identity_header,
            "refreshTokens": list(state.app_user.refresh_tokens),
            "signInCodes": list(state.app_user.sign_ins),
        }
    )


async def admin_vault(request: web.Request) -> web.Response:
    """The vault's secrets with every version (values included: this is a test tool)."""
    return _json(request.app[STATE_KEY].vault)


async def admin_add_faults(request: web.Request) -> web.Response:
    faults = request.app[FAULTS_KEY]
    body = await request.json()
    specs = body if isinstance(body, list) else [body]
    try:
        added = [faults.add(spec) for spec in specs]
    except (KeyError, ValueError) as exc:
        return _json({"error": str(exc)}, status=400)
    return _json([asdict(r) for r in added], status=201)


async def admin_clear_faults(request: web.Request) -> web.Response:
    faults = request.app[FAULTS_KEY]
    faults.rules.clear()
    if "seed" in request.query:
        faults.seed(int(request.query["seed"]))
    return web.Response(status=204)


async def admin_behaviour(request: web.Request) -> web.Response:
    """Partner Center's behaviours (emulator.state.Behaviour), each key optional, omitted keys unchanged:
    {"idempotent": false, "listingLagSeconds": 20, "idempotencyWindowSeconds": 60, "replayWithoutCredentials": true}.
    Answers the behaviours now in force."""
    body = await request.json()
    behaviour = request.app[STATE_KEY].behaviour
    try:
        if not isinstance(body, dict):
            raise ValueError("the body must be a JSON object")
        behaviour.update(body)
    except ValueError as exc:
        return _json({"error": str(exc)}, status=400)
    return _json(behaviour.as_json())


async def admin_rate_limit(request: web.Request) -> web.Response:
    """{"perMinute": N} switches Partner Center's rate limit on (a token bucket; with "windowSeconds": W, a strict
    sliding window of N * W / 60 calls); {"perMinute": null} off."""
    body = await request.json()
    per_minute, window = body.get("perMinute"), body.get("windowSeconds")
    limit = RateLimit(float(per_minute), float(window) if window else None) if per_minute else None
    request.app[STATE_KEY].rate_limit = limit
    return web.Response(status=204)


async def admin_storage_faults(request: web.Request) -> web.Response:
    """The table proxy's drops (emulator.table_proxy): {"dropAfterCommit": p, "dropBeforeCommit": q, "times": n|null,
    "seed": s} replaces the whole setting; 409 when this emulator runs no table proxy."""
    faults = request.app[STORAGE_FAULTS_KEY]
    if not faults.proxying:
        return _json(
            {"error": "no table proxy: start the emulator with --table-proxy-to (Stack(table_proxy=True))"}, 409
        )
    try:
        faults.configure(await request.json())
    except ValueError as exc:
        return _json({"error": str(exc)}, status=400)
    return _json(faults.as_json())


async def admin_clear_storage_faults(request: web.Request) -> web.Response:
    request.app[STORAGE_FAULTS_KEY].clear()
    return web.Response(status=204)


async def admin_reset(request: web.Request) -> web.Response:
    request.app[STATE_KEY].reset()
    request.app[STORAGE_FAULTS_KEY].clear()
    request.app[FAULTS_KEY].rules.clear()
    return web.Response(status=204)


async def admin_health(request: web.Request) -> web.Response:
    return _json({"status": "ok"})


def build_app(state: State) -> web.Application:
    """The emulator app over the given state."""
    app = web.Application(middlewares=[faults_and_calls])
    app[STATE_KEY] = state
    app[FAULTS_KEY] = Faults()
    app[STORAGE_FAULTS_KEY] = StorageFaults()
    r = app.router
    r.add_get("/{tenant}/v2.0/.well-known/openid-configuration", entra.openid_configuration, name="entra.discovery")
    r.add_get("/{tenant}/.well-known/openid-configuration", entra.openid_configuration, name="entra.discovery.v1")
    r.add_post("/{tenant}/oauth2/v2.0/token", entra.token, name="entra.token")
    r.add_post("/v1/customers", partner_center.create_customer, name="customers.create")
    r.add_get("/v1/customers", partner_center.list_customers, name="customers.list")
    r.add_get("/v1/customers/{customer_id}", partner_center.get_customer, name="customers.get")
    r.add_route("HEAD", "/v1/domains/{domain}", partner_center.domain_exists, name="domains.head")
    r.add_post("/v1/validations/address", partner_center.validate_address, name="address.validate")
    r.add_get("/v1/countryvalidationrules/{country}", partner_center.country_rules, name="rules.get")
    r.add_post("/api/events", event_grid.publish, name="events.publish")
    r.add_get("/msi/token", identity.managed_identity_token, name="identity.token")
    r.add_put("/secrets/{name}", key_vault.set_secret, name="vault.set")
    r.add_get("/secrets/{name}", key_vault.get_secret, name="vault.get")
    r.add_get("/secrets/{name}/versions", key_vault.list_versions, name="vault.versions")
    r.add_patch("/secrets/{name}/{version}", key_vault.update_secret, name="vault.update")
    r.add_get("/_emulator/vault", admin_vault, name="admin.vault")
    r.add_get("/_emulator/health", admin_health, name="admin.health")
    r.add_get("/_emulator/state", admin_state, name="admin.state")
    r.add_get("/_emulator/events", admin_events, name="admin.events")
    r.add_get("/_emulator/customers", admin_customers, name="admin.customers")
    r.add_get("/_emulator/calls", admin_calls, name="admin.calls")
    r.add_get("/_emulator/secrets", admin_secrets, name="admin.secrets")
    r.add_post("/_emulator/faults", admin_add_faults, name="admin.faults.add")
    r.add_delete("/_emulator/faults", admin_clear_faults, name="admin.faults.clear")
    r.add_post("/_emulator/reset", admin_reset, name="admin.reset")
    r.add_post("/_emulator/ratelimit", admin_rate_limit, name="admin.ratelimit")
    r.add_post("/_emulator/behaviour", admin_behaviour, name="admin.behaviour")
    app_user.add_routes(app)
    arm.add_routes(app)
    graph.add_routes(app)
    r.add_post("/_emulator/storage-faults", admin_storage_faults, name="admin.storage_faults.set")
    r.add_delete("/_emulator/storage-faults", admin_clear_storage_faults, name="admin.storage_faults.clear")
    return app
