"""The address check: Partner Center's address validation, read as go / go with a warning / stop."""

from __future__ import annotations

import logging
from typing import Any

from handlers.domain.field_errors import FieldError
from handlers.domain.payloads import AddressValidation
from handlers.domain.ports import PartnerCenter

log = logging.getLogger("csp_onboarding")

ACCEPTED = frozenset({"verifiedshippable", "verified"})
UNCHECKED = "notvalidated"


def validation_body(address: dict[str, Any]) -> dict[str, Any]:
    """The body of POST /v1/validations/address (the page's field names)."""
    return {
        "addressline1": address.get("addressLine1"),
        "addressline2": address.get("addressLine2"),
        "city": address.get("city"),
        "state": address.get("state"),
        "postalcode": address.get("postalCode"),
        "country": address.get("country"),
    }


async def check_address(
    partner_center: PartnerCenter, address: dict[str, Any], *, ms_request_id: str
) -> tuple[list[FieldError], AddressValidation]:
    """Field errors when Partner Center cannot verify the address (with its answer); raises OnboardingError."""
    result = await partner_center.validate_address(validation_body(address), ms_request_id=ms_request_id)
    status = result.status.replace("_", "").casefold()
    if status in ACCEPTED:
        return [], result
    if status == UNCHECKED:
        log.warning("Partner Center could not validate the address (NotValidated); going on")
        return [], result
    detail = f": {result.validationMessage.rstrip('. ')}" if result.validationMessage else ""
    hint = " See suggestedAddresses." if result.suggestedAddresses else ""
    error = FieldError(
        field="customer.address",
        code=f"address_{status}",
        message=(
            f'customer.address could not be verified by Partner Center (validation status "{result.status}")'
            f"{detail}.{hint}"
        ),
    )
    return [error], result
