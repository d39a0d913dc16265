"""Key Vault secrets over the shared httpx client, with the managed identity's token and the 401 challenge."""

from __future__ import annotations

import time
from urllib.parse import quote
from dataclasses import dataclass, field
from typing import Any, Protocol

import httpx
from pydantic import SecretStr

from handlers.adapters.http import transport_failure
from handlers.adapters.retry import RetryPolicy, call_with_retries, retry_after_seconds
from handlers.domain.failures import ErrorKind, OnboardingError

API_VERSION = "7.4"


class VaultTokens(Protocol):
    """Bearer tokens for Key Vault (the managed identity's MsalTokenProvider, or an azure-identity credential)."""

    async def get_token(self) -> str: ...

    def invalidate(self) -> None: ...


@dataclass(frozen=True)
class StoredSecret:
    """A secret's latest version: its value and its tags."""

    value: SecretStr
    tags: dict[str, str] = field(default_factory=dict)


class KeyVaultSecrets:
    """Writes and reads secrets; returns version-less secret ids, so the same name always yields the same id."""

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
        await self._send("PUT", name, body, ok=(200, 201), what="store")
        return f"{self._vault_url}/secrets/{name}"

    async def get_secret(self, name: str) -> StoredSecret | None:
        """The latest version of secret `name`, or None when there is none; raises OnboardingError."""
        response = await self._send("GET", name, None, ok=(200, 404), what="read")
        if response.status_code == 404:
            return None
        try:
            body = response.json()
            value, tags = body.get("value"), body.get("tags") or {}
        except (ValueError, AttributeError):
            value, tags = None, {}
        if not isinstance(value, str) or not isinstance(tags, dict):
            raise OnboardingError(ErrorKind.TRANSIENT, f"Key Vault's answer for secret {name} could not be read")
        return StoredSecret(SecretStr(value), {str(k): str(v) for k, v in tags.items()})

    async def _send(
        self, method: str, name: str, body: dict[str, Any] | None, *, ok: tuple[int, ...], what: str
    ) -> httpx.Response:
        url = f"{self._vault_url}/secrets/{quote(name, safe='')}?api-version={API_VERSION}"  # a name never a path

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
                    f"Key Vault refused to {what} secret {name} (HTTP {response.status_code})",
                    retry_after=retry_after_seconds(
                        response.headers.get("Retry-After"), cap=self._policy.max_retry_after
                    ),
                )
            raise OnboardingError(ErrorKind.AUTH, f"Key Vault refused the managed identity's token for {name}")

        return await call_with_retries(self._policy, attempt, what=f"Key Vault {what} secret")
