"""Entra ID app tokens through MSAL: one ConfidentialClientApplication per worker, its cache reused."""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Callable
from typing import Any
from urllib.parse import urlparse

import msal
import requests

from handlers.failures import ErrorKind, OnboardingError
from handlers.settings import CLOUDS, Settings

# MSAL errors that mean our credential or configuration is refused: retrying will not help.
_AUTH_ERRORS = frozenset(
    {"invalid_client", "unauthorized_client", "invalid_scope", "invalid_grant", "invalid_request", "invalid_resource"}
)
_KNOWN_AUTHORITY_HOSTS = frozenset(urlparse(cloud.authority_host).hostname for cloud in CLOUDS.values())


class _PinnedCaSession(requests.Session):
    """A requests Session whose CA bundle is not overridden by REQUESTS_CA_BUNDLE / CURL_CA_BUNDLE."""

    def merge_environment_settings(self, url: Any, proxies: Any, stream: Any, verify: Any, cert: Any) -> Any:
        settings = super().merge_environment_settings(url, proxies, stream, verify, cert)
        settings["verify"] = self.verify
        return settings


def msal_http_session() -> requests.Session:
    """MSAL's own HTTP client (requests), trusting SSL_CERT_FILE when set, as every other client does.

    requests ignores SSL_CERT_FILE, and its REQUESTS_CA_BUNDLE would silently win over Session.verify.
    """
    ca_file = os.environ.get("SSL_CERT_FILE")
    if not ca_file:
        return requests.Session()
    session = _PinnedCaSession()
    session.verify = ca_file
    return session


def client_credential(settings: Settings) -> Any:
    """The MSAL client_credential for the configured option; raises OnboardingError(AUTH) when unusable."""
    kind = settings.credential_kind
    if kind == "secret" and settings.PARTNER_CENTER_CLIENT_SECRET is not None:
        return settings.PARTNER_CENTER_CLIENT_SECRET.get_secret_value()
    raise OnboardingError(ErrorKind.AUTH, f"the {kind} credential option is not supported by this build yet")


def build_msal_app(settings: Settings, credential: Any) -> msal.ConfidentialClientApplication:
    """The worker's MSAL app for the partner tenant, at the configured cloud's (or overridden) authority."""
    authority_host = settings.cloud.authority_host
    if not authority_host.startswith("https://"):
        raise ValueError("PARTNER_CENTER_AUTHORITY_HOST must be an https:// URL (MSAL refuses http authorities)")
    known = urlparse(authority_host).hostname in _KNOWN_AUTHORITY_HOSTS
    return msal.ConfidentialClientApplication(
        client_id=settings.PARTNER_CENTER_CLIENT_ID,
        client_credential=credential,
        authority=f"{authority_host}/{settings.PARTNER_CENTER_TENANT_ID}",
        http_client=msal_http_session(),
        timeout=settings.PARTNER_CENTER_TIMEOUT_SECONDS,
        # Instance discovery asks login.microsoftonline.com about the authority: only for Microsoft's own hosts.
        instance_discovery=None if known else False,
        app_name="csp-onboarding-function",
    )


class MsalTokenProvider:
    """App-only tokens for one scope. Serves from memory until 5 minutes before expiry; MSAL (blocking) runs
    in a thread, and only one refresh runs at a time however many invocations wait."""

    def __init__(
        self,
        app_factory: Callable[[], msal.ConfidentialClientApplication],
        scope: str,
        *,
        refresh_margin: float = 300.0,
    ) -> None:
        # MSAL's constructor fetches the authority's discovery document (blocking I/O): build it in the
        # worker thread on first use, where its failures are classified like any token failure.
        self._app_factory = app_factory
        self._app: msal.ConfidentialClientApplication | None = None
        self._scope = scope
        self._refresh_margin = refresh_margin
        self._token: str | None = None
        self._expires_at = 0.0
        self._lock = asyncio.Lock()
        self.requests_made = 0

    async def get_token(self) -> str:
        """A valid bearer token; raises OnboardingError (AUTH when refused, TRANSIENT when unreachable)."""
        if self._token is not None and time.monotonic() < self._expires_at - self._refresh_margin:
            return self._token
        async with self._lock:
            if self._token is not None and time.monotonic() < self._expires_at - self._refresh_margin:
                return self._token
            result = await asyncio.to_thread(self._acquire)
            self._token = result["access_token"]
            self._expires_at = time.monotonic() + float(result.get("expires_in", 3600))
            return self._token

    def _acquire(self) -> dict[str, Any]:
        self.requests_made += 1
        try:
            if self._app is None:
                self._app = self._app_factory()
            result = self._app.acquire_token_for_client(scopes=[self._scope])
        except (requests.RequestException, OSError) as exc:
            raise OnboardingError(ErrorKind.TRANSIENT, f"Entra ID could not be reached: {type(exc).__name__}") from None
        except ValueError as exc:  # MSAL: unknown tenant or authority, unreadable discovery document
            raise OnboardingError(ErrorKind.AUTH, f"Entra ID authority is unusable: {exc}") from None
        if not result or "access_token" not in result:
            error = str((result or {}).get("error", "unknown_error"))
            description = str((result or {}).get("error_description", "")).split("\n")[0][:300]
            kind = ErrorKind.AUTH if error in _AUTH_ERRORS else ErrorKind.TRANSIENT
            raise OnboardingError(kind, f"Entra ID refused the token request: {error}: {description}", code=error)
        return dict(result)
