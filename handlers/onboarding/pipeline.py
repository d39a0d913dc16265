"""The onboarding pipeline: message → request → ledger → pre-flight → create → event. Plain functions over ports.

One delivery: parse the message; claim the request in the ledger (or find its outcome decided and publish it
again); run what the ledger says is still to do; store the outcome on the row; publish what the row then says.
Every way out of an undecided delivery frees the claim; the whole delivery is bounded by the timing model.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Iterator
from dataclasses import dataclass, replace

from handlers.domain.budget import REQUEST_CALLS, CallClass, OutOfBudget
from handlers.domain.error_codes import failure_from_error
from handlers.domain.events import CreatedData
from handlers.domain.failures import ErrorKind, OnboardingError
from handlers.domain.ledger_entry import Decision, LedgerEntry, held_elsewhere, sent_names
from handlers.domain.partner_center_body import domain_for, ms_request_id_for, request_hash
from handlers.domain.payloads import CustomerPayload
from handlers.domain.request import CustomerRequest, InvalidRequest, parse_message
from handlers.observability.logs import log_context
from handlers.observability.redaction import holding_secrets
from handlers.observability.telemetry import parent_context, tracer
from handlers.onboarding.admin_password import keep_password_of
from handlers.onboarding.app_user import check_app_user_request, reseller_refusal, sign_in_refusal
from handlers.onboarding.attestation import finish_attestation
from handlers.onboarding.budget import calls_as
from handlers.onboarding.create import (
    CreateContext,
    Verdict,
    create_customer,
    give_up_on_listing,
    ledger_claims,
    replay_create,
    search_domain,
    whose_tenant,
)
from handlers.onboarding.dependencies import Dependencies
from handlers.onboarding.outcomes import (
    Ids,
    Published,
    created_decision,
    failed_decision,
    note_reused_request_id,
    publish_invalid,
    publish_stored,
)
from handlers.onboarding.preflight import run_preflight

__all__ = ["handle_message"]

log = logging.getLogger("csp_onboarding")


async def handle_message(body: bytes | str, deps: Dependencies, *, traceparent: str | None = None) -> Published:
    """Onboard one queue message and publish its outcome.

    Raises OnboardingError(TRANSIENT) — and any publish failure — so the queue redelivers the message; OutOfBudget
    (after freeing the claim) when the shared budget cannot serve its calls in time (onboarding/backpressure.py).
    """
    with (
        tracer.start_as_current_span("onboard_customer", context=parent_context(traceparent), record_exception=False),
        holding_secrets(),
    ):
        parsed = parse_message(body)
        if isinstance(parsed, InvalidRequest):
            return await publish_invalid(parsed, deps.ledger, deps.publisher)
        try:
            async with asyncio.timeout(deps.config.timing.invocation_timeout):
                return await _handle_request(parsed, deps)
        except TimeoutError:
            raise OnboardingError(ErrorKind.TRANSIENT, "the invocation ran out of time; the queue will retry") from None


@dataclass
class _Held:
    """The row as this delivery last wrote it (what a release must name), and whether Partner Center answered
    this delivery's create for good (then the create's outcome is no longer unknown)."""

    entry: LedgerEntry
    create_answered: bool = False


async def _handle_request(request: CustomerRequest, deps: Dependencies) -> Published:
    ms_request_id = ms_request_id_for(request.requestId)
    with log_context(
        requestId=request.requestId,
        crmAccountId=request.crmAccountId,
        correlationId=request.correlationId,
        msRequestId=ms_request_id,
        outcome="pending",
    ):
        content = request_hash(request, deps.config)
        entry = await deps.ledger.claim(
            request.requestId, ms_request_id, lease_seconds=deps.config.timing.lease, request_hash=content
        )
        if entry.outcome_known:
            if entry.outcome == "created" and entry.request_hash != content:
                note_reused_request_id()
            if entry.agreement_open and request.customer.mcaAcceptance is not None:
                return await _attest(request, entry, deps)
            log.info("Outcome already decided (%s): publishing it again", entry.state)
            return await publish_stored(entry, deps.events)
        held = _Held(entry)
        row: LedgerEntry | None = None
        try:
            with _within_budget(deps):
                decision = await _onboard(request, content, held, deps)
            # A failure stays held while it is published: no resend can reopen it and publish a newer outcome first.
            row = await deps.ledger.decide(held.entry, decision, hold_seconds=deps.config.timing.lease)
            if row.decided is None:
                raise held_elsewhere(request.requestId)  # another delivery took it over: it decides and publishes
            if row.agreement_open and request.customer.mcaAcceptance is not None:
                return await _attest(request, row, deps)
            return await publish_stored(row, deps.events)
        except OutOfBudget as error:
            log.warning("Onboarding goes back to the queue: %s", error, extra={"outcome": "deferred"})
            raise
        except OnboardingError as error:
            if error.kind is ErrorKind.TRANSIENT:
                log.warning("Onboarding will be retried by the queue: %s", error, extra={"outcome": "retry"})
            raise
        finally:
            if row is None or row.decided is None:
                await deps.ledger.release(held.entry)
            elif row.owner is not None and row.owner == held.entry.owner:
                await deps.ledger.release(row)  # the failure it held while publishing


@contextlib.contextmanager
def _within_budget(deps: Dependencies) -> Iterator[None]:
    """This request's calls, when the shared budget can serve them within the invocation: admitted if they fit in
    half of it, each given up three quarters in (a round's retry budget before its end); raises OutOfBudget."""
    if deps.budget is None:
        yield
        return
    invocation = deps.config.timing.invocation_timeout
    with deps.budget.admitted(REQUEST_CALLS, within=invocation / 2, until=0.75 * invocation):
        yield


async def _attest(request: CustomerRequest, entry: LedgerEntry, deps: Dependencies) -> Published:
    with calls_as(CallClass.FINISH):  # the customer exists: its attestation goes before others' pre-flight
        return await finish_attestation(
            request, entry, deps.ledger, deps.app_user, deps.publisher, lease_seconds=deps.config.timing.lease
        )


async def _onboard(request: CustomerRequest, content: str, held: _Held, deps: Dependencies) -> Decision:
    """Run what the ledger says is still to do; the decision to store. Raises OnboardingError(TRANSIENT)."""
    customer: CustomerPayload | None
    try:
        if held.entry.customer_json is None:
            customer = await _create(request, content, held, deps)
        elif deps.vault is not None:  # the password never reached the vault: ask for the create's answer again
            with calls_as(CallClass.FINISH):
                customer = await replay_create(
                    request, deps.partner_center, held.entry, enable_gdap_default=deps.config.enable_gdap_default
                )
        else:
            customer = None
        secret_id = await keep_password_of(
            customer,
            request_id=request.requestId,
            customer_json=held.entry.customer_json,
            vault=deps.vault,
            expires_in_days=deps.config.admin_password_expiry_days,
        )
    except OnboardingError as error:
        if error.kind is ErrorKind.TRANSIENT:
            raise
        failure = failure_from_error(error)
        log.warning("Request refused: %s: %s", failure.reason.value, failure.message)
        ids = Ids.of(request, generation=held.entry.generation)
        decision = failed_decision(failure, ids, deps.config.events_source)
        return replace(decision, changes={"create_unknown": False}) if held.create_answered else decision
    log.info("Customer %s created for %s", held.entry.customer_id, held.entry.domain)
    mca = request.customer.mcaAcceptance is not None
    return created_decision(held.entry, secret_id, request.correlationId, deps.config.events_source, mca=mca)


async def _create(request: CustomerRequest, content: str, held: _Held, deps: Dependencies) -> CustomerPayload:
    """The customer for this request — found from an earlier attempt, or created after pre-flight (unless this
    content passed it already) — recorded on the row."""
    domain = domain_for(request, deps.config.domain_suffix)
    with calls_as(CallClass.FINISH):  # a create for this request went out before: finish it first
        earlier = await _earlier_tenant(held, domain, deps)
    customer = earlier or await _create_new(request, content, domain, held, deps)
    return await _record(request, customer, domain, held, deps)


async def _earlier_tenant(held: _Held, domain: str, deps: Dependencies) -> CustomerPayload | None:
    """When the CRM changed the domain after a create for another one went out with no answer, that create's
    tenant, if it exists, is this request's customer: look for it (through the listing's lag) before creating a
    second one for the new domain."""
    entry = held.entry
    if entry.state != "creating" or not entry.create_unknown or entry.domain in (None, domain):
        return None
    assert entry.domain is not None
    earlier = await search_domain(deps.partner_center, entry.domain, entry.ms_request_id)
    verdict = Verdict.WAIT if earlier is None else await whose_tenant(
        earlier, sent_names(entry), entry.domain, ledger_claims(deps.ledger, lambda: held.entry)
    )  # fmt: skip
    if verdict is Verdict.OURS:
        log.warning("The customer an earlier attempt created on %s is this request's: adopting it", entry.domain)
        return earlier
    if verdict is Verdict.WAIT:
        give_up_on_listing(
            entry.domain, entry.creating_since or 0.0, deps.ledger.now(), deps.config.timing.listing_lag_window
        )
    return None


async def _create_new(
    request: CustomerRequest, content: str, domain: str, held: _Held, deps: Dependencies
) -> CustomerPayload:
    config, entry = deps.config, held.entry
    # Positive evidence only: a create for this very domain went out before this delivery, its outcome unknown.
    may_exist = entry.state == "creating" and entry.domain == domain and bool(entry.create_unknown)
    if entry.checked_hash != content:
        await check_app_user_request(request, deps.app_user, cloud=config.cloud, ms_request_id=entry.ms_request_id)
        await run_preflight(
            request,
            deps.partner_center,
            deps.rules_cache,
            domain=domain,
            ms_request_id=entry.ms_request_id,
            validate_address=config.validate_address,
            check_domain_taken=not may_exist,
        )
    elif may_exist:
        log.warning("An earlier delivery was interrupted while creating: creating again with the same MS-RequestId")
    held.entry = entry = await deps.ledger.start_create(
        entry, domain=domain, checked_hash=content, company_name=request.customer.companyName
    )
    context = CreateContext(
        domain=domain, may_exist=may_exist, creating_since=entry.creating_since or 0.0,
        names=tuple(sent_names(entry)), search_seconds=config.timing.round_budget, clock=deps.ledger.now,
        listing_lag_window=config.timing.listing_lag_window,
        other_claim=ledger_claims(deps.ledger, lambda: held.entry),
    )  # fmt: skip
    try:
        with calls_as(CallClass.FINISH):  # past its pre-flight: its create goes before other requests' pre-flight
            return await create_customer(
                request, deps.partner_center, context, enable_gdap_default=config.enable_gdap_default
            )
    except OnboardingError as error:
        held.create_answered = error.kind is not ErrorKind.TRANSIENT
        raise reseller_refusal(await sign_in_refusal(error, deps.app_user), request) from None


async def _record(
    request: CustomerRequest, customer: CustomerPayload, domain: str, held: _Held, deps: Dependencies
) -> CustomerPayload:
    domain = customer.companyProfile.domain or domain
    user_name = customer.userCredentials.userName if customer.userCredentials else None
    data = CreatedData(
        requestId=request.requestId,
        crmAccountId=request.crmAccountId,
        customerId=customer.id,
        tenantId=customer.companyProfile.tenantId or customer.id,
        commerceId=customer.commerceId,
        domain=domain,
        companyName=customer.companyProfile.companyName or request.customer.companyName,
        relationshipToPartner=customer.relationshipToPartner,
        adminUserPrincipalName=f"{user_name}@{domain}" if user_name and "@" not in user_name else user_name,
        adminCredentialsSecretId=None,
        associatedPartnerId=customer.associatedPartnerId
        or (str(request.indirectResellerId) if request.indirectResellerId else None),
    )
    # Recorded before anything else can fail: from here on the request can only end `created`.
    held.entry = await deps.ledger.record_customer(
        held.entry, customer_id=customer.id, tenant_id=data.tenantId, commerce_id=customer.commerceId, domain=domain,
        customer_json=data.model_dump_json(),
    )  # fmt: skip
    return customer
