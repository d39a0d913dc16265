"""Partner Center's App+User-only endpoints (indirect resellers, MCA) and the /_emulator/ knobs of App+User."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime
from typing import Any

from aiohttp import web

from emulator import entra
from emulator.key_vault import store_version
from emulator.partner_center import STATE_KEY, pc_error
from emulator.state import PARTNER_CENTER_AUDIENCE, Token
from emulator.users import CLOUD_AGREEMENT, INDIRECT_RELATIONSHIP, MCA, USER_IMPERSONATION, app_user_refusal


def user_or_refusal(request: web.Request) -> Token | web.Response:
    """The App+User token of the call, or Partner Center's refusal (401 800001, 403 900329, 401 900421)."""
    state = request.app[STATE_KEY]
    token = state.token_for(request.headers.get("Authorization"), PARTNER_CENTER_AUDIENCE)
    if token is None:
        return pc_error(401, 800001, "Authorization token is missing, expired or not issued for Partner Center.")
    if not request.headers.get("MS-RequestId") or not request.headers.get("MS-CorrelationId"):
        return pc_error(400, 400, "MS-RequestId and MS-CorrelationId headers are required.")
    if (refusal := app_user_refusal(token.user, token.mfa)) is not None:
        state.count("app_user_refusals")
        return pc_error(*refusal)
    return token


def _collection(items: list[dict[str, Any]]) -> web.Response:
    return web.json_response({"totalCount": len(items), "items": items, "attributes": {"objectType": "Collection"}})


async def list_relationships(request: web.Request) -> web.Response:
    """GET /v1/relationships?relationship_type=IsIndirectCloudSolutionProviderOf (App+User)."""
    if isinstance(refused := user_or_refusal(request), web.Response):
        return refused
    if request.query.get("relationship_type") != INDIRECT_RELATIONSHIP:
        return pc_error(400, 400, "relationship_type must be IsIndirectCloudSolutionProviderOf.")
    fields = ("id", "name", "mpnId", "location", "relationshipType", "state", "attributes")
    return _collection([{k: r[k] for k in fields} for r in request.app[STATE_KEY].app_user.resellers])


async def list_agreements(request: web.Request) -> web.Response:
    """GET /v1/agreements?agreementType=… (App+User); without the query, the Microsoft Cloud Agreement."""
    if isinstance(refused := user_or_refusal(request), web.Response):
        return refused
    app_user = request.app[STATE_KEY].app_user
    kind = request.query.get("agreementType", CLOUD_AGREEMENT)
    templates = {MCA: app_user.mca_template_id, CLOUD_AGREEMENT: app_user.mcloud_template_id}
    if kind not in templates:
        return _collection([])
    item = {"templateId": templates[kind], "agreementType": kind, "versionRank": 1,
            "attributes": {"objectType": "AgreementMetaData"}}  # fmt: skip
    return _collection([item])


def _agreement_problem(body: Any, template_id: str) -> str | None:
    if not isinstance(body, dict):
        return "The body must be an Agreement object."
    contact = body.get("primaryContact")
    if not isinstance(contact, dict) or not all(contact.get(k) for k in ("firstName", "lastName", "email")):
        return "primaryContact needs firstName, lastName and email."
    if body.get("templateId") != template_id or body.get("type") != MCA:
        return "templateId and type must name the Microsoft Customer Agreement."
    try:
        agreed = datetime.fromisoformat(str(body.get("dateAgreed")).replace("Z", "+00:00"))
    except ValueError:
        return "dateAgreed must be a date and time."
    if agreed.tzinfo is None or agreed > datetime.now(UTC):
        return "dateAgreed must be a UTC time, not in the future."
    return None


async def create_agreement(request: web.Request) -> web.Response:
    """POST /v1/customers/{id}/agreements (App+User): 201, or 600061 when the MCA is already attested."""
    if isinstance(refused := user_or_refusal(request), web.Response):
        return refused
    state = request.app[STATE_KEY]
    customer_id = request.match_info["customer_id"]
    if customer_id not in state.customers:
        return pc_error(404, 600008, "The requested customer was not found.", "CustomerNotFound")
    try:
        body = await request.json()
    except (json.JSONDecodeError, UnicodeDecodeError):
        return pc_error(400, 27002, "The request body is not valid JSON.")
    if (problem := _agreement_problem(body, state.app_user.mca_template_id)) is not None:
        return pc_error(400, 27002, problem, "InvalidInput")
    existing = state.app_user.agreements.setdefault(customer_id, [])
    if any(a["type"] == MCA for a in existing):
        state.count("agreements_repeated")
        return pc_error(409, 600061, "The partner has already confirmed this agreement.",
                        "PartnerConfirmedAgreementAlreadyExists")  # fmt: skip
    agreement = {**body, "userId": str(uuid.uuid4()), "attributes": {"objectType": "Agreement"}}
    existing.append(agreement)
    state.count("agreements_created")
    return web.json_response(agreement, status=201)


async def admin_app_user(request: web.Request) -> web.Response:
    """Knobs: {"revoke": true, "expire": true, "mfa": false, "mfaRequired": true, "signInMfa": false,
    "publicClientFlows": false} (emulator.users.AppUser.configure); answers the state now (no token)."""
    app_user = request.app[STATE_KEY].app_user
    try:
        body = await request.json()
        if not isinstance(body, dict):
            raise ValueError("the body must be a JSON object")
        app_user.configure(body)
    except ValueError as exc:
        return web.json_response({"error": str(exc)}, status=400)
    return web.json_response(app_user.as_json())


async def admin_consent(request: web.Request) -> web.Response:
    """A consent done behind the scenes (for tests and the local run): a fresh refresh token of the Admin agent
    written as a new version of vault secret {"secretName"}; answers its id, never the token."""
    state = request.app[STATE_KEY]
    body = await request.json()
    name = str(body.get("secretName", ""))
    if not name:
        return web.json_response({"error": "secretName is required"}, status=400)
    code = state.app_user.sign_in(redirect_uri=None, nonce=None, scope=USER_IMPERSONATION)
    sign_in = state.app_user.sign_ins.pop(code)
    refresh_token = state.app_user.issue_refresh_token(sign_in.user, sign_in.mfa)
    base_url = f"{request.scheme}://{request.host}"
    secret = store_version(state, base_url, name, refresh_token, content_type="application/vnd.ms-refresh-token")
    return web.json_response({"id": secret["id"]}, status=201)


async def admin_resellers(request: web.Request) -> web.Response:
    """GET: the partner's indirect resellers; POST {"id", "name", "state", "mpaAccepted"}: add or replace one."""
    app_user = request.app[STATE_KEY].app_user
    if request.method == "POST":
        body = await request.json()
        if not isinstance(body, dict) or not isinstance(body.get("id"), str):
            return web.json_response({"error": "a reseller needs an id"}, status=400)
        app_user.resellers = [r for r in app_user.resellers if r["id"] != body["id"]]
        app_user.resellers.append(
            {"name": "Reseller", "mpnId": "6000009", "location": "SE", "relationshipType": INDIRECT_RELATIONSHIP,
             "state": "Active", "mpaAccepted": True, "attributes": {"objectType": "PartnerRelationship"}, **body}
        )  # fmt: skip
    return web.json_response(app_user.resellers)


async def admin_agreements(request: web.Request) -> web.Response:
    return web.json_response(request.app[STATE_KEY].app_user.agreements)


APP_USER_ENDPOINTS = frozenset({"relationships.list", "agreements.list", "agreements.create"})


def add_routes(app: web.Application) -> None:
    """The App+User routes: Entra's sign-in endpoints, Partner Center's App+User APIs, the admin knobs."""
    r = app.router
    r.add_get("/{tenant}/oauth2/v2.0/authorize", entra.authorize, name="entra.authorize")
    r.add_post("/{tenant}/oauth2/v2.0/devicecode", entra.device_code, name="entra.devicecode")
    r.add_get("/v1/relationships", list_relationships, name="relationships.list")
    r.add_get("/v1/agreements", list_agreements, name="agreements.list")
    r.add_post("/v1/customers/{customer_id}/agreements", create_agreement, name="agreements.create")
    r.add_post("/_emulator/app-user", admin_app_user, name="admin.app_user")
    r.add_post("/_emulator/app-user/consent", admin_consent, name="admin.app_user.consent")
    r.add_route("*", "/_emulator/resellers", admin_resellers, name="admin.resellers")
    r.add_get("/_emulator/agreements", admin_agreements, name="admin.agreements")
