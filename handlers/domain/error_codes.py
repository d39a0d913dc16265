"""Every Partner Center and Entra (AADSTS) code this app treats specially, in one table: what kind of error it is,
what it leads to, and what the operator must do. The Partner Center client, the failure builder, the pipeline's
steps and the docs' failure table all read it; nothing else names a code.

Partner Center's codes come from its error bodies (`code` / `errorCode`, partner-center.md "Errors"); Entra's
AADSTS codes from the `error_codes` list of a token answer; OAuth error names from its `error` field.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from handlers.domain.failures import ErrorKind, Failure, OnboardingError, Reason


class Effect(StrEnum):
    """What a code means beyond its kind, for the step that meets it."""

    NONE = ""
    DOMAIN_TAKEN = "domain_taken"  # the create's domain belongs to a tenant (another's, or our own lost create's)
    AGREEMENT_EXISTS = "agreement_exists"  # the MCA attestation is there already: success
    RESELLER_UNKNOWN = "reseller_unknown"  # the create's associatedPartnerId is no reseller of the partner
    RESELLER_INACTIVE = "reseller_inactive"  # … or not an active one


@dataclass(frozen=True)
class PartnerCenterCode:
    """One Partner Center error code. `kind` None: the HTTP status decides (`partner_center_kind`); `fix`, the
    sentence a failed event carries instead of Partner Center's text (what a person must change); `retryable`, what
    that failure says (None: as the error says)."""

    meaning: str
    kind: ErrorKind | None = None
    reason: Reason | None = None  # the failed event's reason it ends in (None: it ends in no failure)
    effect: Effect = Effect.NONE
    fix: str | None = None
    retryable: bool | None = None


PARTNER_CENTER_CODES: dict[str, PartnerCenterCode] = {
    "900329": PartnerCenterCode(
        "the operation needs an App+User token, and the call was app-only",
        ErrorKind.AUTH,
        reason=Reason.NOT_AUTHORIZED,
        fix="Partner Center accepts this operation only with an App+User token, and this function signs in app-only "
        "(code 900329): creating a customer for an indirect reseller needs the Secure Application Model; send the "
        "request without indirectResellerId, or have the operator set up App+User sign-in.",
        retryable=False,
    ),
    "900420": PartnerCenterCode("the token is refused", ErrorKind.AUTH, reason=Reason.NOT_AUTHORIZED),
    "800001": PartnerCenterCode("the caller is not authorized", ErrorKind.AUTH, reason=Reason.NOT_AUTHORIZED),
    "600006": PartnerCenterCode(
        "the app is not authorized for the partner", ErrorKind.AUTH, reason=Reason.NOT_AUTHORIZED
    ),
    "900421": PartnerCenterCode(
        "the App+User token was issued without MFA", ErrorKind.CONSENT, reason=Reason.NOT_AUTHORIZED
    ),
    "2030": PartnerCenterCode(
        "the partner is not enabled to sell in the customer's country",
        ErrorKind.BUSINESS,
        reason=Reason.REJECTED_BY_PARTNER_CENTER,
        fix="The partner account is not enabled to sell in the customer's country (code 2030): a Partner Center admin "
        "of the partner must add that market in Partner Center before this request is sent again.",
    ),
    "900123": PartnerCenterCode(
        "the indirect reseller has not accepted the Microsoft Partner Agreement",
        ErrorKind.BUSINESS,
        reason=Reason.REJECTED_BY_PARTNER_CENTER,
        fix="The indirect reseller has not accepted the Microsoft Partner Agreement (code 900123): the reseller must "
        "accept it in Partner Center before this request is sent again.",
    ),
    "900124": PartnerCenterCode(
        "the partner has not accepted the Microsoft Partner Agreement",
        ErrorKind.BUSINESS,
        reason=Reason.REJECTED_BY_PARTNER_CENTER,
        fix="The partner has not accepted the Microsoft Partner Agreement (code 900124): a global admin of the partner "
        "must accept it in Partner Center before this request is sent again.",
    ),
    "800018": PartnerCenterCode(
        "the integration sandbox holds its 75 customers",
        reason=Reason.REJECTED_BY_PARTNER_CENTER,
        fix="The Partner Center integration sandbox already holds its 75 customers (code 800018): the operator must "
        "delete sandbox customers before this request is sent again.",
    ),
    "27100": PartnerCenterCode(
        "the domain belongs to a tenant already", effect=Effect.DOMAIN_TAKEN, reason=Reason.DOMAIN_UNAVAILABLE
    ),
    "600061": PartnerCenterCode("the MCA attestation exists already", effect=Effect.AGREEMENT_EXISTS),
    "800015": PartnerCenterCode(
        "is not found as a reseller", effect=Effect.RESELLER_UNKNOWN, reason=Reason.INVALID_REQUEST
    ),
    "800016": PartnerCenterCode(
        "is not a valid, active reseller", effect=Effect.RESELLER_INACTIVE, reason=Reason.INVALID_REQUEST
    ),
}

# Our own code for an App+User call while App+User is off (PARTNER_CENTER_USER_TOKEN_SECRET_URL unset).
APP_USER_OFF_CODE = "app_user_off"
# Our own code for an App+User call while App+User is on and nobody has signed in yet (the secret has no version):
# the state of a deployment between turning it on and its first `python -m ops.consent`, not a dead sign-in.
APP_USER_NOT_SIGNED_IN_CODE = "app_user_not_signed_in"

# Statuses of an endpoint that does not exist where this runs (a sovereign cloud, a sandbox) when the answer carries
# no Partner Center code: the check it serves is skipped with a warning. (HEAD /v1/domains reads 404 as "free".)
ENDPOINT_MISSING_STATUSES = frozenset({404, 405, 501})


def partner_center_code(code: str | None) -> PartnerCenterCode | None:
    """The table's entry for a Partner Center code, if it has one."""
    return PARTNER_CENTER_CODES.get(code or "")


def has_effect(code: str | None, effect: Effect) -> bool:
    """Whether a Partner Center code means `effect`."""
    entry = partner_center_code(code)
    return entry is not None and entry.effect is effect


def partner_center_kind(status: int, code: str | None) -> ErrorKind:
    """The kind of a Partner Center error answer: throttling, timeouts and 5xx are transient; a code the table
    classifies is that kind (a 401 is always our token's, unless it says a person must sign in again); other 401s
    and 403s are auth refusals; the rest business refusals (contract §3 rule 6)."""
    if status in (408, 429) or status >= 500:
        return ErrorKind.TRANSIENT
    entry = partner_center_code(code)
    if status == 401:
        return ErrorKind.CONSENT if entry is not None and entry.kind is ErrorKind.CONSENT else ErrorKind.AUTH
    if entry is not None and entry.kind is not None:
        return entry.kind
    return ErrorKind.AUTH if status == 403 else ErrorKind.BUSINESS


# Entra AADSTS codes of a dead App+User sign-in (only a person can repair it) → the consent.required reason.
AADSTS_CONSENT_REASONS: dict[int, str] = {
    700082: "refresh_token_expired",  # idle 90 days
    50173: "refresh_token_revoked",
    50076: "mfa_required",
    50078: "mfa_required",
    50079: "mfa_required",
    # The token is another kind of client's than the redemption (700025: a public client's redeemed with the app's
    # credential; 7000218: no credential where one is needed), both ways tried: a new sign-in is needed.
    700025: "sign_in_client_mismatch",
    7000218: "sign_in_client_mismatch",
}
CLIENT_MISMATCH_CODES = frozenset(
    code for code, reason in AADSTS_CONSENT_REASONS.items() if reason == "sign_in_client_mismatch"
)
CONSENT_REASON_OF_PARTNER_CENTER = "mfa_required"  # Partner Center's 900421
INVALID_GRANT_REASON = "refresh_token_revoked"  # an `invalid_grant` without a code the table knows

# OAuth error names (RFC 6749 §5.2) in Entra's token answers: our credential or configuration is refused, so a retry
# will not help; or Entra cannot answer right now.
OAUTH_AUTH_ERRORS = frozenset(
    {"invalid_client", "unauthorized_client", "invalid_scope", "invalid_grant", "invalid_request", "invalid_resource"}
)
OAUTH_TRANSIENT_ERRORS = frozenset({"temporarily_unavailable", "unknown_error"})


def oauth_kind(error: str, *, otherwise: ErrorKind) -> ErrorKind:
    """The kind of an OAuth error name from Entra; `otherwise` for a name the table does not know."""
    if error in OAUTH_AUTH_ERRORS:
        return ErrorKind.AUTH
    if error in OAUTH_TRANSIENT_ERRORS:
        return ErrorKind.TRANSIENT
    return otherwise


def aadsts_codes(answer: Mapping[str, Any]) -> set[int]:
    """The AADSTS codes of an Entra error answer (its `error_codes` list)."""
    codes = answer.get("error_codes") or []
    return (
        {code for code in codes if isinstance(code, int) and not isinstance(code, bool)}
        if isinstance(codes, list)
        else set()
    )


def entra_refusal_text(answer: Mapping[str, Any]) -> str:
    """What an event, a ledger row or a status answer may say of an Entra refusal: its OAuth error name and AADSTS
    codes, never its error_description, which can echo what the token request sent (a client_secret, a refresh
    token, an assertion)."""
    error = answer.get("error")
    name = error if isinstance(error, str) and error.replace("_", "").isalnum() else "unknown_error"
    codes = ", ".join(f"AADSTS{code}" for code in sorted(aadsts_codes(answer)))
    return f"{name} ({codes})" if codes else name


def consent_reason(error: str, codes: set[int]) -> str | None:
    """The consent.required reason when Entra's answer says the refresh token is dead, else None."""
    for code in sorted(codes):
        if code in AADSTS_CONSENT_REASONS:
            return AADSTS_CONSENT_REASONS[code]
    return INVALID_GRANT_REASON if error == "invalid_grant" else None


def failure_from_error(error: OnboardingError) -> Failure:
    """Turn a non-transient error into the failure to publish; raises ValueError for a transient one. A code the
    table names with an operator's fix carries that fix as the failure's message."""
    if error.kind is ErrorKind.TRANSIENT:
        raise ValueError("a transient error is retried, not published")
    if error.reason is not None:
        reason = error.reason
    elif error.kind in (ErrorKind.AUTH, ErrorKind.CONSENT):
        reason = Reason.NOT_AUTHORIZED
    elif error.kind is ErrorKind.INVALID:
        reason = Reason.INVALID_REQUEST
    else:
        reason = Reason.REJECTED_BY_PARTNER_CENTER
    retryable, message = _retryable(reason, error), error.message
    entry = partner_center_code(error.code) if error.http_status is not None else None
    if entry is not None and entry.fix is not None:
        retryable = retryable if entry.retryable is None else entry.retryable
        message = entry.fix
    if error.kind is ErrorKind.CONSENT:  # fixed by the operator's sign-in (ops.consent), then a replay
        retryable, message = True, error.message
    return Failure(
        reason=reason,
        retryable=retryable,
        message=message,
        errors=error.errors,
        partner_center=error.partner_center,
        suggested_addresses=error.suggested_addresses,
    )


def _retryable(reason: Reason, error: OnboardingError) -> bool:
    # Sending the same request unchanged can succeed later only when nothing in it is wrong: an operator fixing our
    # credential, or Partner Center saying so itself. (The table's fixes name the refusals where an operator's fix is
    # not enough.)
    if reason in (Reason.NOT_AUTHORIZED, Reason.RETRIES_EXHAUSTED):
        return True
    if reason is Reason.REJECTED_BY_PARTNER_CENTER:
        return bool(error.is_retryable)
    return False
