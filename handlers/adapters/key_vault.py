"""Key Vault secrets over the shared httpx client, with the managed identity's token and the 401 challenge: a new
version, the latest version, a page of the versions (Key Vault's nextLink followed only within the vault) and a
version disabled. A refusal names Key Vault's error code, never its message (it may echo what was sent)."""

from __future__ import annotations

import asyncio
import re
import time
from dataclasses import dataclass, field
from typing import Any, Protocol
from urllib.parse import quote, urlencode

import httpx
from pydantic import SecretStr

from handlers.adapters.http import transport_failure
from handlers.adapters.retry import RetryPolicy, call_with_retries, retry_after_seconds
from handlers.domain.failures import ErrorKind, OnboardingError

API_VERSION = "7.4"
VERSION = re.compile(r"[0-9A-Za-z]{1,64}")  # a version id: 32 hex digits in Key Vault
CODE = re.compile(r"[A-Za-z][A-Za-z0-9.]{0,63}")  # an error code of Key Vault's, e.g. Forbidden, SecretDisabled


class VaultTokens(Protocol):
    """Bearer tokens for Key Vault (the managed identity's MsalTokenProvider, or an azure-identity credential)."""

    async def get_token(self) -> str: ...

    def invalidate(self) -> None: ...


class OperatorVaultTokens:
    """Key Vault tokens of azure-identity's DefaultAzureCredential (the operator's own sign-in: `az login`)."""

    def __init__(self, resource: str) -> None:
        from azure.identity import DefaultAzureCredential  # only where an operator signs in

        self._credential = DefaultAzureCredential()
        self._scope = f"{resource}/.default"

    async def get_token(self) -> str:
        """A Key Vault token; raises azure-identity's errors."""
        return (await asyncio.to_thread(self._credential.get_token, self._scope)).token

    def invalidate(self) -> None:
        """Nothing cached here: azure-identity caches."""


@dataclass(frozen=True)
class StoredSecret:
    """A secret's latest version: its value, its tags, its version id and when it was written (Key Vault's
    `created`, in seconds)."""

    value: SecretStr
    tags: dict[str, str]
    version: str
    created: int


@dataclass(frozen=True)
class SecretVersion:
    """One version of a secret as Key Vault lists it: no value."""

    version: str
    enabled: bool
    created: int
    tags: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class VersionPage:
    """One page of a secret's versions, and Key Vault's link to the next page (None after the last)."""

    versions: tuple[SecretVersion, ...]
    next_link: str | None


class KeyVaultSecrets:
    """Writes and reads secrets, lists and disables their versions; `set_secret` returns version-less secret ids, so
    the same name always yields the same id."""

    def __init__(
        self, http: httpx.AsyncClient, vault_url: str, tokens: VaultTokens, *, retry_policy: RetryPolicy
    ) -> None:
        self._http = http
        self._vault_url = vault_url.rstrip("/")
        self._tokens = tokens
        self._policy = retry_policy

    async def set_secret(
        self, name: str, value: SecretStr, *, tags: dict[str, str], expires_in_days: int, content_type: str
    ) -> str:
        """Store a new version of secret `name`; returns its id; raises OnboardingError. Idempotent by name."""
        body: dict[str, Any] = {
            "value": value.get_secret_value(),
            "contentType": content_type,
            "tags": tags,
            "attributes": {"enabled": True, "exp": int(time.time()) + expires_in_days * 86400},
        }
        await self._send("PUT", name, self._url(name), body, ok=(200, 201), what="store")
        return f"{self._vault_url}/secrets/{name}"

    async def get_secret(self, name: str) -> StoredSecret | None:
        """The latest version of secret `name`, or None when there is none; raises OnboardingError (AUTH, naming
        SecretDisabled, when the latest version is disabled: Key Vault does not step back to an older one)."""
        response = await self._send("GET", name, self._url(name), None, ok=(200, 404), what="read")
        if response.status_code == 404:
            return None
        body = _json_object(response)
        value, listed = body.get("value"), _version_of(body, name)
        if not isinstance(value, str) or listed is None:
            raise OnboardingError(ErrorKind.TRANSIENT, f"Key Vault's answer for secret {name} could not be read")
        return StoredSecret(SecretStr(value), listed.tags, listed.version, listed.created)

    async def secret_versions(self, name: str, *, next_link: str | None = None) -> VersionPage:
        """One page of the versions of secret `name` (Key Vault's order: not the order of writing), the first or
        the one `next_link` names; raises OnboardingError, TRANSIENT for an unreadable page or a next link that
        leaves this secret's versions in this vault (the vault's token is sent nowhere else)."""
        url = self._url(name, "versions", maxresults="25") if next_link is None else self._next(name, next_link)
        response = await self._send("GET", name, url, None, ok=(200,), what="list the versions of")
        body = _json_object(response)
        items, link = body.get("value"), body.get("nextLink")
        if not isinstance(items, list) or not isinstance(link, str | None):
            raise OnboardingError(ErrorKind.TRANSIENT, f"Key Vault's versions of secret {name} could not be read")
        versions = (_version_of(i, name) if isinstance(i, dict) else None for i in items)
        return VersionPage(tuple(v for v in versions if v is not None), link or None)

    async def disable_version(self, name: str, version: str) -> None:
        """Disable one version of secret `name` (its value can no longer be read); a version that is gone is left
        alone; raises OnboardingError, and ValueError for a version that is no version id."""
        if not VERSION.fullmatch(version):
            raise ValueError("not a Key Vault version id")
        body = {"attributes": {"enabled": False}}
        await self._send("PATCH", name, self._url(name, version), body, ok=(200, 404), what="disable a version of")

    def _url(self, name: str, *segments: str, **query: str) -> str:
        """The URL of a secret (or its versions, a version): each segment quoted whole, so a name is never a path."""
        path = "/".join(quote(part, safe="") for part in (name, *segments))
        return f"{self._vault_url}/secrets/{path}?{urlencode({'api-version': API_VERSION, **query})}"

    def _next(self, name: str, link: str) -> str:
        """Key Vault's next link, when it names the next page of this secret's versions in this vault."""
        vault = httpx.URL(self._vault_url)
        try:
            url = httpx.URL(link)
        except httpx.InvalidURL:
            url = vault.copy_with(path="/")
        here = (vault.scheme, vault.host, vault.port, f"/secrets/{name}/versions")
        if (url.scheme, url.host, url.port, url.path) != here:
            raise OnboardingError(ErrorKind.TRANSIENT, f"Key Vault's next link for secret {name} leaves its versions")
        return link

    async def _send(
        self, method: str, name: str, url: str, body: dict[str, Any] | None, *, ok: tuple[int, ...], what: str
    ) -> httpx.Response:
        async def attempt() -> httpx.Response:
            for challenged in (False, True):
                headers = {"Authorization": f"Bearer {await self._tokens.get_token()}"}
                try:
                    response = await self._http.request(method, url, json=body, headers=headers)
                except httpx.TransportError as exc:
                    raise transport_failure("Key Vault", exc) from None
                if response.status_code == 401 and not challenged and "WWW-Authenticate" in response.headers:
                    self._tokens.invalidate()  # the challenge: take a fresh token and try once more
                    continue
                if response.status_code in ok:
                    return response
                kind = ErrorKind.AUTH if response.status_code in (401, 403) else ErrorKind.TRANSIENT
                raise OnboardingError(
                    kind,
                    f"Key Vault refused to {what} secret {name} (HTTP {response.status_code}{_error_code(response)})",
                    retry_after=retry_after_seconds(
                        response.headers.get("Retry-After"), cap=self._policy.max_retry_after
                    ),
                )
            raise OnboardingError(ErrorKind.AUTH, f"Key Vault refused the managed identity's token for {name}")

        return await call_with_retries(self._policy, attempt, what=f"Key Vault {what} secret")


def _json_object(response: httpx.Response) -> dict[str, Any]:
    """An answer's JSON object, or an empty one (what it lacks is then reported by the caller)."""
    try:
        body = response.json()
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}


def _version_of(item: dict[str, Any], name: str) -> SecretVersion | None:
    """A secret version from Key Vault's bundle or list item, or None when its id names no version of `name`."""
    secret_id, attributes, tags = item.get("id"), item.get("attributes") or {}, item.get("tags") or {}
    if not isinstance(secret_id, str) or not isinstance(attributes, dict) or not isinstance(tags, dict):
        return None
    try:
        path = httpx.URL(secret_id).path
    except httpx.InvalidURL:
        return None
    prefix, _, version = path.rpartition("/")
    if prefix != f"/secrets/{name}" or not VERSION.fullmatch(version):
        return None
    created = attributes.get("created")
    return SecretVersion(
        version,
        enabled=attributes.get("enabled") is not False,
        created=created if isinstance(created, int) and not isinstance(created, bool) else 0,
        tags={str(k): str(v) for k, v in tags.items()},
    )


def _error_code(response: httpx.Response) -> str:
    """Key Vault's error code (and inner code) of a refusal, as ` Forbidden/SecretDisabled`; its message is left
    out: it may echo what was sent."""
    error = _json_object(response).get("error")
    codes: list[str] = []
    while isinstance(error, dict) and len(codes) < 2:
        code = error.get("code")
        if not isinstance(code, str) or not CODE.fullmatch(code):
            break
        codes.append(code)
        error = error.get("innererror") or error.get("innerError")
    return f" {'/'.join(codes)}" if codes else ""
