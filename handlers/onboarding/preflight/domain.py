"""The domain check: is `{prefix}{suffix}` already a tenant's domain?"""

from __future__ import annotations

from handlers.domain.field_errors import FieldError
from handlers.domain.ports import PartnerCenter


async def check_domain(partner_center: PartnerCenter, domain: str, *, ms_request_id: str) -> list[FieldError]:
    """A field error when the domain is taken (HEAD /v1/domains/{domain} → 200); raises OnboardingError."""
    if not await partner_center.domain_exists(domain, ms_request_id=ms_request_id):
        return []
    return [
        FieldError(
            field="customer.domainPrefix",
            code="domain_unavailable",
            message=f"customer.domainPrefix gives {domain}, which another tenant already uses; choose another prefix.",
        )
    ]
