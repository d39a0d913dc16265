"""App+User work of the pipeline (contract §5): the indirect reseller check before the create, and the MCA
attestation right after it. Rule 11: only these calls (and a reseller's create) use the App+User token."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field, replace
from typing import TypeVar

from handlers.domain.error_codes import APP_USER_NOT_SIGNED_IN_CODE, APP_USER_OFF_CODE, Effect, partner_center_code
from handlers.domain.events import AgreementConfirmedData
from handlers.domain.failures import ErrorKind, OnboardingError, Reason
from handlers.domain.field_errors import FieldError
from handlers.domain.payloads import Relationship
from handlers.domain.ports import AppUserPartnerCenter, AppUserSignIn
from handlers.domain.request import CustomerRequest

T = TypeVar("T")
MCA = "MicrosoftCustomerAgreement"
RESELLER_REFUSALS = (Effect.RESELLER_UNKNOWN, Effect.RESELLER_INACTIVE)
APP_USER_NOT_SIGNED_IN = (
    "needs Partner Center's App+User sign-in, which is on here but not signed in yet: an Admin agent runs "
    "`python -m ops.consent` once"
)
APP_USER_OFF = (
    "needs Partner Center's App+User sign-in, which is off here: the operator turns it on "
    "(`azd env set APP_USER_ENABLED true`, `azd provision`) and runs `python -m ops.consent` once"
)


@dataclass
class TimedCache:
    """One value fetched at most every `ttl` seconds (a forced refetch at most every `min_refetch`)."""

    ttl: float
    min_refetch: float = 30.0
    clock: Callable[[], float] = time.monotonic
    _value: object = None
    _at: float = -1e18

    async def get(self, fetch: Callable[[], Awaitable[T]], *, stale: bool = False) -> T:
        age = self.clock() - self._at
        if self._value is None or age >= self.ttl or (stale and age >= self.min_refetch):
            self._value, self._at = await fetch(), self.clock()
        return self._value  # type: ignore[return-value]


@dataclass
class AppUser:
    """What the pipeline needs for App+User work: the calls, the token's refresher, and the caches."""

    partner_center: AppUserPartnerCenter
    tokens: AppUserSignIn
    resellers: TimedCache = field(default_factory=lambda: TimedCache(ttl=600.0))
    templates: TimedCache = field(default_factory=lambda: TimedCache(ttl=3600.0))


async def sign_in_refusal(
    error: OnboardingError, app_user: AppUser | None, field: str | None = None
) -> OnboardingError:
    """An App+User call's refusal as the caller must raise it: a token Partner Center refused (CONSENT: no MFA) is a
    dead sign-in — the token is forgotten and the consent alarm sounds (once an hour); no sign-in yet names the
    `request_field` that needs one, as App+User off does; others as they are."""
    if error.kind is ErrorKind.CONSENT and app_user is not None:
        return await app_user.tokens.refused(error)
    if error.code == APP_USER_NOT_SIGNED_IN_CODE and field is not None and not error.errors:
        text = f"{field} {APP_USER_NOT_SIGNED_IN}."
        return replace(
            error, message=text, errors=[FieldError(field=field, code=APP_USER_NOT_SIGNED_IN_CODE, message=text)]
        )
    return error


def _invalid(path: str, code: str, rule: str) -> OnboardingError:
    error = FieldError(field=path, code=code, message=f"{path} {rule}.")
    return OnboardingError(ErrorKind.INVALID, f"The request is invalid: {error.message}",
                           reason=Reason.INVALID_REQUEST, errors=[error])  # fmt: skip


async def check_app_user_request(
    request: CustomerRequest, app_user: AppUser | None, *, cloud: str, ms_request_id: str
) -> None:
    """Pre-flight of the App+User fields: raises OnboardingError (invalid_request on the field; not_authorized when
    App+User is off or its sign-in is dead; transient ones propagate)."""
    mca = request.customer.mcaAcceptance
    if mca is not None and cloud != "public":
        raise _invalid("customer.mcaAcceptance", "not_in_this_cloud",
                       f"is accepted only in the public cloud (this function runs in {cloud})")  # fmt: skip
    if (mca is not None or request.indirectResellerId is not None) and app_user is None:
        what = "indirectResellerId" if request.indirectResellerId is not None else "customer.mcaAcceptance"
        raise OnboardingError(
            ErrorKind.AUTH, f"{what} {APP_USER_OFF}.", code=APP_USER_OFF_CODE,
            errors=[FieldError(field=what, code=APP_USER_OFF_CODE, message=f"{what} {APP_USER_OFF}.")],
        )  # fmt: skip
    if request.indirectResellerId is None or app_user is None:
        return
    reseller_id = str(request.indirectResellerId).lower()
    found = await _reseller(app_user, reseller_id, ms_request_id, stale=False)
    if found is None or (found.state or "").lower() != "active":
        found = await _reseller(app_user, reseller_id, ms_request_id, stale=True)  # a reseller added just now
    if found is None:
        raise _invalid("indirectResellerId", "reseller_unknown",
                       "is not an indirect reseller of this partner (IsIndirectCloudSolutionProviderOf)")  # fmt: skip
    if (found.state or "").lower() != "active":
        raise _invalid("indirectResellerId", "reseller_inactive",
                       f"names a reseller whose relationship is {found.state or 'not active'}")  # fmt: skip


async def _reseller(app_user: AppUser, reseller_id: str, ms_request_id: str, *, stale: bool) -> Relationship | None:
    async def fetch() -> list[Relationship]:
        try:
            return await app_user.partner_center.list_indirect_resellers(ms_request_id=ms_request_id)
        except OnboardingError as error:
            raise await sign_in_refusal(error, app_user, "indirectResellerId") from None

    resellers: list[Relationship] = await app_user.resellers.get(fetch, stale=stale)
    return next((r for r in resellers if r.id.lower() == reseller_id), None)


def reseller_refusal(error: OnboardingError, request: CustomerRequest) -> OnboardingError:
    """Partner Center's 800015 / 800016 on a create, as invalid_request on indirectResellerId; other errors as
    they are."""
    entry = partner_center_code(error.code)
    if entry is None or entry.effect not in RESELLER_REFUSALS or request.indirectResellerId is None:
        return error
    rule = entry.meaning
    invalid = _invalid("indirectResellerId", f"partner_center_{error.code}", f"{rule} (Partner Center {error.code})")
    return OnboardingError(
        ErrorKind.INVALID, invalid.message, reason=Reason.INVALID_REQUEST, errors=invalid.errors,
        http_status=error.http_status, code=error.code, description=error.description, error_name=error.error_name,
    )  # fmt: skip


async def attest_mca(
    request: CustomerRequest, app_user: AppUser, *, customer_id: str, tenant_id: str | None, ms_request_id: str
) -> AgreementConfirmedData:
    """Attest the customer's MCA acceptance (600061 counts as done); raises OnboardingError."""
    mca = request.customer.mcaAcceptance
    assert mca is not None

    async def fetch() -> str:
        return await app_user.partner_center.agreement_template_id(MCA, ms_request_id=ms_request_id)

    try:
        template_id: str = await app_user.templates.get(fetch)
        date_agreed = mca.dateAgreed.isoformat().replace("+00:00", "Z")
        contact = mca.primaryContact.model_dump(exclude_none=True)
        body = {"primaryContact": contact, "templateId": template_id, "dateAgreed": date_agreed, "type": MCA}
        await app_user.partner_center.create_agreement(customer_id, body, ms_request_id=ms_request_id)
    except OnboardingError as error:
        raise await sign_in_refusal(error, app_user, "customer.mcaAcceptance") from None
    return AgreementConfirmedData(
        requestId=request.requestId, crmAccountId=request.crmAccountId, customerId=customer_id, tenantId=tenant_id,
        templateId=template_id, dateAgreed=date_agreed, primaryContactEmail=mca.primaryContact.email,
    )  # fmt: skip
