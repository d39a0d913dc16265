"""What Partner Center receives for a request: the create's body and domain, the MS-RequestId every call for the
request carries, and a hash of it all (a resend that changes only, say, its correlationId is the same request)."""

from __future__ import annotations

import hashlib
import json
import uuid
from typing import Any

from handlers.domain.config import PipelineConfig
from handlers.domain.countries import REGISTRATION_COUNTRIES
from handlers.domain.request import CustomerRequest

# Namespace of MS-RequestId values: the same requestId always yields the same MS-RequestId.
_MS_REQUEST_NAMESPACE = uuid.UUID("b7d4c1e8-2f5a-4c3b-8e9d-6a1f0c7b5e24")


def ms_request_id_for(request_id: str) -> str:
    """The MS-RequestId every Partner Center call for this request carries."""
    return str(uuid.uuid5(_MS_REQUEST_NAMESPACE, request_id))


def domain_for(request: CustomerRequest, domain_suffix: str) -> str:
    """The customer's initial domain: its prefix plus the cloud's suffix, lower case."""
    return f"{request.customer.domainPrefix.lower()}{domain_suffix}"


def partner_center_address(request: CustomerRequest) -> dict[str, Any]:
    """The request's address in Partner Center's Address shape, unset fields left out."""
    return request.customer.address.model_dump(exclude_none=True)


def customer_body(request: CustomerRequest, *, domain: str, enable_gdap_default: bool) -> dict[str, Any]:
    """The `POST /v1/customers` body for `domain`. No userCredentials: Partner Center generates the password."""
    customer = request.customer
    company: dict[str, Any] = {"domain": domain}
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


def request_hash(request: CustomerRequest, config: PipelineConfig) -> str:
    """What Partner Center would receive for this request, hashed: a resend that changes only, say, its
    correlationId is the same request."""
    body = customer_body(
        request, domain=domain_for(request, config.domain_suffix), enable_gdap_default=config.enable_gdap_default
    )
    if request.customer.mcaAcceptance is not None:  # not sent to the create, but part of the request's work
        body["mcaAcceptance"] = request.customer.mcaAcceptance.model_dump(mode="json")
    return hashlib.sha256(json.dumps(body, sort_keys=True, ensure_ascii=False).encode("utf-8")).hexdigest()
