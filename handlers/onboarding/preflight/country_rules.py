"""Country rules: Partner Center's market rules (cached per worker) applied to a request."""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import Awaitable, Callable

from handlers.domain.field_errors import FieldError
from handlers.domain.payloads import CountryRules
from handlers.domain.request import CustomerRequest

ADDRESS = "customer.address"


class CountryRulesCache:
    """Rules per country, fetched once per TTL per worker; concurrent misses for one country share one fetch."""

    def __init__(self, ttl_seconds: float = 6 * 3600, clock: Callable[[], float] = time.monotonic) -> None:
        self._ttl = ttl_seconds
        self._clock = clock
        self._entries: dict[str, tuple[float, CountryRules]] = {}
        self._locks: dict[str, asyncio.Lock] = {}

    async def get(self, country: str, fetch: Callable[[], Awaitable[CountryRules]]) -> CountryRules:
        """The cached rules, or fetch them; raises what `fetch` raises."""
        entry = self._entries.get(country)
        if entry is not None and self._clock() < entry[0]:
            return entry[1]
        lock = self._locks.setdefault(country, asyncio.Lock())
        async with lock:
            entry = self._entries.get(country)
            if entry is not None and self._clock() < entry[0]:
                return entry[1]
            rules = await fetch()
            self._entries[country] = (self._clock() + self._ttl, rules)
            return rules


def _matches(pattern: str | None, value: str) -> bool:
    if not pattern:
        return True
    try:
        return re.search(pattern, value) is not None  # anchored patterns match whole values; others anywhere
    except re.error:
        return True  # a pattern Python cannot read is Partner Center's to enforce


def _error(field: str, code: str, rule: str) -> FieldError:
    return FieldError(field=field, code=code, message=f"{field} {rule}.")


def check_country_rules(request: CustomerRequest, rules: CountryRules) -> list[FieldError]:
    """Every rule of the request's country that it breaks (empty when it complies)."""
    customer = request.customer
    address = customer.address
    country = address.country
    errors: list[FieldError] = []
    state = (address.state or "").strip()
    if rules.isStateRequired and not state:
        errors.append(_error(f"{ADDRESS}.state", "required_for_country", f"is required for addresses in {country}"))
    elif state and rules.states and state not in rules.states:
        # Sent as written: a state that matches only when case is ignored would reach Partner Center unlisted.
        listed = next((s for s in rules.states if s.casefold() == state.casefold()), None)
        if listed is not None:
            errors.append(
                _error(f"{ADDRESS}.state", "not_as_listed", f"must be written as Partner Center lists it: {listed}")
            )
        else:
            shown = ", ".join(rules.states[:12]) + (", …" if len(rules.states) > 12 else "")
            errors.append(_error(f"{ADDRESS}.state", "not_in_list", f"must be one of {country}'s states: {shown}"))
    if rules.isCityRequired and not address.city:
        errors.append(_error(f"{ADDRESS}.city", "required_for_country", f"is required for addresses in {country}"))
    postal = (address.postalCode or "").strip()
    if rules.isPostalCodeRequired and not postal:
        errors.append(
            _error(f"{ADDRESS}.postalCode", "required_for_country", f"is required for addresses in {country}")
        )
    elif postal and not _matches(rules.postalCodeRegex, postal):
        errors.append(_error(f"{ADDRESS}.postalCode", "pattern", f"is not a valid postal code in {country}"))
    phone = (address.phoneNumber or "").strip()
    if phone and not _matches(rules.phoneNumberRegex, phone):
        errors.append(_error(f"{ADDRESS}.phoneNumber", "pattern", f"is not a valid phone number for {country}"))
    if rules.supportedCultures and customer.culture.casefold() not in {c.casefold() for c in rules.supportedCultures}:
        errors.append(
            _error(
                "customer.culture",
                "not_supported",
                f"must be one of {', '.join(rules.supportedCultures)} for {country}",
            )
        )
    languages = {lang.casefold() for lang in rules.supportedLanguages}
    if languages and customer.language.casefold() not in languages:
        errors.append(
            _error(
                "customer.language",
                "not_supported",
                f"must be one of {', '.join(rules.supportedLanguages)} for {country}",
            )
        )
    return errors
