"""POST /api/customer-requests/validate: the whole pre-flight (App+User fields, country rules, domain, address)
through the pipeline's own dependencies; no create, no event."""

from __future__ import annotations

import contextlib
import time

from handlers.domain.budget import VALIDATION_CONCURRENCY, Budget, BudgetRow
from handlers.domain.failures import ErrorKind, OnboardingError
from handlers.domain.payloads import AddressValidation
from handlers.intake.validation import validate_request
from handlers.onboarding.budget import SharedBudget
from tests.fakes import (
    INACTIVE_RESELLER,
    RESELLER,
    FakeAppUserPartnerCenter,
    FakePartnerCenter,
    dependencies,
    fake_app_user,
    message,
    sample,
)
from tests.fakes.budget import FakeBudgetRows
from tests.fakes.intake import JSON, body_of


async def test_validate_runs_the_pre_flight_and_creates_nothing() -> None:
    partner_center = FakePartnerCenter()
    ok = await validate_request(message(sample()), JSON, dependencies(partner_center))
    assert body_of(ok) == {"valid": True, "errors": [], "suggestedAddresses": []}
    assert {what for what, _ in partner_center.calls} == {"rules", "domain", "address"}
    partner_center.taken_domains.add("wingtiptoysab.onmicrosoft.com")
    partner_center.address = AddressValidation(status="StreetPartial", suggestedAddresses=[{"city": "Stockholm"}])
    refused = body_of(await validate_request(message(sample()), JSON, dependencies(partner_center)))
    assert refused["valid"] is False
    assert "customer.domainPrefix" in [e["field"] for e in refused["errors"]]
    broken = sample()
    broken["customer"]["language"] = "swedish"
    invalid = body_of(await validate_request(message(broken), JSON, dependencies(partner_center)))
    assert (invalid["valid"], [e["field"] for e in invalid["errors"]]) == (False, ["customer.language"])
    assert partner_center.created == []


async def test_validate_runs_the_app_user_pre_flight_too() -> None:
    app_user_pc = FakeAppUserPartnerCenter()
    deps = dependencies(FakePartnerCenter(), app_user=fake_app_user(app_user_pc))
    unknown = body_of(
        await validate_request(message({**sample(), "indirectResellerId": INACTIVE_RESELLER}), JSON, deps)
    )
    assert (unknown["valid"], [e["field"] for e in unknown["errors"]]) == (False, ["indirectResellerId"])
    assert "resellers" in app_user_pc.calls and deps.partner_center.created == []  # type: ignore[attr-defined]
    known = body_of(await validate_request(message({**sample(), "indirectResellerId": RESELLER}), JSON, deps))
    assert known["valid"] is True
    off = body_of(await validate_request(message({**sample(), "indirectResellerId": RESELLER}), JSON, dependencies()))
    assert (off["valid"], [e["field"] for e in off["errors"]]) == (False, ["indirectResellerId"])  # App+User is off
    mca = sample()
    mca["customer"]["mcaAcceptance"] = {"primaryContact": {"firstName": "A", "lastName": "L", "email": "a@b.se"},
                                        "dateAgreed": "2026-01-15T09:30:00Z"}  # fmt: skip
    elsewhere = body_of(
        await validate_request(message(mca), JSON, dependencies(app_user=fake_app_user(), cloud="usgov"))
    )
    assert [e["field"] for e in elsewhere["errors"]] == ["customer.mcaAcceptance"]
    app_user_pc.listing_error = OnboardingError(ErrorKind.CONSENT, "the App+User sign-in must be renewed")
    dead = dependencies(FakePartnerCenter(), app_user=fake_app_user(app_user_pc))
    assert (await validate_request(message({**sample(), "indirectResellerId": RESELLER}), JSON, dead)).status == 503


async def test_validate_suggests_addresses_and_says_503_when_partner_center_cannot_answer() -> None:
    partner_center = FakePartnerCenter()
    partner_center.address = AddressValidation(status="StreetPartial", suggestedAddresses=[{"city": "Stockholm"}])
    answer = body_of(await validate_request(message(sample()), JSON, dependencies(partner_center)))
    assert (answer["valid"], answer["suggestedAddresses"]) == (False, [{"city": "Stockholm"}])
    partner_center.preflight_error = OnboardingError(ErrorKind.TRANSIENT, "Partner Center is down")
    down = await validate_request(message(sample()), JSON, dependencies(partner_center))
    assert down.status == 503
    assert (await validate_request(b"not json", JSON, dependencies(partner_center))).status == 400


async def test_validations_above_their_cap_are_answered_429_with_a_retry_after() -> None:
    rows = FakeBudgetRows()
    budget = SharedBudget(rows, Budget(60_000))
    partner_center = FakePartnerCenter(budget=budget)
    deps = dependencies(partner_center, budget=budget)
    with contextlib.ExitStack() as held:
        for _ in range(VALIDATION_CONCURRENCY):  # validations in flight right now
            held.enter_context(budget.validating())
        answer = await validate_request(message(sample()), JSON, deps)
    assert answer.status == 429 and int(answer.headers["Retry-After"]) >= 1
    assert body_of(answer)["errors"][0]["code"] == "too_many_requests" and partner_center.calls == []
    assert (await validate_request(message(sample()), JSON, deps)).status == 200


async def test_a_validation_whose_share_has_no_slot_soon_is_answered_429_not_kept_waiting() -> None:
    rows = FakeBudgetRows()
    now = time.time()  # a flood of validations booked their share far ahead
    rows.row = BudgetRow(validation_tat=now + 60, validation_until=now + 90, etag="W/0")
    budget = SharedBudget(rows, Budget(60_000))
    started = time.monotonic()
    answer = await validate_request(
        message(sample()), JSON, dependencies(FakePartnerCenter(budget=budget), budget=budget)
    )
    assert answer.status == 429 and int(answer.headers["Retry-After"]) >= 45
    assert time.monotonic() - started < 1.0
