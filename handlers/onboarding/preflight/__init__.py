"""Pre-flight: the checks before creating — country rules, domain, address — run concurrently.

Each refusal carries every broken rule at once; nothing is created when any check refuses.
"""

from __future__ import annotations

import asyncio
import logging

from handlers.domain.error_codes import ENDPOINT_MISSING_STATUSES
from handlers.domain.failures import ErrorKind, OnboardingError, Reason, invalid_request_message
from handlers.domain.field_errors import FieldError
from handlers.domain.partner_center_body import partner_center_address
from handlers.domain.payloads import AddressValidation
from handlers.domain.ports import PartnerCenter
from handlers.domain.request import CustomerRequest
from handlers.onboarding.preflight.address import check_address
from handlers.onboarding.preflight.country_rules import CountryRulesCache, check_country_rules
from handlers.onboarding.preflight.domain import check_domain

__all__ = ["CountryRulesCache", "run_preflight"]

log = logging.getLogger("csp_onboarding")


async def _country_rule_errors(
    request: CustomerRequest, partner_center: PartnerCenter, cache: CountryRulesCache, ms_request_id: str
) -> list[FieldError]:
    country = request.customer.address.country
    try:
        rules = await cache.get(country, lambda: partner_center.get_country_rules(country, ms_request_id=ms_request_id))
    except OnboardingError as error:
        if error.kind is ErrorKind.BUSINESS and error.http_status in ENDPOINT_MISSING_STATUSES and error.code is None:
            # Not Partner Center saying "no such country" (that carries an error code): no such endpoint here.
            log.warning("Country rules unavailable (HTTP %s): checking the request without them", error.http_status)
            return []
        if error.kind is ErrorKind.BUSINESS and error.http_status in (400, 404):
            field = "customer.address.country"
            return [
                FieldError(
                    field=field,
                    code="country_not_supported",
                    message=f"{field} {country} is not a country Partner Center supports.",
                )
            ]
        raise
    return check_country_rules(request, rules)


async def _no_errors() -> list[FieldError]:
    return []


async def _no_address_check() -> tuple[list[FieldError], AddressValidation | None]:
    return [], None


async def run_preflight(
    request: CustomerRequest,
    partner_center: PartnerCenter,
    rules_cache: CountryRulesCache,
    *,
    domain: str,
    ms_request_id: str,
    validate_address: bool = True,
    check_domain_taken: bool = True,
) -> None:
    """Raise OnboardingError (invalid_request, domain_unavailable or address_invalid) when a check refuses;
    Partner Center errors of the checks themselves propagate (transient ones make the queue redeliver).
    `check_domain_taken=False` when a create for this domain may already have gone out: the domain then being
    taken proves nothing, and the create's own answer is judged instead (create.py)."""
    address_check = (
        check_address(partner_center, partner_center_address(request), ms_request_id=ms_request_id)
        if validate_address
        else _no_address_check()
    )
    rules_result, domain_result, address_result = await asyncio.gather(
        _country_rule_errors(request, partner_center, rules_cache, ms_request_id),
        check_domain(partner_center, domain, ms_request_id=ms_request_id) if check_domain_taken else _no_errors(),
        address_check,
        return_exceptions=True,
    )
    for result in (rules_result, domain_result, address_result):
        if isinstance(result, BaseException):
            raise result
    assert isinstance(rules_result, list)
    assert isinstance(domain_result, list)
    assert isinstance(address_result, tuple)
    address_errors, validation = address_result
    if rules_result:
        errors = [*rules_result, *domain_result, *address_errors]
        raise OnboardingError(
            ErrorKind.INVALID,
            invalid_request_message(errors),
            reason=Reason.INVALID_REQUEST,
            errors=errors,
        )
    if domain_result:
        raise OnboardingError(
            ErrorKind.BUSINESS,
            f"The domain {domain} is already used by another tenant.",
            reason=Reason.DOMAIN_UNAVAILABLE,
            errors=[*domain_result, *address_errors],
        )
    if address_errors and validation is not None:
        raise OnboardingError(
            ErrorKind.BUSINESS,
            f'Partner Center could not verify the address (validation status "{validation.status}").',
            reason=Reason.ADDRESS_INVALID,
            errors=address_errors,
            suggested_addresses=validation.suggestedAddresses,
        )
