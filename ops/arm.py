"""Azure Resource Manager for the operator commands: the caller's effective permissions on one resource, the one
management call they make (`GET {resourceId}/providers/Microsoft.Authorization/permissions`, api-version 2022-04-01,
learn.microsoft.com/rest/api/authorization/permissions/list-for-resource). Every role assignment at the resource or
above it, built-in and custom alike, answers as one entry of actions, notActions, dataActions and notDataActions.

Where it is: `--management-url`, else AZURE_RESOURCE_MANAGER_URL, else the public cloud's; tokens are for the cloud's
Resource Manager audience (the public one for any other URL, such as the local emulator's)."""

from __future__ import annotations

import os
from typing import Any

import httpx

API_VERSION = "2022-04-01"
PUBLIC = "https://management.azure.com"
AUDIENCES = {  # Resource Manager's URL in each cloud is also its token audience
    PUBLIC: PUBLIC,
    "https://management.usgovcloudapi.net": "https://management.usgovcloudapi.net",
    "https://management.chinacloudapi.cn": "https://management.chinacloudapi.cn",
}
Entry = dict[str, list[str]]


class PermissionsUnreadable(Exception):
    """Resource Manager did not say what the caller may do: no sign-in, no answer, or a refusal (its text says which,
    in words an operator acts on)."""


def management_url(given: str | None = None) -> str:
    """The Resource Manager to ask: the option, else AZURE_RESOURCE_MANAGER_URL, else the public cloud's."""
    return (given or os.environ.get("AZURE_RESOURCE_MANAGER_URL") or PUBLIC).rstrip("/")


class ResourceManager:
    """Reads the signed-in caller's permissions; `credential` is an azure-identity credential (sync)."""

    def __init__(self, credential: Any, url: str | None = None) -> None:
        self._credential = credential
        self._url = management_url(url)
        self._scope = f"{AUDIENCES.get(self._url, PUBLIC)}/.default"

    def permissions(self, resource_id: str) -> list[Entry]:
        """The caller's permission entries on `resource_id`; raises PermissionsUnreadable."""
        from azure.core.exceptions import ClientAuthenticationError

        try:
            token = self._credential.get_token(self._scope).token
        except ClientAuthenticationError:
            raise PermissionsUnreadable(
                "could not sign in to Azure Resource Manager: run `az login` (or `azd auth login`)"
            ) from None
        url: str | None = f"{self._url}{resource_id}/providers/Microsoft.Authorization/permissions"
        params: dict[str, str] | None = {"api-version": API_VERSION}
        entries: list[Entry] = []
        with httpx.Client(timeout=30.0) as http:
            while url:
                try:
                    answer = http.get(url, params=params, headers={"Authorization": f"Bearer {token}"})
                except httpx.HTTPError as exc:
                    raise PermissionsUnreadable(
                        f"Azure Resource Manager cannot be reached: {type(exc).__name__}"
                    ) from None
                if answer.status_code != 200:
                    raise PermissionsUnreadable(
                        f"Azure Resource Manager refused to list your permissions on {resource_id} "
                        f"({answer.status_code}): check the subscription and resource group"
                    )
                body = answer.json()
                entries += [_entry(item) for item in body.get("value", []) if isinstance(item, dict)]
                url, params = body.get("nextLink"), None
        return entries


def _entry(item: dict[str, Any]) -> Entry:
    keys = ("actions", "notActions", "dataActions", "notDataActions")
    return {key: [str(a) for a in item.get(key) or [] if isinstance(a, str)] for key in keys}
