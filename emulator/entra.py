"""Entra ID for client credentials: OpenID discovery and the v2.0 token endpoint."""

from __future__ import annotations

from aiohttp import web

from emulator import identity
from emulator.partner_center import STATE_KEY
from emulator.state import EVENT_GRID_AUDIENCE, PARTNER_CENTER_AUDIENCE

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
            "jwks_uri": f"{_base(request)}/{tenant}/discovery/v2.0/keys",
            "response_types_supported": ["code", "id_token", "token"],
            "subject_types_supported": ["pairwise"],
            "id_token_signing_alg_values_supported": ["RS256"],
            "token_endpoint_auth_methods_supported": ["client_secret_post", "private_key_jwt", "client_secret_basic"],
            "tenant_region_scope": "EU",
        }
    )


async def token(request: web.Request) -> web.Response:
    state = request.app[STATE_KEY]
    tenant = request.match_info["tenant"]
    form = await request.post()
    if tenant != state.tenant_id:
        return aad_error(400, "invalid_request", "AADSTS90002", f"Tenant '{tenant}' not found.")
    if form.get("grant_type") != "client_credentials":
        return aad_error(400, "unsupported_grant_type", "AADSTS70003", "Only client_credentials is supported here.")
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
    elif form.get("client_secret") != state.client_secret or not form.get("client_secret"):
        state.count("token_refusals")
        return aad_error(401, "invalid_client", "AADSTS7000215", "Invalid client secret provided.")
    scope = str(form.get("scope", ""))
    audience = next((_AUDIENCES[s] for s in scope.split() if s in _AUDIENCES), None)
    if audience is None:
        return aad_error(400, "invalid_scope", "AADSTS1002012", f"The provided scope '{scope}' is not valid.")
    access_token, expires_in = state.issue_token(audience)
    return web.json_response(
        {"token_type": "Bearer", "expires_in": expires_in, "ext_expires_in": expires_in, "access_token": access_token}
    )
