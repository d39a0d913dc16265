"""Azure Resource Manager's permissions API, the one management call the operator commands make to check their roles
before they act: `GET {resourceId}/providers/Microsoft.Authorization/permissions` answers the caller's effective
permissions on a resource (learn.microsoft.com/rest/api/authorization/permissions/list-for-resource), one entry per
role assignment at the resource or above it. The assignments are the test's to set
(`POST /_emulator/role-assignments`, a list of {"scope", "actions", "dataActions"}); none are made by default.

Real ARM answers for a resource that does not exist too (permissions are computed from the scope), so this does."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from emulator.partner_center import STATE_KEY
from emulator.state import MANAGEMENT_AUDIENCE

API_VERSION = "2022-04-01"


def _arm_error(status: int, code: str, message: str) -> web.Response:
    return web.json_response({"error": {"code": code, "message": message}}, status=status)


def _covers(scope: str, resource_id: str) -> bool:
    """Whether an assignment at `scope` applies to `resource_id`: the same resource or one below it."""
    scope, resource_id = scope.rstrip("/").lower(), resource_id.rstrip("/").lower()
    return resource_id == scope or resource_id.startswith(scope + "/")


async def permissions(request: web.Request) -> web.Response:
    """GET /subscriptions/…/providers/Microsoft.Authorization/permissions?api-version=2022-04-01."""
    state = request.app[STATE_KEY]
    if not state.token_valid(request.headers.get("Authorization"), MANAGEMENT_AUDIENCE):
        return _arm_error(401, "AuthenticationFailed", "Authentication failed: no valid token for Resource Manager.")
    if request.query.get("api-version") != API_VERSION:
        return _arm_error(400, "InvalidApiVersionParameter", f"The api-version must be {API_VERSION} here.")
    resource_id = request.path.removesuffix("/providers/Microsoft.Authorization/permissions")
    granted: list[dict[str, Any]] = [
        {
            "actions": list(a.get("actions", [])),
            "notActions": [],
            "dataActions": list(a.get("dataActions", [])),
            "notDataActions": list(a.get("notDataActions", [])),
        }
        for a in state.role_assignments
        if _covers(str(a.get("scope", "")), resource_id)
    ]
    state.count("permission_checks")
    return web.json_response({"value": granted, "nextLink": None})


async def admin_set_role_assignments(request: web.Request) -> web.Response:
    """Replace the caller's role assignments: a list of {"scope", "actions"?, "dataActions"?, "notDataActions"?}."""
    body = await request.json()
    if not isinstance(body, list) or not all(isinstance(a, dict) and isinstance(a.get("scope"), str) for a in body):
        return web.json_response({"error": "a list of {scope, actions, dataActions}"}, status=400)
    request.app[STATE_KEY].role_assignments[:] = body
    return web.json_response(body)


def add_routes(app: web.Application) -> None:
    app.router.add_get(
        "/subscriptions/{path:.+}/providers/Microsoft.Authorization/permissions", permissions, name="arm.permissions"
    )
    app.router.add_post("/_emulator/role-assignments", admin_set_role_assignments, name="admin.role_assignments")
