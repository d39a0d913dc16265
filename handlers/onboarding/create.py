"""Creating the customer: the Partner Center body, the idempotency key, and what a refusal means."""

from __future__ import annotations

import asyncio
import logging
import time
import unicodedata
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, replace
from enum import Enum

from handlers.domain.error_codes import Effect, has_effect
from handlers.domain.failures import ErrorKind, OnboardingError, Reason
from handlers.domain.field_errors import FieldError
from handlers.domain.ledger_entry import LedgerEntry, OtherClaim
from handlers.domain.partner_center_body import customer_body, ms_request_id_for
from handlers.domain.payloads import CustomerPayload
from handlers.domain.ports import PartnerCenter
from handlers.domain.request import CustomerRequest
from handlers.onboarding.ledger import Ledger

log = logging.getLogger("csp_onboarding")


def _is_domain_taken(error: OnboardingError) -> bool:
    if error.kind is not ErrorKind.BUSINESS:
        return False
    text = (error.description or "").lower()
    return has_effect(error.code, Effect.DOMAIN_TAKEN) or (
        "domain" in text and ("already" in text or "not available" in text)
    )


def same_company(a: str | None, b: str | None) -> bool:
    """Whether two company names are the same name: compared after Unicode (NFKC) and white-space normalisation and
    case folding. An empty name matches nothing."""

    def norm(name: str | None) -> str:
        return " ".join(unicodedata.normalize("NFKC", name or "").casefold().split())

    return bool(norm(a)) and norm(a) == norm(b)


async def search_domain(partner_center: PartnerCenter, domain: str, ms_request_id: str) -> CustomerPayload | None:
    """The partner's customer on this domain, if the listing shows one; raises OnboardingError(TRANSIENT) (any
    other refusal of the search reads as "none listed")."""
    try:
        return await partner_center.find_customer_by_domain(domain, ms_request_id=ms_request_id)
    except OnboardingError as error:
        if error.kind is ErrorKind.TRANSIENT:
            raise
        log.warning("Could not search the partner's customers by domain: %s", error)
        return None


# (the listed customer, its domain) → another request's claim on it
OtherClaims = Callable[[CustomerPayload, str], Awaitable[OtherClaim | None]]


async def _nobody(customer: CustomerPayload, domain: str) -> OtherClaim | None:
    return None


def ledger_claims(ledger: Ledger, mine: Callable[[], LedgerEntry]) -> OtherClaims:
    """Other requests' claims on a listed customer, from the ledger, against this request's row as it is when
    asked (`mine`)."""

    async def other_claim(customer: CustomerPayload, domain: str) -> OtherClaim | None:
        def is_named(names: list[str]) -> bool:
            return any(same_company(customer.companyProfile.companyName, name) for name in names)

        return await ledger.other_claim(customer.id, domain, mine(), is_named=is_named)

    return other_claim


class Verdict(Enum):
    """Whose a listed customer on the domain is, as far as this request can tell."""

    OURS = "ours"
    NOT_OURS = "not_ours"
    WAIT = "wait"  # another request's unanswered create for the domain went out first: it may be that one's


@dataclass(frozen=True)
class CreateContext:
    """What the ledger proves about earlier creates for this request, and how long to look for their tenant."""

    domain: str
    may_exist: bool  # a create for this domain went out before this delivery and its outcome is unknown
    creating_since: float  # when the first create for this request went out
    names: tuple[str, ...] = ()  # the company names creates for this request went out with
    other_claim: OtherClaims = _nobody  # another request's claim on a listed customer (the ledger's answer)
    clock: Callable[[], float] = time.time
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep
    search_seconds: float = 10.0  # how long this delivery keeps looking before leaving it to the next one
    listing_lag_window: float = 300.0  # the timing model's: how long after the first create to keep looking


async def whose_tenant(found: CustomerPayload, names: Sequence[str], domain: str, other_claim: OtherClaims) -> Verdict:
    """Whether a listed customer on `domain` can be the tenant a create of this request made: its company name is
    one the request's creates went out with, and no other request has a claim on it — its row records the customer,
    or its create for the domain went out first and is unanswered (two CRM records of one company must not both end
    with one tenant). Raises OnboardingError(TRANSIENT) when the ledger cannot be read."""
    if not any(same_company(found.companyProfile.companyName, name) for name in names):
        log.warning("The customer on %s is another company: not ours", domain)
        return Verdict.NOT_OURS
    other = await other_claim(found, domain)
    if other is None:
        return Verdict.OURS
    if other.settled:
        log.warning("The customer on %s is recorded for request %s: not ours", domain, other.request_id)
        return Verdict.NOT_OURS
    log.warning("Request %s's earlier create for %s is unanswered: the customer may be its", other.request_id, domain)
    return Verdict.WAIT


def domain_unavailable(error: OnboardingError, domain: str) -> OnboardingError:
    """A refusal for a domain another tenant holds, as the request's field error."""
    return replace(
        error,
        reason=Reason.DOMAIN_UNAVAILABLE,
        message=f"The domain {domain} is already used by another tenant.",
        errors=[
            FieldError(
                field="customer.domainPrefix",
                code="domain_unavailable",
                message=f"customer.domainPrefix: {domain} is already taken; choose another prefix.",
            )
        ],
    )


async def create_customer(
    request: CustomerRequest,
    partner_center: PartnerCenter,
    context: CreateContext,
    *,
    enable_gdap_default: bool,
) -> CustomerPayload:
    """POST the customer with the request's MS-RequestId; raises OnboardingError (domain refusals as
    domain_unavailable, or transient while our own new tenant may still be missing from the listing).

    Partner Center answers "domain taken" to a create it already committed when it no longer knows the
    MS-RequestId. So, on positive evidence only — a create for this domain went out before this delivery
    (`context.may_exist`) or earlier in this call (`after_unanswered`) — the tenant is looked for among the
    partner's customers and adopted when its company name is the request's. Newly created customers can be missing
    from the listing for about 90 s (partner-center.md, "Reads lag writes"): until the listing-lag window has passed
    since the first create, "taken but not found" is transient, never a final domain_unavailable.
    """
    body = customer_body(request, domain=context.domain, enable_gdap_default=enable_gdap_default)
    ms_request_id = ms_request_id_for(request.requestId)
    try:
        return await partner_center.create_customer(body, ms_request_id=ms_request_id)
    except OnboardingError as error:
        if not _is_domain_taken(error):
            raise
        if not (context.may_exist or error.after_unanswered):
            raise domain_unavailable(error, context.domain) from None
        adopted = await _look_for_own_tenant(partner_center, request, context, ms_request_id, error)
        if adopted is not None:
            log.warning("Adopted customer %s: created by an earlier attempt whose answer was lost", adopted.id)
            return adopted
        give_up_on_listing(context.domain, context.creating_since, context.clock(), context.listing_lag_window)
        raise domain_unavailable(error, context.domain) from None


ORPHAN_ALERT = "possible_orphan_tenant"  # the `alert` dimension the Azure Monitor alert filters on


def give_up_on_listing(domain: str, creating_since: float, now: float, window: float) -> None:
    """For a domain a create of this request went out for with no answer, whose tenant nobody lists or claims yet:
    until `window` (the listing-lag window) has passed since the first create, raise OnboardingError(TRANSIENT) (the
    listing may still show it); after it, give up — it may be a tenant no request will ever report, so a person is
    alerted."""
    if now - creating_since < window:
        raise OnboardingError(  # from None: called while a "domain taken" is handled, which it replaces
            ErrorKind.TRANSIENT, f"an earlier create for {domain} may still appear in the listing; looking again later"
        ) from None
    log.error(
        "A create for %s got no answer and no tenant on it was found for %d s: it may exist with no CRM record; "
        "look for it in Partner Center before the CRM retries with another prefix", domain, int(window),
        extra={"alert": ORPHAN_ALERT},
    )  # fmt: skip


async def _look_for_own_tenant(
    partner_center: PartnerCenter,
    request: CustomerRequest,
    context: CreateContext,
    ms_request_id: str,
    error: OnboardingError,
) -> CustomerPayload | None:
    """Search a few times over `search_seconds` as the listing catches up; None while nothing is listed (or while
    another request's earlier create may be the one listed). Raises `domain_unavailable` when the domain's customer
    is not ours (`whose_tenant`)."""
    deadline = context.clock() + context.search_seconds
    pause = 1.0
    while True:
        found = await search_domain(partner_center, context.domain, ms_request_id)
        if found is not None:
            names = (*context.names, request.customer.companyName)
            verdict = await whose_tenant(found, names, context.domain, context.other_claim)
            if verdict is Verdict.NOT_OURS:
                raise domain_unavailable(error, context.domain)
            return found if verdict is Verdict.OURS else None  # WAIT: as if not listed yet
        if context.clock() + pause > deadline:
            return None
        await context.sleep(pause)
        pause *= 2


async def replay_create(
    request: CustomerRequest, partner_center: PartnerCenter, entry: LedgerEntry, *, enable_gdap_default: bool
) -> CustomerPayload | None:
    """Ask Partner Center for a recorded customer's create answer again (to get the admin password that never
    reached the vault): for the recorded domain, never another, so it can only replay or refuse. None when it no
    longer replays; raises OnboardingError(TRANSIENT)."""
    if entry.domain is None:
        return None
    body = customer_body(request, domain=entry.domain, enable_gdap_default=enable_gdap_default)
    try:
        customer = await partner_center.create_customer(body, ms_request_id=entry.ms_request_id)
    except OnboardingError as error:
        if error.kind is ErrorKind.TRANSIENT:
            raise
        log.warning("Partner Center no longer replays the create (%s): the admin password is lost", error)
        return None
    return customer if customer.id == entry.customer_id else None
