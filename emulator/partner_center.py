"""Partner Center's customer, domain, address and country-rule endpoints, as documented."""

from __future__ import annotations

import json
import re
import secrets
import string
import uuid
from typing import Any

from aiohttp import web

from emulator.countries import REGISTRATION_COUNTRIES
from emulator.country_rules import rules_for
from emulator.state import PARTNER_CENTER_AUDIENCE, State
from emulator.users import app_user_refusal, reseller_refusal

STATE_KEY: web.AppKey[State] = web.AppKey("state", State)

_ADDRESS_LIMITS = {"firstname": 50, "lastname": 50, "addressline1": 200, "addressline2": 200, "addressline3": 200}


def pc_error(status: int, code: int, description: str, error_name: str = "") -> web.Response:
    body = {"code": code, "description": description, "errorName": error_name, "data": [], "source": "PartnerFD"}
    return web.json_response(body, status=status)


def _lower_keys(value: Any) -> Any:
    """Request keys are case-insensitive in Partner Center: compare them lower-cased."""
    if isinstance(value, dict):
        return {str(k).lower(): _lower_keys(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_lower_keys(v) for v in value]
    return value


def _authorized(request: web.Request) -> web.Response | None:
    state = request.app[STATE_KEY]
    if not state.token_valid(request.headers.get("Authorization"), PARTNER_CENTER_AUDIENCE):
        return pc_error(401, 800001, "Authorization token is missing, expired or not issued for Partner Center.")
    if not request.headers.get("MS-RequestId") or not request.headers.get("MS-CorrelationId"):
        return pc_error(400, 400, "MS-RequestId and MS-CorrelationId headers are required.")
    return None


def _validate_customer(body: dict[str, Any]) -> web.Response | None:
    company = body.get("companyprofile") or {}
    billing = body.get("billingprofile") or {}
    address = billing.get("defaultaddress") or {}
    if not company.get("domain"):
        return pc_error(400, 27002, "companyProfile.domain is required.", "InvalidInput")
    if not re.fullmatch(r"[a-z0-9]{1,27}\.(onmicrosoft\.com|partner\.onmschina\.cn)", str(company["domain"]).lower()):
        return pc_error(400, 27002, "companyProfile.domain is not a valid initial domain.", "InvalidInput")
    for key in ("email", "culture", "language", "companyname"):
        if not billing.get(key):
            return pc_error(400, 27002, f"billingProfile.{key} is required.", "InvalidInput")
    for key in ("firstname", "lastname", "addressline1", "city", "country"):
        if not address.get(key):
            return pc_error(400, 27002, f"defaultAddress.{key} is required.", "InvalidInput")
    for key, limit in _ADDRESS_LIMITS.items():
        if len(str(address.get(key) or "")) > limit:
            return pc_error(400, 27002, f"defaultAddress.{key} exceeds {limit} characters.", "InvalidInput")
    country = str(address["country"])
    rules = rules_for(country)
    if len(country) != 2 or rules is None:
        return pc_error(400, 27002, f"defaultAddress.country '{country}' is not a valid ISO alpha-2 code.")
    registration = company.get("organizationregistrationnumber")
    if country.upper() in REGISTRATION_COUNTRIES:
        if not registration:
            return pc_error(400, 600049, "Organization registration number is required for this country.")
        if not address.get("phonenumber"):
            return pc_error(400, 600051, "Phone number is required for this country.")
    elif registration:
        return pc_error(400, 600002, "Organization registration number should not be specified for this country.")
    return None


def _new_customer(body: dict[str, Any], state: State) -> dict[str, Any]:
    company = body["companyprofile"]
    billing = body["billingprofile"]
    address = billing["defaultaddress"]
    customer_id = str(uuid.uuid4())
    alphabet = string.ascii_letters + string.digits
    password = "".join(secrets.choice(alphabet) for _ in range(12)) + "!" + secrets.choice(string.digits)
    state.passwords.append(password)
    domain = str(company["domain"]).lower()
    return {
        "id": customer_id,
        "commerceId": str(uuid.uuid4()),
        "companyProfile": {
            "tenantId": customer_id,
            "domain": domain,
            "companyName": billing["companyname"],
            "organizationRegistrationNumber": company.get("organizationregistrationnumber"),
            "attributes": {"objectType": "CustomerCompanyProfile"},
        },
        "billingProfile": {
            "id": uuid.uuid4().hex,
            "email": billing["email"],
            "culture": billing["culture"],
            "language": billing["language"],
            "companyName": billing["companyname"],
            "defaultAddress": {k: v for k, v in address.items() if v is not None},
            "attributes": {"etag": f'"{uuid.uuid4().hex[:16]}"', "objectType": "CustomerBillingProfile"},
        },
        "relationshipToPartner": "reseller",
        "allowDelegatedAccess": False,
        "enableGDAPByDefault": body.get("enablegdapbydefault", True),
        "associatedPartnerId": body.get("associatedpartnerid"),
        "userCredentials": {"userName": "admin", "password": password, "attributes": {"objectType": "UserCredentials"}},
        "attributes": {"objectType": "Customer"},
    }


def public_view(customer: dict[str, Any]) -> dict[str, Any]:
    """A customer as GET returns it: no credentials."""
    return {k: v for k, v in customer.items() if k != "userCredentials"}


def _indirect_refusal(request: web.Request, state: State, body: dict[str, Any]) -> web.Response | None:
    """A create for an indirect reseller needs an App+User token with MFA and a known, active reseller."""
    reseller = body.get("associatedpartnerid")
    if reseller is None:
        return None
    token = state.token_for(request.headers.get("Authorization"), PARTNER_CENTER_AUDIENCE)
    assert token is not None  # _authorized checked it
    refusal = app_user_refusal(token.user, token.mfa) or reseller_refusal(state.app_user, str(reseller))
    return None if refusal is None else pc_error(*refusal)


async def create_customer(request: web.Request) -> web.Response:
    if (refused := _authorized(request)) is not None:
        return refused
    state = request.app[STATE_KEY]
    try:
        body = _lower_keys(await request.json())
    except (json.JSONDecodeError, UnicodeDecodeError):
        return pc_error(400, 27002, "The request body is not valid JSON.")
    ms_request_id = request.headers["MS-RequestId"]
    if (known := state.replayable(ms_request_id)) is not None:  # idempotent replay: the same customer
        state.count("idempotent_replays")
        return web.json_response(
            public_view(known) if state.behaviour.replay_without_credentials else known, status=201
        )
    if not isinstance(body, dict):
        return pc_error(400, 27002, "The request body must be a Customer object.")
    if (invalid := _validate_customer(body)) is not None:
        return invalid
    if (refusal := _indirect_refusal(request, state, body)) is not None:
        return refusal
    domain = str(body["companyprofile"]["domain"]).lower()
    if domain in state.taken_domains or state.customer_by_domain(domain) is not None:
        return pc_error(400, 27100, f"The domain specified {domain} is already used by another tenant.", "DomainInUse")
    customer = _new_customer(body, state)
    state.remember_create(ms_request_id, customer)
    state.count("customers_created")
    return web.json_response(customer, status=201)


async def domain_exists(request: web.Request) -> web.Response:
    # The HEAD answer states its length (0): without one, aiohttp's server closes the connection after each
    # answer, and every domain check would pay a new TLS handshake that a real front end does not impose.
    empty = {"Content-Length": "0"}
    if (refused := _authorized(request)) is not None:
        return web.Response(status=refused.status, headers=empty)
    state = request.app[STATE_KEY]
    domain = request.match_info["domain"].lower()
    taken = domain in state.taken_domains or state.customer_by_domain(domain) is not None
    return web.Response(status=200 if taken else 404, headers=empty)


def _suggestion(address: dict[str, Any], line1: str) -> dict[str, Any]:
    return {**{k: v for k, v in address.items() if v}, "addressLine1": line1}


async def validate_address(request: web.Request) -> web.Response:
    if (refused := _authorized(request)) is not None:
        return refused
    raw = await request.json()
    address = _lower_keys(raw) if isinstance(raw, dict) else {}
    original = {
        "addressLine1": address.get("addressline1"),
        "city": address.get("city"),
        "state": address.get("state"),
        "postalCode": address.get("postalcode"),
        "country": address.get("country"),
    }
    line = str(address.get("addressline1") or "").lower()
    rules = rules_for(str(address.get("country") or ""))
    postal = str(address.get("postalcode") or "")
    suggestions: list[dict[str, Any]] = []
    message = None
    if rules is None:
        status, message = "None", "Unknown country."
    elif "nowhere" in line:
        status, message = "None", "The address could not be found."
    elif rules["postalCodeRegex"] and postal and not re.fullmatch(rules["postalCodeRegex"], postal):
        status, message = "None", "The postal code does not exist in this country."
    elif "partial" in line:
        status, suggestions = "StreetPartial", [_suggestion(original, "1 " + str(address.get("addressline1")))]
    elif "multiple" in line:
        status = "Multiple"
        suggestions = [_suggestion(original, f"{n} {address.get('addressline1')}") for n in (1, 2, 3)]
    elif "interaction" in line:
        status, suggestions = "InteractionRequired", [_suggestion(original, str(address.get("addressline1")).title())]
    elif "unchecked" in line:
        status, message = "NotValidated", "The address could not be validated at this time."
    elif "suggest" in line:
        status, suggestions = "Verified", [_suggestion(original, str(address.get("addressline1")).title())]
    else:
        status = "VerifiedShippable"
    body: dict[str, Any] = {"originalAddress": original, "suggestedAddresses": suggestions, "status": status}
    if message:
        body["validationMessage"] = message
    return web.json_response(body)


async def country_rules(request: web.Request) -> web.Response:
    if (refused := _authorized(request)) is not None:
        return refused
    rules = rules_for(request.match_info["country"])
    if rules is None:
        return pc_error(404, 2013, "Country not found or not supported.", "CountryNotSupported")
    return web.json_response(rules)


async def list_customers(request: web.Request) -> web.Response:
    if (refused := _authorized(request)) is not None:
        return refused
    state = request.app[STATE_KEY]
    items = [public_view(c) for c in state.customers.values() if state.listed(c["id"])]
    raw_filter = request.query.get("filter")
    if raw_filter:
        value = str(json.loads(raw_filter).get("Value", "")).lower()
        items = [c for c in items if c["companyProfile"]["domain"].startswith(value)]
    size = int(request.query.get("size", "200"))
    return web.json_response(
        {"totalCount": len(items), "items": items[:size], "attributes": {"objectType": "Collection"}}
    )


async def get_customer(request: web.Request) -> web.Response:
    if (refused := _authorized(request)) is not None:
        return refused
    state = request.app[STATE_KEY]
    customer = state.customers.get(request.match_info["customer_id"])
    if customer is None or not state.listed(customer["id"]):
        return pc_error(404, 600008, "The requested customer was not found.", "CustomerNotFound")
    return web.json_response(public_view(customer))
