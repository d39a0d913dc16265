"""Entra ID tokens through MSAL: the Partner Center app (secret, certificate or secretless federated
credential) and the function's managed identity (Event Grid, Key Vault). One MSAL client each per worker."""

from __future__ import annotations

import asyncio
import functools
import logging
import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import urlparse

import msal
import requests
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from pydantic import SecretStr, ValidationError

from handlers.adapters.user_tokens import MsalResult
from handlers.domain.clouds import CLOUDS, PARTNER_CENTER_SCOPE, USER_IMPERSONATION_SCOPE
from handlers.domain.error_codes import entra_refusal_text, oauth_kind
from handlers.domain.failures import ErrorKind, OnboardingError
from handlers.domain.payloads import TokenAnswer
from handlers.observability.redaction import remember_token

T = TypeVar("T")
log = logging.getLogger("csp_onboarding")

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


def _refused(what: str, result: MsalResult | None) -> OnboardingError:
    """Entra's refusal as an error naming its OAuth error and AADSTS codes; its description only in the (redacted)
    log, since it can echo the credential the request carried."""
    answer = result or {}
    error = str(answer.get("error", "unknown_error"))
    log.warning("%s: %s", what, str(answer.get("error_description", "")).split("\n")[0])
    kind = oauth_kind(error, otherwise=ErrorKind.TRANSIENT)
    return OnboardingError(kind, f"{what}: {entra_refusal_text(answer)}", code=error)


def certificate_credential(path: str) -> dict[str, str]:
    """MSAL's certificate credential from a PEM file holding the private key and the certificate.

    Raises OnboardingError(AUTH) when the file cannot be used (its text never carries the key).
    """
    try:
        pem = Path(path).read_bytes()
        key = serialization.load_pem_private_key(pem, password=None)
        certificate = x509.load_pem_x509_certificate(pem)
    except (OSError, ValueError, TypeError) as exc:
        raise OnboardingError(
            ErrorKind.AUTH,
            f"PARTNER_CENTER_CLIENT_CERTIFICATE_PATH is unusable ({type(exc).__name__}): "
            "it must be a PEM file with an unencrypted private key and its certificate",
        ) from None
    if not isinstance(key, rsa.RSAPrivateKey):
        raise OnboardingError(
            ErrorKind.AUTH,
            "PARTNER_CENTER_CLIENT_CERTIFICATE_PATH holds a non-RSA key: Entra ID needs RSA",
        )
    private_pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode("ascii")
    return {
        "private_key": private_pem,
        "thumbprint": certificate.fingerprint(hashes.SHA1()).hex(),  # noqa: S303 — x5t is SHA-1 by definition
        "public_certificate": certificate.public_bytes(serialization.Encoding.PEM).decode("ascii"),
    }


def managed_identity_client(client_id: str | None) -> msal.ManagedIdentityClient:
    """MSAL's managed-identity client (user-assigned when a client id is given, else system-assigned)."""
    identity = (
        msal.UserAssignedManagedIdentity(client_id=client_id) if client_id else msal.SystemAssignedManagedIdentity()
    )
    return msal.ManagedIdentityClient(identity, http_client=msal_http_session())


def federated_assertion(client_id: str, audience: str) -> Callable[[], str]:
    """A client_assertion callable: a managed-identity token for the federated audience (secretless)."""
    client = managed_identity_client(client_id)

    def assertion() -> str:
        result = client.acquire_token_for_client(resource=audience)
        if not result or "access_token" not in result:
            raise _refused("the managed identity gave no federated assertion", result)
        token = str(result["access_token"])
        remember_token(token)
        return token

    return assertion


@dataclass(frozen=True)
class EntraApp:
    """The Partner Center app registration as MSAL signs in with it: its tenant and client, the sign-in host, and
    exactly one credential (a secret, a PEM certificate file, or a federated managed identity's client id)."""

    tenant_id: str
    client_id: str
    authority_host: str
    federated_audience: str
    timeout_seconds: float
    secret: SecretStr | None = None
    certificate_path: str | None = None
    federated_client_id: str | None = None


def client_credential(app: EntraApp) -> Any:
    """The MSAL client_credential for the configured option; raises OnboardingError(AUTH) when unusable."""
    if app.secret is not None:
        return app.secret.get_secret_value()
    if app.certificate_path:
        return certificate_credential(app.certificate_path)
    assert app.federated_client_id is not None
    return {"client_assertion": federated_assertion(app.federated_client_id, app.federated_audience)}


def _app_options(app: EntraApp) -> dict[str, Any]:
    """What every MSAL app of the partner tenant is built with, at the configured cloud's (or overridden)
    authority."""
    authority_host = app.authority_host
    if not authority_host.startswith("https://"):
        raise OnboardingError(ErrorKind.AUTH, "PARTNER_CENTER_AUTHORITY_HOST must be https:// (MSAL refuses http)")
    known = urlparse(authority_host).hostname in _KNOWN_AUTHORITY_HOSTS
    return {
        "client_id": app.client_id,
        "authority": f"{authority_host}/{app.tenant_id}",
        "http_client": msal_http_session(),
        "timeout": app.timeout_seconds,
        # Instance discovery asks login.microsoftonline.com about the authority: only for Microsoft's own hosts.
        "instance_discovery": None if known else False,
        "app_name": "csp-onboarding-function",
    }


def build_msal_app(app: EntraApp) -> msal.ConfidentialClientApplication:
    """The worker's MSAL app for the partner tenant (with the app's one credential)."""
    return msal.ConfidentialClientApplication(client_credential=client_credential(app), **_app_options(app))


def build_public_msal_app(app: EntraApp) -> msal.PublicClientApplication:
    """The same app registration as a public client (no credential): device-code sign-ins and their tokens."""
    return msal.PublicClientApplication(**_app_options(app))


MsalApp = Callable[[], msal.ConfidentialClientApplication]


def built_once(build: Callable[[], T]) -> Callable[[], T]:
    """A getter of what `build` makes, built on first use and once (first use may come from two threads: the
    app-only and the App+User token source)."""
    lock = threading.Lock()
    cached = functools.cache(build)

    def get() -> T:
        with lock:
            return cached()

    return get


def shared_msal_app(app: EntraApp) -> MsalApp:
    """The worker's one MSAL app (and credential), built on first use, for app-only and App+User tokens alike."""
    return built_once(lambda: build_msal_app(app))


def refresh_token_redeemer(app: MsalApp) -> Callable[[str], MsalResult]:
    """MSAL's `acquire_token_by_refresh_token` for Partner Center's user_impersonation scope (blocking)."""

    def redeem(refresh_token: str) -> MsalResult:
        return dict(app().acquire_token_by_refresh_token(refresh_token, scopes=[USER_IMPERSONATION_SCOPE]) or {})

    return redeem


def public_refresh_token_redeemer(app: EntraApp) -> Callable[[str], MsalResult]:
    """The same redemption as a public client (no credential: a device-code sign-in's refresh token); its MSAL
    app is built on first use, once per worker."""
    public = built_once(lambda: build_public_msal_app(app))

    def redeem(refresh_token: str) -> MsalResult:
        return dict(public().acquire_token_by_refresh_token(refresh_token, scopes=[USER_IMPERSONATION_SCOPE]) or {})

    return redeem


def partner_center_tokens(app: MsalApp) -> MsalTokenProvider:
    """App-only Partner Center tokens from the worker's MSAL app (built on first use)."""

    def acquire() -> MsalResult:
        return dict(app().acquire_token_for_client(scopes=[PARTNER_CENTER_SCOPE]) or {})

    return MsalTokenProvider(acquire, what="Entra ID refused the Partner Center token request")


def managed_identity_tokens(client_id: str | None, resource: str) -> MsalTokenProvider:
    """Tokens of the function's managed identity for one resource (Event Grid, Key Vault)."""
    client = functools.cache(lambda: managed_identity_client(client_id))  # built on first use, under the lock

    def acquire() -> MsalResult:
        return dict(client().acquire_token_for_client(resource=resource) or {})

    return MsalTokenProvider(acquire, what=f"the managed identity got no token for {resource}")


class MsalTokenProvider:
    """Bearer tokens from a blocking MSAL call, served from memory until 5 minutes before expiry. MSAL runs in
    a thread, and only one refresh runs at a time however many invocations wait."""

    def __init__(self, acquire: Callable[[], MsalResult], *, what: str = "token request refused",
                 refresh_margin: float = 300.0, refusal_memory: float = 30.0) -> None:  # fmt: skip
        self._acquire_blocking = acquire
        self._refusal: tuple[OnboardingError, float] | None = None  # a recent AUTH refusal, answered from memory
        self._refusal_memory = refusal_memory
        self._what = what
        self._refresh_margin = refresh_margin
        self._token: str | None = None
        self._expires_at = 0.0
        self._lock = asyncio.Lock()

    def invalidate(self) -> None:
        """Forget the cached token (after the resource refused it)."""
        self._token = None

    async def get_token(self) -> str:
        """A valid bearer token; raises OnboardingError (AUTH when refused, TRANSIENT when unreachable)."""
        if self._token is not None and time.monotonic() < self._expires_at - self._refresh_margin:
            return self._token
        async with self._lock:
            if self._token is not None and time.monotonic() < self._expires_at - self._refresh_margin:
                return self._token
            if self._refusal is not None and time.monotonic() < self._refusal[1]:
                raise self._refusal[0]  # a wrong credential stays wrong: do not storm Entra with it
            try:
                result = await asyncio.to_thread(self._acquire)
            except OnboardingError as error:
                if error.kind is ErrorKind.AUTH:
                    self._refusal = (error, time.monotonic() + self._refusal_memory)
                raise
            self._refusal = None
            try:
                answer = TokenAnswer.model_validate(result)
            except ValidationError:  # its text would quote the token
                raise OnboardingError(ErrorKind.TRANSIENT, f"{self._what}: the answer could not be read") from None
            self._token = answer.access_token.get_secret_value()
            remember_token(self._token)
            self._expires_at = time.monotonic() + answer.expires_in
            return self._token

    def _acquire(self) -> MsalResult:
        try:
            result = self._acquire_blocking()
        except (requests.RequestException, OSError) as exc:
            raise OnboardingError(ErrorKind.TRANSIENT, f"Entra ID could not be reached: {type(exc).__name__}") from None
        except ValueError as exc:  # MSAL: unknown tenant or authority, unreadable discovery document
            raise OnboardingError(ErrorKind.AUTH, f"Entra ID authority is unusable: {exc}") from None
        if not result or "access_token" not in result:
            raise _refused(self._what, result)
        return result
