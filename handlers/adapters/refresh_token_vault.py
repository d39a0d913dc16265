"""The App+User refresh token's Key Vault secret: where it is, how a version is written and tagged, which sign-in
each version holds, and the disabling of the versions a redemption has superseded.

Every redemption's rotated refresh token is written as a new version (handlers.adapters.user_tokens), and Entra keeps
a refresh token valid for 90 days after its last use even once it has been rotated. Left enabled, each old version
stays a working sign-in for anyone who can read the secret. So after version R has been redeemed successfully,
version V is disabled when all of these hold:

1. V is enabled;
2. V was written before R: Key Vault's `created` is earlier, in whole seconds (a version of the same second is left
   for a later sweep);
3. V holds a token of R's sign-in, or of a sign-in that began strictly earlier. A sign-in is the version a person's
   sign-in was first stored as (ops.consent, or by hand); each rotation carries its sign-in in the tags `signIn`
   (that version's id) and `signedInAt` (its `created`); a version without them is a sign-in of its own.

Why this is safe with several instances and an operator at work at once:

- *The latest version is never disabled.* The latest is R, or was written after R (versions are only ever added),
  so rule 2 leaves it alone. Disabling it would be fatal: Key Vault answers every read of a secret whose latest
  version is disabled with 403 SecretDisabled; it does not step back to an older one.
- *A new sign-in is never disabled by an older one's redemption.* A rotation is written only while the version
  redeemed is still the latest (user_tokens' check), so a consent stored during a redemption stays on top. Key
  Vault has no conditional write, so a consent can still land in the one call between that check and the write,
  under the older sign-in's rotation. Rule 3 keeps it enabled when that rotation is redeemed later (its sign-in
  began after R's), and a warning names it: the operator runs ops.consent again (or disables it by hand).
- *Another instance redeeming V right now loses nothing.* It read V's value before V was disabled; Entra needs the
  token, not the secret, so its redemption succeeds; it then finds V no longer the latest and writes nothing. An
  instance that reads after the disabling reads the latest version, which is never disabled.
- *Instances sweeping at once* disable the same versions: a PATCH of `enabled` is idempotent.

Disabling is bounded and never fatal. Each successful redemption disables the version this instance redeemed before
(when superseded), then reads at most two pages (25 versions each) of Key Vault's listing, resuming at the nextLink
where the previous sweep stopped: Key Vault lists versions by id, not by time, so starting at the first page each
time would never reach the rest. After the last page the next sweep starts again at the first. A failure ends the
sweep and is logged; the next one starts over. A disabled version's token is unreadable from the vault, but Entra
still honours it until it expires or the Admin agent's sessions are revoked.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Protocol
from urllib.parse import urlparse

from pydantic import SecretStr

from handlers.adapters.key_vault import VERSION, SecretVersion, StoredSecret, VersionPage
from handlers.domain.failures import OnboardingError

log = logging.getLogger("csp_onboarding")

REFRESH_TOKEN_CONTENT_TYPE = "application/vnd.partner-center.refresh-token"  # noqa: S105 — a media type
# Entra's refresh tokens live 90 days from their last use; the secret version expires with it.
REFRESH_TOKEN_DAYS = 90
# The secret's tag saying the refresh token was issued to a public client (a device-code sign-in).
PUBLIC_CLIENT_TAG = ("client", "public")
SIGN_IN_TAG, SIGNED_IN_AT_TAG = "signIn", "signedInAt"
SECONDS = re.compile(r"[0-9]{1,12}")


class RefreshTokenVault(Protocol):
    """Where the refresh token is kept: Key Vault (handlers.adapters.key_vault.KeyVaultSecrets)."""

    async def get_secret(self, name: str) -> StoredSecret | None: ...

    async def set_secret(
        self, name: str, value: SecretStr, *, tags: dict[str, str], expires_in_days: int, content_type: str
    ) -> str: ...

    async def secret_versions(self, name: str, *, next_link: str | None = None) -> VersionPage: ...

    async def disable_version(self, name: str, version: str) -> None: ...


def split_secret_url(url: str) -> tuple[str, str]:
    """(vault URL, secret name) of a version-less secret URL; raises ValueError for anything else."""
    parsed = urlparse(url)
    parts = [p for p in parsed.path.split("/") if p]
    if parsed.scheme != "https" or len(parts) != 2 or parts[0] != "secrets":
        raise ValueError("PARTNER_CENTER_USER_TOKEN_SECRET_URL must be https://<vault>/secrets/<name>, no version")
    return f"{parsed.scheme}://{parsed.netloc}", parts[1]


def refresh_token_tags(*, public: bool, **more: str) -> dict[str, str]:
    """The tags of a refresh token's secret version (`client=public` for a public client's)."""
    return {"purpose": "partner-center-app-user", **more, **(dict([PUBLIC_CLIENT_TAG]) if public else {})}


async def store_refresh_token(
    vault: RefreshTokenVault, name: str, refresh_token: str, *, public: bool, **tags: str
) -> str:
    """Write a refresh token as a new version of secret `name`, tagged, expiring with the token; returns its id;
    raises OnboardingError."""
    return await vault.set_secret(
        name, SecretStr(refresh_token), tags=refresh_token_tags(public=public, **tags),
        expires_in_days=REFRESH_TOKEN_DAYS, content_type=REFRESH_TOKEN_CONTENT_TYPE,
    )  # fmt: skip


@dataclass(frozen=True)
class SignIn:
    """The sign-in a version's refresh token descends from: the version it was first stored as, and that version's
    `created` (see the module docstring)."""

    version: str
    at: int

    @classmethod
    def of(cls, version: str, created: int, tags: Mapping[str, str]) -> SignIn:
        """The sign-in of a version: the one its tags name, else (no tags, or tags nobody wrote) its own."""
        origin, at = tags.get(SIGN_IN_TAG, ""), tags.get(SIGNED_IN_AT_TAG, "")
        if VERSION.fullmatch(origin) and SECONDS.fullmatch(at):
            return cls(origin, int(at))
        return cls(version, created)

    def tags(self) -> dict[str, str]:
        """The tags a rotation of this sign-in's token carries."""
        return {SIGN_IN_TAG: self.version, SIGNED_IN_AT_TAG: str(self.at)}

    def not_newer_than(self, other: SignIn) -> bool:
        """Whether this is `other`, or began strictly before it (another begun in the same second may be newer)."""
        return self.version == other.version or self.at < other.at


def sign_in_of(secret: StoredSecret | SecretVersion) -> SignIn:
    """The sign-in a read or listed version holds a token of."""
    return SignIn.of(secret.version, secret.created, secret.tags)


class SupersededVersions:
    """Disables what a successful redemption has superseded, a bounded amount at a time (the module docstring)."""

    def __init__(self, vault: RefreshTokenVault, name: str, *, pages: int = 2) -> None:
        self._vault = vault
        self._name = name
        self._pages = pages
        self._next_link: str | None = None  # where the last sweep stopped
        self._previous: SecretVersion | None = None  # the version this instance redeemed before

    async def retire(self, redeemed: StoredSecret) -> None:
        """After `redeemed` was redeemed successfully, disable the versions it supersedes; never raises (a failure
        is logged, and the next sweep starts over)."""
        current = SecretVersion(redeemed.version, True, redeemed.created, redeemed.tags)
        previous, self._previous = self._previous, current
        try:
            if previous is not None:
                await self._disable_if_superseded(previous, current)
            for _ in range(self._pages):
                page = await self._vault.secret_versions(self._name, next_link=self._next_link)
                for version in page.versions:
                    await self._disable_if_superseded(version, current)
                self._next_link = page.next_link
                if page.next_link is None:
                    break
        except OnboardingError as error:
            self._next_link = None
            log.warning("Superseded versions of the App+User secret could not be disabled (%s): the next "
                        "redemption tries again", error)  # fmt: skip

    async def _disable_if_superseded(self, version: SecretVersion, redeemed: SecretVersion) -> None:
        if not version.enabled or version.version == redeemed.version or not 0 < version.created < redeemed.created:
            return
        if not sign_in_of(version).not_newer_than(sign_in_of(redeemed)):
            log.warning("Version %s of the App+User secret holds a sign-in newer than that of version %s, which was "
                        "redeemed: it is kept enabled but unused; if it is the sign-in wanted, run ops.consent again",
                        version.version, redeemed.version)  # fmt: skip
            return
        await self._vault.disable_version(self._name, version.version)
        log.info("Disabled version %s of the App+User secret: superseded by version %s", version.version,
                 redeemed.version)  # fmt: skip
