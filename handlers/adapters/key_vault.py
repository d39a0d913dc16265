"""Key Vault secrets over the shared httpx client, with the managed identity's token and the 401 challenge."""

from __future__ import annotations

import time
from typing import Any

import httpx
from pydantic import SecretStr

from handlers.adapters.entra import MsalTokenProvider
from handlers.adapters.http import transport_failure
from handlers.adapters.retry import RetryPolicy, call_with_retries, retry_after_seconds
from handlers.failures import ErrorKind, OnboardingError

API_VERSION = "7.4"


class KeyVaultSecrets:
    """Writes secrets; returns version-less secret ids, so the same name always yields the same id."""

    def __init__(
        self, http: httpx.AsyncClient, vault_url: str, tokens: MsalTokenProvider, *, retry_policy: RetryPolicy
    ) -> None:
        self._http = http
        self._vault_url = vault_url.rstrip("/")
        self._tokens = tokens
        self._policy = retry_policy

    async def set_secret(
        self, name: str, value: SecretStr, *, tags: dict[str, str], expires_in_days: int, content_type: str
    ) -> str:
        """Store a new version of secret `name`; returns its id; raises OnboardingError. Idempotent by name."""
        url = f"{self._vault_url}/secrets/{name}?api-version={API_VERSION}"
        body: dict[str, Any] = {
            "value": value.get_secret_value(),
            "contentType": content_type,
            "tags": tags,
            "attributes": {"enabled": True, "exp": int(time.time()) + expires_in_days * 86400},
        }

        async def attempt() -> str:
            for challenged in (False, True):
                headers = {"Authorization": f"Bearer {await self._tokens.get_token()}"}
                try:
                    response = await self._http.put(url, json=body, headers=headers)
                except httpx.TransportError as exc:
                    raise transport_failure("Key Vault", exc) from None
                if response.status_code == 401 and not challenged and "WWW-Authenticate" in response.headers:
                    self._tokens.invalidate()  # the challenge: take a fresh token and try once more
                    continue
                if response.status_code in (200, 201):
                    return f"{self._vault_url}/secrets/{name}"
                kind = ErrorKind.AUTH if response.status_code in (401, 403) else ErrorKind.TRANSIENT
                raise OnboardingError(
                    kind,
                    f"Key Vault refused to store secret {name} (HTTP {response.status_code})",
                    retry_after=retry_after_seconds(
                        response.headers.get("Retry-After"), cap=self._policy.max_retry_after
                    ),
                )
            raise OnboardingError(ErrorKind.AUTH, f"Key Vault refused the managed identity's token for {name}")

        return await call_with_retries(self._policy, attempt, what="Key Vault set secret")
