"""App+User tokens without a person at run time (the Secure Application Model, contract §5).

The Admin agent's refresh token lives in a Key Vault secret (`PARTNER_CENTER_USER_TOKEN_SECRET_URL`). It is
redeemed through the worker's one MSAL app (`acquire_token_by_refresh_token`, partner-center.md "Secure Application
Model"); the refresh token Entra answers with is written back as a new version of the secret, but only while the
version redeemed is still the latest: one written meanwhile (an operator's new sign-in, or another instance's
rotation) is not buried under a rotation of the older one. Instances redeeming at the same time stay correct
because Entra does not revoke a refresh token when it issues the next one: whichever version is latest is valid.
Once a version has been redeemed, the versions it supersedes are disabled (handlers.adapters.refresh_token_vault,
whose docstring gives the reasoning for several instances at once). Access tokens are cached per worker, one
redemption at a time.

A sign-in made with a device code is a public client's: Entra refuses the app's credential on its refresh token
(AADSTS700025 "Client is public so neither 'client_assertion' nor 'client_secret' should be presented"), so
`ops.consent` tags that secret `client=public`, and it is redeemed, and written back, as a public client's.

A sign-in only a person can repair (`invalid_grant`: AADSTS700082 idle, 50173 revoked, 50076 / 50078 MFA; or
Partner Center's 401 / 900421) raises OnboardingError(CONSENT) and sounds the consent alarm (onboarding.consent).
A secret with no version at all is no dead sign-in but one that has not happened yet (App+User just turned on):
that raises OnboardingError(AUTH, app_user_not_signed_in) and is reported once, as a warning; the daily refresh then
has nothing to do.
Neither token ever reaches a log, an event, an exception or the ledger: both are remembered for redaction.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import replace
from typing import Any

import requests
from pydantic import ValidationError

from handlers.adapters.key_vault import StoredSecret
from handlers.adapters.refresh_token_vault import (
    PUBLIC_CLIENT_TAG,
    RefreshTokenVault,
    SupersededVersions,
    sign_in_of,
    store_refresh_token,
)
from handlers.domain.error_codes import (
    APP_USER_NOT_SIGNED_IN_CODE,
    CLIENT_MISMATCH_CODES,
    CONSENT_REASON_OF_PARTNER_CENTER,
    aadsts_codes,
    consent_reason,
    entra_refusal_text,
    oauth_kind,
)
from handlers.domain.failures import ErrorKind, OnboardingError
from handlers.domain.payloads import TokenAnswer
from handlers.observability.redaction import remember_token

log = logging.getLogger("csp_onboarding")

OnConsentRequired = Callable[[str], Awaitable[None]]  # the consent alarm: called with the reason
OnNotSignedIn = Callable[[], Awaitable[None]]  # App+User is on and nobody has signed in yet
MsalResult = dict[str, Any]  # an MSAL token answer (or refusal), as MSAL returns it


def consent_error(reason: str, detail: str) -> OnboardingError:
    """The one classified error of a dead App+User sign-in (its text names what the operator does)."""
    return OnboardingError(
        ErrorKind.CONSENT,
        f"Partner Center's App+User sign-in must be renewed ({reason}: {detail}): an Admin agent runs "
        "`python -m ops.consent` (interactive, with MFA), then the request is sent again",
        code=reason,
    )


def dead_sign_in(result: MsalResult) -> str | None:
    """The consent.required reason when Entra's answer says the refresh token is dead, else None."""
    return consent_reason(str(result.get("error", "")), aadsts_codes(result))


class UserTokens:
    """App+User bearer tokens from the vault's refresh token; see the module docstring."""

    def __init__(
        self, vault: RefreshTokenVault, secret_name: str, redeem: Callable[[str], MsalResult], *,
        on_consent_required: OnConsentRequired, redeem_public: Callable[[str], MsalResult] | None = None,
        on_not_signed_in: OnNotSignedIn | None = None, refresh_margin: float = 300.0, refusal_memory: float = 300.0,
    ) -> None:  # fmt: skip
        self._vault = vault
        self._secret_name = secret_name
        self._redeem = redeem
        self._redeem_public = redeem_public
        self._alarm = on_consent_required
        self._not_signed_in = on_not_signed_in
        self._refresh_margin = refresh_margin
        self._refusal_memory = refusal_memory
        self._refusal: tuple[OnboardingError, float] | None = None
        self._used: str | None = None  # the refresh token last redeemed (a dead one is not redeemed again)
        self._dead_token: str | None = None
        self._token: str | None = None
        self._expires_at = 0.0
        self._lock = asyncio.Lock()
        self._superseded = SupersededVersions(vault, secret_name)

    def _cached(self) -> str | None:
        fresh = self._token is not None and time.monotonic() < self._expires_at - self._refresh_margin
        return self._token if fresh else None

    async def get_token(self) -> str:
        """A valid App+User token; raises OnboardingError (CONSENT when a person must sign in again)."""
        if (token := self._cached()) is not None:
            return token
        async with self._lock:
            if (token := self._cached()) is not None:
                return token
            return await self._redeem_now()

    async def refresh(self) -> None:
        """Redeem the refresh token now (the daily timer: use keeps it from idling out); nothing to do before the
        first sign-in. Raises OnboardingError."""
        async with self._lock:
            self._refusal = None
            try:
                await self._redeem_now()
            except OnboardingError as error:
                if error.code != APP_USER_NOT_SIGNED_IN_CODE:
                    raise

    async def refused(self, error: OnboardingError) -> OnboardingError:
        """Partner Center refused the App+User token (401 / 900421): forget it, sound the alarm, and return the
        error as the dead sign-in it is (its message names what the operator does)."""
        self._token = None
        dead = await self._dead(CONSENT_REASON_OF_PARTNER_CENTER, error)
        return replace(error, message=dead.message)

    async def _redeem_now(self) -> str:
        stored = await self._vault.get_secret(self._secret_name)
        refresh_token = stored.value.get_secret_value() if stored is not None else ""
        remember_token(refresh_token)
        public = stored is not None and stored.tags.get(PUBLIC_CLIENT_TAG[0]) == PUBLIC_CLIENT_TAG[1]
        if self._refusal is not None and time.monotonic() < self._refusal[1] and refresh_token == self._dead_token:
            raise self._refusal[0]  # the same dead sign-in (no new consent in the vault): do not storm Entra
        self._used = refresh_token
        if stored is None:
            raise await self._never_signed_in()
        if not refresh_token:
            raise await self._dead("refresh_token_missing", None, "the vault holds no refresh token")
        first = result = await self._redeem_as(public, refresh_token)
        flipped = bool(aadsts_codes(first) & CLIENT_MISMATCH_CODES) and (public or self._redeem_public is not None)
        if flipped:  # a token stored without its tag, or written by hand: the other kind of client may redeem it
            public = not public
            result = await self._redeem_as(public, refresh_token)
        if "access_token" not in result:
            return await self._refusal_of(first if flipped else result)  # the mismatch is what the operator fixes
        for value in (result.get("access_token"), result.get("refresh_token")):
            remember_token(value if isinstance(value, str) else None)
        try:
            answer = TokenAnswer.model_validate(result)
        except ValidationError:  # its text would quote the token
            raise OnboardingError(ErrorKind.TRANSIENT, "Entra ID's App+User answer could not be read") from None
        await self._keep(result.get("refresh_token"), stored, public=public, retag=flipped)
        self._refusal = self._dead_token = None
        self._token = answer.access_token.get_secret_value()
        self._expires_at = time.monotonic() + answer.expires_in
        await self._superseded.retire(stored)  # never raises
        return self._token

    async def _redeem_as(self, public: bool, refresh_token: str) -> MsalResult:
        """One redemption, as a public client (no credential) or with the app's credential; raises OnboardingError
        when Entra cannot be asked."""
        redeem = self._redeem_public if public else self._redeem
        if redeem is None:
            raise OnboardingError(ErrorKind.AUTH, "the vault's refresh token is a public client's: none can redeem it")
        try:
            return dict(await asyncio.to_thread(redeem, refresh_token) or {})
        except (requests.RequestException, OSError) as exc:
            raise OnboardingError(ErrorKind.TRANSIENT, f"Entra ID could not be reached: {type(exc).__name__}") from None
        except ValueError as exc:  # MSAL: unknown tenant or authority
            raise OnboardingError(ErrorKind.AUTH, f"Entra ID authority is unusable: {exc}") from None

    async def _keep(self, rotated: Any, used: StoredSecret, *, public: bool, retag: bool) -> None:
        """Write the rotated refresh token back as a new secret version (or, when `retag`, the token used, should
        Entra not rotate it, so that its new tag is kept), if the version used is still the latest. A failure is
        only logged: the token used stays valid (Entra revokes none on rotation), and the next redemption rotates
        again. Key Vault has no conditional write, so the check leaves a window of one call, not of a redemption."""
        used_token = used.value.get_secret_value()
        if not isinstance(rotated, str) or not rotated or rotated == used_token:
            if not retag:
                return
            rotated = used_token
        try:
            latest = await self._vault.get_secret(self._secret_name)
            if latest is None or latest.version != used.version:
                log.info("The App+User secret has a newer version than the one redeemed (%s): a new sign-in, or "
                         "another instance's rotation; this rotation is not written over it", used.version)  # fmt: skip
                return
            await store_refresh_token(self._vault, self._secret_name, rotated, public=public, **sign_in_of(used).tags())
        except OnboardingError as error:
            log.warning("The rotated App+User refresh token could not be written back (%s): the current one is kept",
                        error)  # fmt: skip

    async def _refusal_of(self, result: MsalResult) -> str:
        """Raise Entra's refusal of a redemption: its error name and AADSTS codes, never its description (an
        `invalid_grant` can echo the refresh token); the description goes only to the redacted log."""
        error = str(result.get("error", "unknown_error"))
        log.warning("Entra ID refused the App+User token request: %s", str(result.get("error_description", "")))
        reason = dead_sign_in(result)
        if reason is not None:
            raise await self._dead(reason, None, entra_refusal_text(result))
        kind = oauth_kind(error, otherwise=ErrorKind.AUTH)
        text = entra_refusal_text(result)
        raise OnboardingError(kind, f"Entra ID refused the App+User token request: {text}", code=error)

    async def _never_signed_in(self) -> OnboardingError:
        if self._not_signed_in is not None:
            await self._not_signed_in()
        return OnboardingError(
            ErrorKind.AUTH, "App+User is on but not signed in yet: an Admin agent runs `python -m ops.consent` once",
            code=APP_USER_NOT_SIGNED_IN_CODE,
        )  # fmt: skip

    async def _dead(self, reason: str, error: OnboardingError | None, detail: str = "") -> OnboardingError:
        dead = consent_error(reason, detail or (error.description if error else None) or reason)
        self._refusal, self._dead_token = (dead, time.monotonic() + self._refusal_memory), self._used
        await self._alarm(reason)
        return dead
