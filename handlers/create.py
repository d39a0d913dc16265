"""Creating the customer: the Partner Center body, the idempotency key, and what a refusal means."""

from __future__ import annotations

import logging
import uuid
from dataclasses import replace
from typing import Any

from handlers.adapters.payloads import CustomerPayload
from handlers.adapters.ports import PartnerCenter
from handlers.countries import REGISTRATION_COUNTRIES
from handlers.failures import ErrorKind, FieldError, OnboardingError, Reason
from handlers.request import CustomerRequest

log = logging.getLogger("csp_onboarding")

# Namespace of MS-RequestId values: the same requestId always yields the same MS-RequestId.
_MS_REQUEST_NAMESPACE = uuid.UUID("b7d4c1e8-2f5a-4c3b-8e9d-6a1f0c7b5e24")
# Partner Center codes that mean "this domain belongs to another tenant".
DOMAIN_TAKEN_CODES = frozenset({"27100"})


def ms_request_id_for(request_id: str) -> str:
    """The MS-RequestId every Partner Center call for this request carries."""
    return str(uuid.uuid5(_MS_REQUEST_NAMESPACE, request_id))


def domain_for(request: CustomerRequest, domain_suffix: str) -> str:
    """The customer's initial domain: its prefix plus the cloud's suffix, lower case."""
    return f"{request.customer.domainPrefix.lower()}{domain_suffix}"


def partner_center_address(request: CustomerRequest) -> dict[str, Any]:
    """The request's address in Partner Center's Address shape, unset fields left out."""
    return request.customer.address.model_dump(exclude_none=True)


def customer_body(request: CustomerRequest, *, domain_suffix: str, enable_gdap_default: bool) -> dict[str, Any]:
    """The `POST /v1/customers` body. No userCredentials: Partner Center generates the admin password."""
    customer = request.customer
    company: dict[str, Any] = {"domain": domain_for(request, domain_suffix)}
    # Sent only where Partner Center takes it; elsewhere it may be refused (600002).
    if customer.organizationRegistrationNumber and customer.address.country in REGISTRATION_COUNTRIES:
        company["organizationRegistrationNumber"] = customer.organizationRegistrationNumber
    body: dict[str, Any] = {
        "enableGDAPByDefault": (
            customer.enableGdapByDefault if customer.enableGdapByDefault is not None else enable_gdap_default
        ),
        "companyProfile": company,
        "billingProfile": {
            "email": customer.email,
            "culture": customer.culture,
            "language": customer.language,
            "companyName": customer.companyName,
            "defaultAddress": partner_center_address(request),
        },
    }
    if request.indirectResellerId is not None:
        body["associatedPartnerId"] = str(request.indirectResellerId)
    return body


def _is_domain_taken(error: OnboardingError) -> bool:
    if error.kind is not ErrorKind.BUSINESS:
        return False
    text = (error.description or "").lower()
    return error.code in DOMAIN_TAKEN_CODES or ("domain" in text and ("already" in text or "not available" in text))


async def _find_own_customer(
    partner_center: PartnerCenter, request: CustomerRequest, domain: str, ms_request_id: str
) -> CustomerPayload | None:
    """The partner's customer with this domain and the request's company name, if any (a failed search is
    "none found", except a transient failure, which is retried by the queue)."""
    try:
        found = await partner_center.find_customer_by_domain(domain, ms_request_id=ms_request_id)
    except OnboardingError as error:
        if error.kind is ErrorKind.TRANSIENT:
            raise
        log.warning("Could not search the partner's customers by domain: %s", error)
        return None
    if found is None:
        return None
    name = (found.companyProfile.companyName or "").casefold()
    return found if name in ("", request.customer.companyName.casefold()) else None


async def create_customer(
    request: CustomerRequest,
    partner_center: PartnerCenter,
    *,
    domain_suffix: str,
    enable_gdap_default: bool,
    may_exist: bool = False,
) -> CustomerPayload:
    """POST the customer with the request's MS-RequestId; raises OnboardingError (domain refusals as
    domain_unavailable).

    `may_exist`: a create for this request may have been committed already — by an earlier attempt of this
    invocation (a timeout or dropped connection after Partner Center committed) or by an interrupted earlier
    delivery; the ledger says "creating" whenever this runs. If Partner Center then says the domain is taken,
    the tenant is likely that half-created one: find it among the partner's customers by domain and adopt it
    when its company name is the request's, instead of reporting the domain unavailable.
    """
    body = customer_body(request, domain_suffix=domain_suffix, enable_gdap_default=enable_gdap_default)
    ms_request_id = ms_request_id_for(request.requestId)
    try:
        return await partner_center.create_customer(body, ms_request_id=ms_request_id)
    except OnboardingError as error:
        if _is_domain_taken(error):
            domain = body["companyProfile"]["domain"]
            if may_exist:
                adopted = await _find_own_customer(partner_center, request, domain, ms_request_id)
                if adopted is not None:
                    log.warning("Adopted customer %s: created by an earlier, interrupted attempt", adopted.id)
                    return adopted
            raise replace(
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
            ) from None
        raise
