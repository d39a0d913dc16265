"""App+User as Entra and Partner Center treat it (issue 16): refresh tokens with rotation, expiry, revocation and an
MFA claim; sign-in codes; the partner's indirect resellers; MCA agreements. State only: no HTTP here.

Entra facts kept (partner-center.md, "Secure Application Model"): every redemption returns a new refresh token and
the old one stays valid until it expires or is revoked; an idle token dies after 90 days (AADSTS700082); a
Conditional Access policy can demand MFA at redemption (AADSTS50076); Partner Center refuses an App+User token
without MFA (401 / 900421) and an app-only token on App+User-only APIs (403 / 900329).
"""

from __future__ import annotations

import secrets
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

USER_IMPERSONATION = "https://api.partnercenter.microsoft.com/user_impersonation"
ADMIN_AGENT = "admin.agent@partner.onmicrosoft.com"
INDIRECT_RELATIONSHIP = "IsIndirectCloudSolutionProviderOf"
MCA = "MicrosoftCustomerAgreement"
CLOUD_AGREEMENT = "MicrosoftCloudAgreement"
ACTIVE_RESELLER = "6a1c0de3-6d5b-4b8e-9f0a-2f0c8e2a7b11"
INACTIVE_RESELLER = "6a1c0de3-6d5b-4b8e-9f0a-2f0c8e2a7b22"
NO_MPA_RESELLER = "6a1c0de3-6d5b-4b8e-9f0a-2f0c8e2a7b33"


@dataclass
class RefreshToken:
    user: str
    mfa: bool
    expires_at: float
    revoked: bool = False
    public: bool = False  # issued to a public client (device code without a credential): redeemed without one


@dataclass
class SignIn:
    """An approved interactive sign-in waiting for its code (or device code) to be redeemed."""

    user: str
    mfa: bool
    redirect_uri: str | None
    nonce: str | None
    scope: str


def _default_resellers() -> list[dict[str, Any]]:
    def reseller(tenant: str, name: str, mpn: str, state: str, mpa: bool = True) -> dict[str, Any]:
        return {
            "id": tenant, "name": name, "mpnId": mpn, "location": "SE", "relationshipType": INDIRECT_RELATIONSHIP,
            "state": state, "mpaAccepted": mpa, "attributes": {"objectType": "PartnerRelationship"},
        }  # fmt: skip

    return [
        reseller(ACTIVE_RESELLER, "Northwind Resellers AB", "6000001", "Active"),
        reseller(INACTIVE_RESELLER, "Tailspin Partners Ltd", "6000002", "Inactive"),
        reseller(NO_MPA_RESELLER, "Litware Retail GmbH", "6000003", "Active", mpa=False),
    ]


@dataclass
class AppUser:
    """The App+User side of the emulator. Knobs (POST /_emulator/app-user): revoke or expire every refresh token,
    drop MFA from them (and from later sign-ins), make Entra demand MFA at redemption, allow public client flows."""

    refresh_lifetime: float = 90 * 86400
    sign_in_mfa: bool = True  # do interactive sign-ins carry MFA (the amr claim)?
    mfa_required: bool = False  # Conditional Access: redemption refused with AADSTS50076 unless the token has MFA
    public_client_flows: bool = True  # the app registration's "Allow public client flows"
    refresh_tokens: dict[str, RefreshToken] = field(default_factory=dict)
    sign_ins: dict[str, SignIn] = field(default_factory=dict)  # authorization code or device code → sign-in
    resellers: list[dict[str, Any]] = field(default_factory=_default_resellers)
    agreements: dict[str, list[dict[str, Any]]] = field(default_factory=dict)  # customer id → agreements
    mca_template_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    mcloud_template_id: str = field(default_factory=lambda: str(uuid.uuid4()))

    def issue_refresh_token(self, user: str, mfa: bool, *, public: bool = False) -> str:
        token = "rt." + secrets.token_urlsafe(48)
        self.refresh_tokens[token] = RefreshToken(user, mfa, time.time() + self.refresh_lifetime, public=public)
        return token

    def is_public(self, token: str) -> bool:
        """Whether a refresh token was issued to a public client (Entra then refuses any client credential)."""
        found = self.refresh_tokens.get(token)
        return found is not None and found.public

    def redeem(self, token: str) -> tuple[RefreshToken | None, str, str]:
        """The refresh token's grant, or None with the AADSTS code and description Entra answers."""
        found = self.refresh_tokens.get(token)
        if found is None:
            return None, "AADSTS9002313", "Invalid request. Request is malformed or invalid."
        if found.revoked:
            return None, "AADSTS50173", "The provided grant has expired due to it being revoked."
        if found.expires_at <= time.time():
            return None, "AADSTS700082", "The refresh token has expired due to inactivity."
        if self.mfa_required and not found.mfa:
            return None, "AADSTS50076", "Due to a configuration change you must use multi-factor authentication."
        return found, "", ""

    def sign_in(self, *, redirect_uri: str | None, nonce: str | None, scope: str) -> str:
        """An approved sign-in of the Admin agent (auto-approved: this is a test stand-in); its code."""
        code = "code." + secrets.token_urlsafe(24)
        self.sign_ins[code] = SignIn(ADMIN_AGENT, self.sign_in_mfa, redirect_uri, nonce, scope)
        return code

    def configure(self, body: dict[str, Any]) -> None:
        """Apply the admin knobs given; raises ValueError."""
        known = {"revoke", "expire", "mfa", "mfaRequired", "signInMfa", "publicClientFlows"}
        if unknown := set(body) - known:
            raise ValueError(f"unknown keys {sorted(unknown)}; known: {sorted(known)}")
        if any(not isinstance(v, bool) for v in body.values()):
            raise ValueError("every value must be true or false")
        for token in self.refresh_tokens.values():
            token.revoked = token.revoked or body.get("revoke", False)
            if body.get("expire"):
                token.expires_at = time.time() - 1
            if body.get("mfa") is False:
                token.mfa = False
        if body.get("mfa") is False:
            self.sign_in_mfa = False
        self.mfa_required = body.get("mfaRequired", self.mfa_required)
        self.sign_in_mfa = body.get("signInMfa", self.sign_in_mfa)
        self.public_client_flows = body.get("publicClientFlows", self.public_client_flows)

    def as_json(self) -> dict[str, Any]:
        """The knobs and counts (never a token)."""
        tokens = list(self.refresh_tokens.values())
        return {
            "refreshTokens": len(tokens),
            "live": sum(1 for t in tokens if not t.revoked and t.expires_at > time.time()),
            "signInMfa": self.sign_in_mfa,
            "mfaRequired": self.mfa_required,
            "publicClientFlows": self.public_client_flows,
            "mcaTemplateId": self.mca_template_id,
        }

    def reseller(self, tenant_id: str) -> dict[str, Any] | None:
        return next((r for r in self.resellers if r["id"].lower() == tenant_id.lower()), None)

    def reset(self) -> None:
        self.refresh_tokens.clear()
        self.sign_ins.clear()
        self.agreements.clear()
        self.resellers = _default_resellers()
        self.sign_in_mfa, self.mfa_required, self.public_client_flows = True, False, True


def app_user_refusal(user: str | None, mfa: bool) -> tuple[int, int, str] | None:
    """Partner Center's refusal of a token on an App+User-only API: (status, code, description), or None."""
    if user is None:
        return 403, 900329, "This API does not accept app-only tokens: use an App+User token."
    if not mfa:
        return 401, 900421, "The App+User token must carry multi-factor authentication (MFA)."
    return None


def reseller_refusal(app_user: AppUser, reseller_id: str) -> tuple[int, int, str] | None:
    """Partner Center's refusal of `associatedPartnerId` on a create: (status, code, description), or None."""
    try:
        uuid.UUID(reseller_id)
    except ValueError:
        return 400, 800016, "The indirect reseller id is invalid."
    reseller = app_user.reseller(reseller_id)
    if reseller is None:
        return 404, 800015, "The indirect reseller was not found."
    if reseller["state"] != "Active":
        return 400, 800016, "The indirect reseller is not active."
    if not reseller.get("mpaAccepted", True):
        return 403, 900123, "The indirect reseller has not accepted the Microsoft Partner Agreement."
    return None
