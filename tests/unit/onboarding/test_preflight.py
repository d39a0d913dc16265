"""Pre-flight in the pipeline: each refusal publishes one failed event, and nothing is created."""

from __future__ import annotations

import pytest

from handlers.domain.failures import ErrorKind, OnboardingError
from handlers.domain.partner_center_body import ms_request_id_for
from handlers.domain.payloads import AddressValidation, CountryRules
from handlers.onboarding.pipeline import handle_message
from tests.fakes import FakeEventSink, FakePartnerCenter, dependencies, message, sample


async def run(
    pc: FakePartnerCenter, data: dict[str, object] | None = None, *, validate_address: bool = True
) -> dict[str, object]:
    sink = FakeEventSink()
    await handle_message(message(data or sample()), dependencies(pc, sink, validate_address=validate_address))
    [event] = sink.events
    return event


async def test_all_checks_carry_the_request_id_and_precede_the_create() -> None:
    pc = FakePartnerCenter()
    event = await run(pc)
    assert event["type"] == "csp.onboarding.customer.created"
    assert sorted(what for what, _ in pc.calls[:3]) == ["address", "domain", "rules"]
    assert pc.calls[3][0] == "create"
    assert {rid for _, rid in pc.calls} == {ms_request_id_for("crm-se-0001")}


async def test_a_taken_domain_is_refused_without_create() -> None:
    pc = FakePartnerCenter()
    pc.taken_domains.add("wingtiptoysab.onmicrosoft.com")
    data = (await run(pc))["data"]
    assert data["reason"] == "domain_unavailable"  # type: ignore[index]
    assert data["errors"][0]["field"] == "customer.domainPrefix"  # type: ignore[index]
    assert pc.created == []


@pytest.mark.parametrize("status", ["None", "StreetPartial", "PremisesPartial", "Multiple", "InteractionRequired"])
async def test_an_unverified_address_is_refused_with_suggestions(status: str) -> None:
    pc = FakePartnerCenter()
    suggestion = {"addressLine1": "1 Drottninggatan", "city": "Stockholm", "country": "SE"}
    pc.address = AddressValidation(status=status, suggestedAddresses=[suggestion])
    data = (await run(pc))["data"]
    assert data["reason"] == "address_invalid"  # type: ignore[index]
    assert data["suggestedAddresses"] == [suggestion]  # type: ignore[index]
    assert data["retryable"] is False  # type: ignore[index]
    # Partner Center's status is quoted as its value: a bare "status None" reads like a missing status.
    assert f'validation status "{status}"' in data["errors"][0]["message"]  # type: ignore[index]
    assert pc.created == []


@pytest.mark.parametrize("status", ["VerifiedShippable", "Verified", "NotValidated"])
async def test_verified_or_unchecked_addresses_go_on(status: str, caplog: pytest.LogCaptureFixture) -> None:
    pc = FakePartnerCenter()
    pc.address = AddressValidation(status=status)
    assert (await run(pc))["type"] == "csp.onboarding.customer.created"
    assert ("could not validate" in caplog.text) is (status == "NotValidated")


async def test_address_validation_can_be_turned_off() -> None:
    pc = FakePartnerCenter()
    pc.address = AddressValidation(status="None")
    assert (await run(pc, validate_address=False))["type"] == "csp.onboarding.customer.created"
    assert "address" not in [what for what, _ in pc.calls]


async def test_country_rule_breaks_are_reported_together_with_other_refusals() -> None:
    pc = FakePartnerCenter()
    pc.rules["SE"] = CountryRules(
        isPostalCodeRequired=True,
        postalCodeRegex=r"^\d{3} ?\d{2}$",
        supportedCultures=["sv-SE"],
        supportedLanguages=["sv"],
    )
    pc.taken_domains.add("wingtiptoysab.onmicrosoft.com")
    data = sample()
    data["customer"]["address"]["postalCode"] = "ABC"
    data["customer"]["culture"] = "en-US"
    failed = (await run(pc, data))["data"]
    assert failed["reason"] == "invalid_request"  # type: ignore[index]
    fields = {e["field"]: e["code"] for e in failed["errors"]}  # type: ignore[index]
    assert fields == {
        "customer.address.postalCode": "pattern",
        "customer.culture": "not_supported",
        "customer.domainPrefix": "domain_unavailable",
    }
    assert pc.created == []


async def test_a_country_partner_center_does_not_know_is_an_invalid_request() -> None:
    pc = FakePartnerCenter()
    pc.rules["SE"] = OnboardingError(ErrorKind.BUSINESS, "unknown", http_status=404, code="2013")
    failed = (await run(pc))["data"]
    assert failed["reason"] == "invalid_request"  # type: ignore[index]
    assert failed["errors"][0]["code"] == "country_not_supported"  # type: ignore[index]


async def test_a_transient_pre_flight_failure_is_retried_by_the_queue() -> None:
    pc = FakePartnerCenter()
    pc.preflight_error = OnboardingError(ErrorKind.TRANSIENT, "503")
    with pytest.raises(OnboardingError):
        await handle_message(message(sample()), dependencies(pc))
    assert pc.created == []


async def test_country_rules_are_fetched_once_per_worker() -> None:
    pc = FakePartnerCenter()
    deps = dependencies(pc)
    for tag in ("a", "b", "c"):
        data = sample()
        data["requestId"] = f"r-{tag}"
        await handle_message(message(data), deps)
    assert [what for what, _ in pc.calls].count("rules") == 1


async def test_country_rules_that_cannot_be_had_are_skipped_with_a_warning(caplog: pytest.LogCaptureFixture) -> None:
    pc = FakePartnerCenter()
    pc.rules["SE"] = OnboardingError(ErrorKind.BUSINESS, "no route", http_status=404, code=None)
    assert (await run(pc))["type"] == "csp.onboarding.customer.created"
    assert "Country rules unavailable" in caplog.text
