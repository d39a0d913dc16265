"""App+User in the pipeline (issue 16): reseller pre-flight, the MCA attestation step and its ledger, the poison
path; over fakes and the real in-memory ledger."""

from __future__ import annotations

from typing import Any

import pytest

from handlers.domain.failures import ErrorKind, OnboardingError
from handlers.onboarding.pipeline import handle_message
from handlers.onboarding.poison import handle_poison
from tests.fakes import (
    INACTIVE_RESELLER,
    RESELLER,
    FakeAppUserPartnerCenter,
    FakeEventSink,
    FakePartnerCenter,
    dependencies,
    fake_app_user,
    message,
    sample,
)

MCA = {"primaryContact": {"firstName": "Astrid", "lastName": "Lindqvist", "email": "astrid@wingtiptoys.se"},
       "dateAgreed": "2026-01-15T09:30:00Z"}  # fmt: skip


def with_mca(**extra: Any) -> dict[str, Any]:
    data = sample()
    data["customer"]["mcaAcceptance"] = MCA
    return {**data, **extra}


def types(sink: FakeEventSink) -> list[str]:
    return [e["type"].removeprefix("csp.onboarding.") for e in sink.events]


async def test_mca_is_attested_after_the_create_and_confirmed_once() -> None:
    pc, sink, app_user_pc = FakePartnerCenter(), FakeEventSink(), FakeAppUserPartnerCenter()
    deps = dependencies(pc, sink, app_user=fake_app_user(app_user_pc))
    await handle_message(message(with_mca()), deps)
    assert types(sink) == ["customer.created", "agreement.confirmed"]
    [(customer_id, body, _)] = app_user_pc.agreements
    assert customer_id == sink.events[0]["data"]["customerId"] and body["templateId"] == app_user_pc.template_id
    assert body["dateAgreed"] == "2026-01-15T09:30:00Z" and body["type"] == "MicrosoftCustomerAgreement"
    assert sink.events[1]["data"]["primaryContactEmail"] == "astrid@wingtiptoys.se"
    await handle_message(message(with_mca()), deps)  # a redelivery after success: the same two events again
    assert len(pc.created) == 1 and len(app_user_pc.agreements) == 1
    assert [e["id"] for e in sink.events[2:]] == [e["id"] for e in sink.events[:2]]


async def test_a_transient_attestation_failure_retries_only_the_attestation() -> None:
    transient = OnboardingError(ErrorKind.TRANSIENT, "503")
    pc, sink, app_user_pc = FakePartnerCenter(), FakeEventSink(), FakeAppUserPartnerCenter(transient, False)
    deps = dependencies(pc, sink, app_user=fake_app_user(app_user_pc))
    with pytest.raises(OnboardingError) as raised:
        await handle_message(message(with_mca()), deps)
    assert raised.value.kind is ErrorKind.TRANSIENT, "the transient failure reaches the queue"
    assert types(sink) == ["customer.created"]
    await handle_message(message(with_mca()), deps)  # the redelivery: 600061 (False) counts as attested
    assert types(sink) == ["customer.created", "agreement.confirmed"], "created is not published again"
    assert len(pc.created) == 1


async def test_a_refused_attestation_publishes_agreement_failed_and_the_customer_stays_created() -> None:
    refusal = OnboardingError(ErrorKind.BUSINESS, "bad contact", http_status=400, code="27002")
    sink, app_user_pc = FakeEventSink(), FakeAppUserPartnerCenter(refusal)
    await handle_message(message(with_mca()), dependencies(sink=sink, app_user=fake_app_user(app_user_pc)))
    assert types(sink) == ["customer.created", "agreement.failed"]
    data = sink.events[1]["data"]
    assert data["reason"] == "rejected_by_partner_center" and data["partnerCenter"]["code"] == "27002"


async def test_poison_after_created_reports_agreement_failed_retryable_and_a_replay_attests() -> None:
    transient = OnboardingError(ErrorKind.TRANSIENT, "503")
    sink, app_user_pc = FakeEventSink(), FakeAppUserPartnerCenter(transient, True)
    deps = dependencies(sink=sink, app_user=fake_app_user(app_user_pc))
    body = message(with_mca())
    with pytest.raises(OnboardingError):
        await handle_message(body, deps)
    await handle_poison(body, deps)
    assert types(sink) == ["customer.created", "agreement.failed"]
    assert sink.events[1]["data"]["reason"] == "retries_exhausted" and sink.events[1]["data"]["retryable"]
    await handle_message(body, deps)  # the operator's replay
    assert types(sink)[2:] == ["agreement.confirmed"] and len(app_user_pc.agreements) == 1


async def test_mca_outside_the_public_cloud_is_an_invalid_request_before_any_create() -> None:
    pc, sink = FakePartnerCenter(), FakeEventSink()
    await handle_message(message(with_mca()), dependencies(pc, sink, app_user=fake_app_user(), cloud="china"))
    assert pc.created == [] and sink.events[0]["data"]["errors"][0]["field"] == "customer.mcaAcceptance"


async def test_an_unknown_or_inactive_reseller_is_an_invalid_request_on_its_field() -> None:
    for reseller, code in (("0d3e7c1a-0000-4000-8000-000000000999", "reseller_unknown"),
                           (INACTIVE_RESELLER, "reseller_inactive")):  # fmt: skip
        pc, sink = FakePartnerCenter(), FakeEventSink()
        await handle_message(message({**sample(), "indirectResellerId": reseller}),
                             dependencies(pc, sink, app_user=fake_app_user()))  # fmt: skip
        [error] = sink.events[0]["data"]["errors"]
        assert pc.created == [] and (error["field"], error["code"]) == ("indirectResellerId", code)


async def test_reseller_list_is_cached_and_a_dead_sign_in_fails_not_authorized_retryable() -> None:
    app_user_pc = FakeAppUserPartnerCenter()
    deps = dependencies(app_user=fake_app_user(app_user_pc))
    for n in range(3):
        data = sample()
        data["requestId"] = f"r-{n}"
        await handle_message(message({**data, "indirectResellerId": RESELLER}), deps)
    assert app_user_pc.calls.count("resellers") == 1
    dead = FakeAppUserPartnerCenter()
    dead.listing_error = OnboardingError(ErrorKind.CONSENT, "sign in again: python -m ops.consent")
    sink = FakeEventSink()
    await handle_message(message({**sample(), "indirectResellerId": RESELLER}),
                         dependencies(sink=sink, app_user=fake_app_user(dead)))  # fmt: skip
    data = sink.events[0]["data"]
    assert (data["reason"], data["retryable"]) == ("not_authorized", True) and "ops.consent" in data["message"]


@pytest.mark.parametrize("code", ["800015", "800016"])
async def test_partner_center_reseller_refusals_on_the_create_are_an_invalid_request_on_the_reseller(code: str) -> None:
    refusal = OnboardingError(ErrorKind.BUSINESS, "not a reseller", http_status=400, code=code)
    sink = FakeEventSink()
    await handle_message(message({**sample(), "indirectResellerId": RESELLER}),
                         dependencies(FakePartnerCenter(refusal), sink, app_user=fake_app_user()))  # fmt: skip
    data = sink.events[0]["data"]
    assert data["reason"] == "invalid_request" and data["errors"][0]["field"] == "indirectResellerId"
    assert data["errors"][0]["code"] == f"partner_center_{code}" and data["retryable"] is False
    assert data["partnerCenter"]["code"] == code


async def test_the_mca_template_id_is_fetched_once_per_worker_not_per_request() -> None:
    pc, sink, app_user_pc = FakePartnerCenter(), FakeEventSink(), FakeAppUserPartnerCenter()
    deps = dependencies(pc, sink, app_user=fake_app_user(app_user_pc))
    for n in range(3):
        await handle_message(message(with_mca(requestId=f"crm-mca-{n}")), deps)
    assert types(sink).count("agreement.confirmed") == 3
    assert app_user_pc.calls.count("template") == 1 and app_user_pc.calls.count("agreement") == 3
