"""Entra ID: OpenID discovery and the v2.0 token endpoint (client credentials; the App+User grants in app_user)."""

from __future__ import annotations

import secrets
import time
from typing import Any
from urllib.parse import urlencode

from aiohttp import web

from emulator import assertions, identity
from emulator.partner_center import STATE_KEY
from emulator.state import EVENT_GRID_AUDIENCE, PARTNER_CENTER_AUDIENCE, State
from emulator.users import USER_IMPERSONATION, SignIn

DEVICE_CODE_GRANT = "urn:ietf:params:oauth:grant-type:device_code"
USER_GRANTS = ("refresh_token", "authorization_code", DEVICE_CODE_GRANT)

_AUDIENCES = {
    "https://api.partnercenter.microsoft.com/.default": PARTNER_CENTER_AUDIENCE,
    "https://eventgrid.azure.net/.default": EVENT_GRID_AUDIENCE,
}


def _base(request: web.Request) -> str:
    return f"{request.scheme}://{request.host}"


def aad_error(status: int, error: str, code: str, description: str) -> web.Response:
    body = {
        "error": error,
        "error_description": f"{code}: {description}",
        "error_codes": [int(code.removeprefix("AADSTS"))],
    }
    return web.json_response(body, status=status)


async def openid_configuration(request: web.Request) -> web.Response:
    state = request.app[STATE_KEY]
    tenant = request.match_info["tenant"]
    if tenant != state.tenant_id:
        return aad_error(400, "invalid_tenant", "AADSTS90002", f"Tenant '{tenant}' not found.")
    base = f"{_base(request)}/{tenant}"
    return web.json_response(
        {
            "issuer": f"{base}/v2.0",
            "authorization_endpoint": f"{base}/oauth2/v2.0/authorize",
            "token_endpoint": f"{base}/oauth2/v2.0/token",
            "device_authorization_endpoint": f"{base}/oauth2/v2.0/devicecode",
            "jwks_uri": f"{_base(request)}/{tenant}/discovery/v2.0/keys",
            "response_types_supported": ["code", "id_token", "token"],
            "subject_types_supported": ["pairwise"],
            "id_token_signing_alg_values_supported": ["RS256"],
            "token_endpoint_auth_methods_supported": ["client_secret_post", "private_key_jwt", "client_secret_basic"],
            "tenant_region_scope": "EU",
        }
    )


def _client_refusal(request: web.Request, form: Any, tenant: str, *, public_allowed: bool) -> web.Response | None:
    """The app's credential (secret or assertion) checked; a public client (no credential) only where allowed."""
    state = request.app[STATE_KEY]
    if form.get("client_id") != state.client_id:
        return aad_error(400, "unauthorized_client", "AADSTS700016", "Application not found in the directory.")
    assertion = form.get("client_assertion")
    if isinstance(assertion, str) and assertion:
        if form.get("client_assertion_type") != identity.JWT_BEARER:
            return aad_error(400, "invalid_request", "AADSTS50027", "client_assertion_type must be jwt-bearer.")
        token_url = f"{_base(request)}/{tenant}/oauth2/v2.0/token"
        refusal = identity.check_assertion(request, state, assertion, token_url)
        if refusal is not None:
            state.count("token_refusals")
            code, _, description = refusal.partition(": ")
            return aad_error(401, "invalid_client", code, description)
        return None
    if public_allowed and not form.get("client_secret"):
        return None
    if not form.get("client_secret"):
        state.count("token_refusals")
        return aad_error(
            401, "invalid_client", "AADSTS7000218",
            "The request body must contain the following parameter: 'client_assertion' or 'client_secret'.",
        )  # fmt: skip
    if form.get("client_secret") != state.client_secret:
        state.count("token_refusals")
        return aad_error(401, "invalid_client", "AADSTS7000215", "Invalid client secret provided.")
    return None


PUBLIC_CLIENT_WITH_CREDENTIAL = (
    "Client is public so neither 'client_assertion' nor 'client_secret' should be presented."
)


def _presents_credential(form: Any) -> bool:
    return bool(form.get("client_secret") or form.get("client_assertion"))


async def token(request: web.Request) -> web.Response:
    state = request.app[STATE_KEY]
    tenant = request.match_info["tenant"]
    form = await request.post()
    if tenant != state.tenant_id:
        return aad_error(400, "invalid_request", "AADSTS90002", f"Tenant '{tenant}' not found.")
    grant = str(form.get("grant_type", ""))
    if grant not in ("client_credentials", *USER_GRANTS):
        return aad_error(400, "unsupported_grant_type", "AADSTS70003", f"The grant type {grant} is not supported.")
    # A token issued to a public client (a device code redeemed without a credential) is that client's: Entra
    # refuses a credential on its redemption (AADSTS700025; reported in canonical/authd#1881 and
    # simonrob/email-oauth2-proxy#363), as it refuses a confidential client's redeemed without one (AADSTS7000218).
    public_token = grant == "refresh_token" and state.app_user.is_public(str(form.get("refresh_token", "")))
    if public_token and _presents_credential(form):
        state.count("refresh_refusals")
        return aad_error(401, "invalid_client", "AADSTS700025", PUBLIC_CLIENT_WITH_CREDENTIAL)
    public_allowed = (grant == DEVICE_CODE_GRANT or public_token) and state.app_user.public_client_flows
    if (refused := _client_refusal(request, form, tenant, public_allowed=public_allowed)) is not None:
        return refused
    scope = str(form.get("scope", ""))
    if grant != "client_credentials":
        return user_token(request, state, form, grant, scope)
    audience = next((_AUDIENCES[s] for s in scope.split() if s in _AUDIENCES), None)
    if audience is None:
        return aad_error(400, "invalid_scope", "AADSTS1002012", f"The provided scope '{scope}' is not valid.")
    access_token, expires_in = state.issue_token(audience)
    return web.json_response(
        {"token_type": "Bearer", "expires_in": expires_in, "ext_expires_in": expires_in, "access_token": access_token}
    )


def user_token(request: web.Request, state: State, form: Any, grant: str, scope: str) -> web.Response:
    """The App+User grants: a refresh token (rotated: the answer carries a new one, the old one stays valid), an
    authorization code or a device code of an approved sign-in. Partner Center's user_impersonation scope only."""
    app_user = state.app_user
    if grant != "refresh_token":  # a code grant may leave the scope to the sign-in it redeems
        key = str(form.get("code" if grant == "authorization_code" else "device_code", ""))
        pending = app_user.sign_ins.get(key)
        scope = scope or (pending.scope if pending is not None else "")
    if USER_IMPERSONATION not in scope.split():
        return aad_error(400, "invalid_scope", "AADSTS70011", f"The provided scope '{scope}' is not valid here.")
    if grant == "refresh_token":
        found, code, description = app_user.redeem(str(form.get("refresh_token", "")))
        if found is None:
            state.count("refresh_refusals")
            return aad_error(400, "invalid_grant", code, description)
        user, mfa, nonce, public = found.user, found.mfa, None, found.public
        state.count("refresh_redemptions")
    else:
        key = str(form.get("code" if grant == "authorization_code" else "device_code", ""))
        sign_in: SignIn | None = app_user.sign_ins.pop(key, None)
        if sign_in is None or (grant == "authorization_code" and sign_in.redirect_uri != form.get("redirect_uri")):
            return aad_error(400, "invalid_grant", "AADSTS70000", "The provided authorization code is invalid.")
        user, mfa, nonce = sign_in.user, sign_in.mfa, sign_in.nonce
        public = not _presents_credential(form)  # a device code redeemed as a public client
        state.count("interactive_sign_ins")
    access_token, expires_in = state.issue_token(PARTNER_CENTER_AUDIENCE, user=user, mfa=mfa)
    base = f"{_base(request)}/{state.tenant_id}"
    claims: dict[str, Any] = {
        "iss": f"{base}/v2.0", "aud": state.client_id, "sub": user, "oid": user, "tid": state.tenant_id,
        "preferred_username": user, "iat": int(time.time()), "exp": int(time.time()) + expires_in,
        "amr": ["pwd", "mfa"] if mfa else ["pwd"],
    }  # fmt: skip
    if nonce:
        claims["nonce"] = nonce
    return web.json_response(
        {
            "token_type": "Bearer", "scope": f"{USER_IMPERSONATION} offline_access", "expires_in": expires_in,
            "ext_expires_in": expires_in, "access_token": access_token,
            "refresh_token": app_user.issue_refresh_token(user, mfa, public=public),
            "id_token": assertions.sign(claims, state.signing_key),
        }
    )  # fmt: skip


async def authorize(request: web.Request) -> web.Response:
    """The interactive sign-in, auto-approved (a test stand-in): redirects to a local redirect URI with a code."""
    state = request.app[STATE_KEY]
    query = request.query
    redirect_uri = query.get("redirect_uri", "")
    if query.get("client_id") != state.client_id:
        return aad_error(400, "unauthorized_client", "AADSTS700016", "Application not found in the directory.")
    if not redirect_uri.startswith(("http://localhost", "http://127.0.0.1")):
        return aad_error(400, "invalid_request", "AADSTS50011", "The redirect URI is not registered for the app.")
    code = state.app_user.sign_in(redirect_uri=redirect_uri, nonce=query.get("nonce"), scope=query.get("scope", ""))
    target = f"{redirect_uri}?{urlencode({'code': code, 'state': query.get('state', '')})}"
    raise web.HTTPFound(target)


async def device_code(request: web.Request) -> web.Response:
    """Device-code sign-in, approved at once (a test stand-in)."""
    state = request.app[STATE_KEY]
    form = await request.post()
    if form.get("client_id") != state.client_id:
        return aad_error(400, "unauthorized_client", "AADSTS700016", "Application not found in the directory.")
    if not state.app_user.public_client_flows:
        return aad_error(400, "invalid_client", "AADSTS7000218", "The app does not allow public client flows.")
    code = state.app_user.sign_in(redirect_uri=None, nonce=None, scope=str(form.get("scope", "")))
    user_code = secrets.token_hex(4).upper()
    return web.json_response(
        {
            "device_code": code, "user_code": user_code, "verification_uri": f"{_base(request)}/devicelogin",
            "expires_in": 900, "interval": 1,
            "message": f"To sign in, open {_base(request)}/devicelogin and enter the code {user_code}.",
        }
    )  # fmt: skip
