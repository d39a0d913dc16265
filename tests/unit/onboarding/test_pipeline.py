"""The pipeline over fakes: which event each path publishes, and what it never does."""

from __future__ import annotations

import json
import logging
from typing import Any

import pytest

from handlers.domain.events import CREATED, FAILED
from handlers.domain.failures import ErrorKind, OnboardingError, Reason
from handlers.domain.partner_center_body import ms_request_id_for
from handlers.observability.redaction import install_redaction, redact
from handlers.onboarding.pipeline import handle_message
from handlers.onboarding.poison import handle_poison
from tests.fakes import (
    ADMIN_PASSWORD,
    RESELLER,
    FakeEventSink,
    FakePartnerCenter,
    dependencies,
    fake_app_user,
    message,
    sample,
)


async def test_a_valid_request_creates_one_customer_and_publishes_created() -> None:
    pc, sink = FakePartnerCenter(), FakeEventSink()
    outcome = await handle_message(message(sample()), dependencies(pc, sink))
    assert outcome.kind == "created"
    [(body, ms_request_id)] = pc.created
    assert ms_request_id == ms_request_id_for("crm-se-0001")
    assert body["companyProfile"]["domain"] == "wingtiptoysab.onmicrosoft.com"
    assert "userCredentials" not in body
    [event] = sink.events
    assert event["type"] == CREATED
    assert event["subject"] == "crmAccounts/ACC-SE-000123"
    assert event["correlationid"] == "b0b6f3c4e1f84c55"
    data = event["data"]
    assert data["customerId"] == data["tenantId"] == "5b1e1a4c-0000-4000-8000-000000000001"
    assert data["commerceId"] == "c0ffee00-0000-4000-8000-000000000002"
    assert data["adminUserPrincipalName"] == "admin@wingtiptoysab.onmicrosoft.com"
    assert data["adminCredentialsSecretId"] is None


async def test_the_admin_password_is_never_published_or_logged(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level("DEBUG")
    sink = FakeEventSink()
    outcome = await handle_message(message(sample()), dependencies(sink=sink))
    assert ADMIN_PASSWORD not in json.dumps(sink.events)
    assert ADMIN_PASSWORD not in caplog.text
    assert ADMIN_PASSWORD not in repr(outcome)


class LeakySink(FakeEventSink):
    """A library that logs the admin password while the invocation that received it still runs."""

    async def publish(self, events: list[dict[str, Any]]) -> None:
        logging.getLogger("some.library").warning("debug dump: %s", ADMIN_PASSWORD)
        await super().publish(events)


async def test_the_admin_password_is_redacted_while_its_invocation_runs_and_then_forgotten(
    caplog: pytest.LogCaptureFixture,
) -> None:
    install_redaction()
    outcome = await handle_message(message(sample()), dependencies(sink=LeakySink()))
    assert outcome.kind == "created"
    assert "debug dump: [redacted]" in caplog.text
    assert ADMIN_PASSWORD not in caplog.text
    # The worker keeps no plaintext password once the invocation is over (nor scans for it in every record).
    assert redact(f"later: {ADMIN_PASSWORD}") == f"later: {ADMIN_PASSWORD}"


async def test_gdap_default_applies_only_when_the_request_does_not_say() -> None:
    pc = FakePartnerCenter()
    data = sample()
    del data["customer"]["enableGdapByDefault"]
    await handle_message(message(data), dependencies(pc))
    await handle_message(message(sample("nl-fietsfabriek")), dependencies(pc))
    assert [body["enableGDAPByDefault"] for body, _ in pc.created] == [True, False]


async def test_registration_number_is_sent_only_where_partner_center_takes_it() -> None:
    pc = FakePartnerCenter()
    swedish = sample()
    swedish["customer"]["organizationRegistrationNumber"] = "556677-8899"
    await handle_message(message(swedish), dependencies(pc))
    await handle_message(message(sample("tr-anadolu-oyuncak")), dependencies(pc))
    assert "organizationRegistrationNumber" not in pc.created[0][0]["companyProfile"]
    assert pc.created[1][0]["companyProfile"]["organizationRegistrationNumber"] == "1234567890"


async def test_indirect_reseller_is_sent_as_associated_partner_id() -> None:
    pc, sink = FakePartnerCenter(), FakeEventSink()
    await handle_message(
        message({**sample(), "indirectResellerId": RESELLER}), dependencies(pc, sink, app_user=fake_app_user())
    )
    assert pc.created[0][0]["associatedPartnerId"] == RESELLER
    assert sink.events[0]["data"]["associatedPartnerId"] == RESELLER


async def test_without_app_user_an_indirect_reseller_is_refused_before_anything_is_created() -> None:
    pc, sink = FakePartnerCenter(), FakeEventSink()
    await handle_message(message({**sample(), "indirectResellerId": RESELLER}), dependencies(pc, sink))
    assert pc.created == [] and sink.events[0]["data"]["reason"] == "not_authorized"
    assert "APP_USER_ENABLED" in sink.events[0]["data"]["message"]


async def test_an_invalid_message_is_answered_and_consumed_without_calls() -> None:
    pc, sink = FakePartnerCenter(), FakeEventSink()
    data = sample()
    data["customer"]["domainPrefix"] = "bad-prefix"
    outcome = await handle_message(message(data), dependencies(pc, sink))
    assert outcome.kind == "failed" and pc.created == []
    [event] = sink.events
    assert event["type"] == FAILED
    assert event["data"]["reason"] == "invalid_request"
    assert event["data"]["retryable"] is False
    assert event["data"]["requestId"] == "crm-se-0001"
    assert event["data"]["errors"][0]["field"] == "customer.domainPrefix"
    assert "suggestedAddresses" not in event["data"]


async def test_garbage_gets_an_unknown_subject_and_a_stable_id() -> None:
    sink = FakeEventSink()
    await handle_message(b"\x00garbage", dependencies(sink=sink))
    await handle_message(b"\x00garbage", dependencies(sink=sink))
    first, second = sink.events
    assert first["subject"] == "crmAccounts/unknown"
    assert first["data"]["requestId"] is None and first["data"]["crmAccountId"] is None
    assert first["id"] == second["id"]


@pytest.mark.parametrize(
    ("error", "reason", "retryable"),
    [
        (
            OnboardingError(ErrorKind.BUSINESS, "no", http_status=400, code="600050"),
            "rejected_by_partner_center",
            False,
        ),
        (
            OnboardingError(ErrorKind.BUSINESS, "later", http_status=400, code="800018", is_retryable=True),
            "rejected_by_partner_center",
            True,
        ),
        (OnboardingError(ErrorKind.AUTH, "audience", http_status=401, code="900420"), "not_authorized", True),
        (
            OnboardingError(ErrorKind.BUSINESS, "taken", http_status=400, code="27100", description="domain in use"),
            "domain_unavailable",
            False,
        ),
    ],
)
async def test_refusals_are_published_and_consumed(error: OnboardingError, reason: str, retryable: bool) -> None:
    sink = FakeEventSink()
    outcome = await handle_message(message(sample()), dependencies(FakePartnerCenter(error), sink))
    assert outcome.kind == "failed"
    data = sink.events[0]["data"]
    assert (data["reason"], data["retryable"]) == (reason, retryable)
    assert data["partnerCenter"]["httpStatus"] == error.http_status
    assert data["partnerCenter"]["code"] == error.code


async def test_transient_errors_raise_so_the_queue_redelivers() -> None:
    sink = FakeEventSink()
    error = OnboardingError(ErrorKind.TRANSIENT, "timed out")
    with pytest.raises(OnboardingError) as raised:
        await handle_message(message(sample()), dependencies(FakePartnerCenter(error), sink))
    assert raised.value.kind is ErrorKind.TRANSIENT
    assert sink.events == []


async def test_a_publish_failure_fails_the_invocation() -> None:
    sink = FakeEventSink()
    sink.fail_with = OnboardingError(ErrorKind.TRANSIENT, "Event Grid down")
    with pytest.raises(OnboardingError):
        await handle_message(message(sample()), dependencies(sink=sink))


async def test_redelivery_publishes_the_same_event_and_creates_nothing() -> None:
    pc, sink = FakePartnerCenter(), FakeEventSink()
    deps = dependencies(pc, sink)
    await handle_message(message(sample()), deps)
    await handle_message(message(sample()), deps)
    assert sink.events[0] == sink.events[1]  # same id, same time, same data
    assert len(pc.created) == 1


async def test_poison_publishes_retries_exhausted() -> None:
    sink = FakeEventSink()
    outcome = await handle_poison(message(sample()), dependencies(sink=sink))
    assert outcome is not None and outcome.kind == "failed"
    data = sink.events[0]["data"]
    assert (data["reason"], data["retryable"], data["requestId"]) == (Reason.RETRIES_EXHAUSTED, True, "crm-se-0001")
    assert sink.events[0]["subject"] == "crmAccounts/ACC-SE-000123"
