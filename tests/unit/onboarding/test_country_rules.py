"""Country rules, market by market, with the emulator's realistic rule data."""

from __future__ import annotations

from typing import Any

import pytest

from emulator.country_rules import rules_for
from handlers.domain.payloads import CountryRules
from handlers.domain.request import CustomerRequest, parse_message
from handlers.onboarding.preflight.country_rules import CountryRulesCache, check_country_rules
from tests.fakes import message, sample

# country: a valid address and locale for it
VALID: dict[str, dict[str, Any]] = {
    "US": {"state": "WA", "postalCode": "98052", "culture": "en-US", "language": "en"},
    "CA": {"state": "ON", "postalCode": "K1A 0B1", "culture": "fr-CA", "language": "fr"},
    "GB": {"postalCode": "SW1A 1AA", "culture": "en-GB", "language": "en"},
    "DE": {"postalCode": "10115", "culture": "de-DE", "language": "de"},
    "FR": {"postalCode": "75001", "culture": "fr-FR", "language": "fr"},
    "NL": {"postalCode": "1012 LG", "culture": "nl-NL", "language": "nl"},
    "SE": {"postalCode": "111 51", "culture": "sv-SE", "language": "sv"},
    "NO": {"postalCode": "0150", "culture": "nb-NO", "language": "nb"},
    "TR": {"postalCode": "34433", "culture": "tr-TR", "language": "tr"},
    "BR": {"state": "SP", "postalCode": "01310-100", "culture": "pt-BR", "language": "pt"},
    "IN": {"state": "Karnataka", "postalCode": "560001", "culture": "en-IN", "language": "en"},
    "PL": {"postalCode": "00-950", "culture": "pl-PL", "language": "pl"},
    "ZA": {"postalCode": "2000", "culture": "en-ZA", "language": "en"},
    "AE": {"postalCode": None, "culture": "ar-AE", "language": "ar"},
    "RU": {"postalCode": "101000", "culture": "ru-RU", "language": "ru"},
    "UA": {"postalCode": "01001", "culture": "uk-UA", "language": "uk"},
    "JP": {"postalCode": "100-0001", "culture": "ja-JP", "language": "ja"},
    "AU": {"state": "NSW", "postalCode": "2000", "culture": "en-AU", "language": "en"},
    "CN": {"postalCode": "100000", "culture": "zh-CN", "language": "zh"},
}


def request_for(country: str, **changes: Any) -> CustomerRequest:
    data = sample("tr-anadolu-oyuncak")
    values = {**VALID[country], **changes}
    data["customer"]["culture"] = values.pop("culture")
    data["customer"]["language"] = values.pop("language")
    data["customer"]["address"].update({"country": country, "state": None, **values})
    parsed = parse_message(message(data))
    assert isinstance(parsed, CustomerRequest), parsed
    return parsed


def errors(country: str, **changes: Any) -> dict[str | None, str]:
    rules = CountryRules.model_validate(rules_for(country))
    return {e.field: e.code for e in check_country_rules(request_for(country, **changes), rules)}


@pytest.mark.parametrize("country", sorted(VALID))
def test_a_valid_address_passes(country: str) -> None:
    assert errors(country) == {}


@pytest.mark.parametrize(
    ("country", "changes", "expected"),
    [
        ("US", {"state": None}, {"customer.address.state": "required_for_country"}),
        ("US", {"state": "Washington"}, {"customer.address.state": "not_in_list"}),
        ("US", {"postalCode": "9805"}, {"customer.address.postalCode": "pattern"}),
        ("US", {"postalCode": None}, {"customer.address.postalCode": "required_for_country"}),
        ("CA", {"postalCode": "12345"}, {"customer.address.postalCode": "pattern"}),
        ("GB", {"postalCode": "12345"}, {"customer.address.postalCode": "pattern"}),
        ("NL", {"postalCode": "1012"}, {"customer.address.postalCode": "pattern"}),
        ("SE", {"culture": "en-GB"}, {"customer.culture": "not_supported"}),
        ("TR", {"language": "de"}, {"customer.language": "not_supported"}),
        ("BR", {"state": None}, {"customer.address.state": "required_for_country"}),
        ("IN", {"state": "KA"}, {"customer.address.state": "not_in_list"}),
        ("PL", {"postalCode": "00950"}, {"customer.address.postalCode": "pattern"}),
        ("AU", {"state": "New South Wales"}, {"customer.address.state": "not_in_list"}),
        ("DE", {"phoneNumber": "call me"}, {"customer.address.phoneNumber": "pattern"}),
        ("JP", {"postalCode": "1000001x", "culture": "en-US"}, {
            "customer.address.postalCode": "pattern", "customer.culture": "not_supported"}),
    ],
)  # fmt: skip
def test_each_rule_is_reported(country: str, changes: dict[str, Any], expected: dict[str, str]) -> None:
    assert errors(country, **changes) == expected


def test_states_compare_without_case() -> None:
    assert errors("US", state="wa") == {}  # a two-letter code is upper-cased by the request model: sent as "WA"


@pytest.mark.parametrize(("country", "state", "listed"), [("AU", "nsw", "NSW"), ("IN", "goa", "Goa")])
def test_a_state_listed_in_another_case_is_refused_with_the_listed_spelling(
    country: str, state: str, listed: str
) -> None:
    rules = CountryRules.model_validate(rules_for(country))
    [error] = check_country_rules(request_for(country, state=state), rules)
    assert (error.field, error.code) == ("customer.address.state", "not_as_listed")
    assert error.message.endswith(f"as Partner Center lists it: {listed}.")


def test_markets_without_lists_accept_any_culture() -> None:
    rules = CountryRules.model_validate(rules_for("HU"))
    assert check_country_rules(request_for("DE", culture="hu-HU", language="hu"), rules) == []


async def test_the_cache_expires() -> None:
    now = [0.0]
    cache = CountryRulesCache(ttl_seconds=10, clock=lambda: now[0])
    fetched: list[int] = []

    async def fetch() -> CountryRules:
        fetched.append(1)
        return CountryRules()

    await cache.get("SE", fetch)
    await cache.get("SE", fetch)
    now[0] = 11
    await cache.get("SE", fetch)
    assert len(fetched) == 2
