"""App+User turned on before anyone signed in (issue 24, item 2): the secret has no version yet. That is reported
once, across instances, as a warning ("App+User not signed in yet"), until the first `ops.consent`: no severity-1
alert log, no consent.required event, no failed invocation of the daily refresh; reseller and MCA work fails
not_authorized with what to do, and direct customers are untouched."""

from __future__ import annotations

import logging

import pytest

from handlers.adapters.user_tokens import UserTokens
from handlers.domain.error_codes import APP_USER_NOT_SIGNED_IN_CODE, failure_from_error
from handlers.domain.failures import ErrorKind, OnboardingError
from handlers.domain.request import CustomerRequest, parse_message
from handlers.onboarding.app_user import AppUser, attest_mca, check_app_user_request
from handlers.onboarding.consent import ALERT, ConsentAlarm
from handlers.triggers import refresh_app_user, run_invocation
from tests.fakes import RESELLER, FakeEventSink, FakeNotices, FakeTokenVault, dependencies, message, sample
from tests.fakes.partner_center import FakeAppUserPartnerCenter

MCA = {"primaryContact": {"firstName": "Astrid", "lastName": "Lindqvist", "email": "astrid@wingtiptoys.se"},
       "dateAgreed": "2026-01-15T09:30:00Z"}  # fmt: skip


def parse(data: dict[str, object]) -> CustomerRequest:
    parsed = parse_message(message(data))
    assert isinstance(parsed, CustomerRequest)
    return parsed


def redeem(refresh_token: str) -> dict[str, object]:
    return {"access_token": f"user-access-for-{refresh_token}", "expires_in": 3600, "refresh_token": "rt.rotated"}


def instance(vault: FakeTokenVault, notices: FakeNotices, sink: FakeEventSink) -> UserTokens:
    """One worker's token source, as bootstrap wires it (the alarm's notices shared by every instance)."""
    alarm = ConsentAlarm(notices, sink, source="/tests")
    return UserTokens(vault, "pc-app-user", redeem, on_consent_required=alarm, on_not_signed_in=alarm.not_signed_in)


def alerts(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [r for r in caplog.records if getattr(r, "alert", None) == ALERT or r.levelno >= logging.ERROR]


def told(caplog: pytest.LogCaptureFixture, level: int) -> int:
    return sum(1 for r in caplog.records if r.levelno == level and "App+User not signed in yet" in r.getMessage())


async def test_no_sign_in_yet_is_one_warning_across_instances_and_no_alert(caplog: pytest.LogCaptureFixture) -> None:
    vault, notices, sink = FakeTokenVault(), FakeNotices(), FakeEventSink()
    caplog.set_level(logging.INFO, logger="csp_onboarding")
    first, second = instance(vault, notices, sink), instance(vault, notices, sink)
    for tokens in (first, first, second, second):
        with pytest.raises(OnboardingError) as raised:
            await tokens.get_token()
        assert raised.value.kind is ErrorKind.AUTH and raised.value.code == APP_USER_NOT_SIGNED_IN_CODE
        assert "python -m ops.consent" in str(raised.value)
    assert told(caplog, logging.WARNING) == 1, "one warning, whichever instance meets it first"
    assert told(caplog, logging.INFO) == 1, "the second instance says it at info"
    assert alerts(caplog) == [] and sink.events == [], "no alert, no consent.required"
    failure = failure_from_error(raised.value)
    assert failure.reason.value == "not_authorized" and "ops.consent" in failure.message


async def test_the_daily_refresh_has_nothing_to_do_and_does_not_fail(caplog: pytest.LogCaptureFixture) -> None:
    vault, notices, sink = FakeTokenVault(), FakeNotices(), FakeEventSink()
    deps = dependencies(sink=sink, app_user=AppUser(FakeAppUserPartnerCenter(), instance(vault, notices, sink)))
    for _day in range(3):
        await run_invocation("refresh_app_user_token", refresh_app_user, b"", lambda: deps)
    assert alerts(caplog) == [] and sink.events == []
    vault.add("rt.from-ops-consent")  # the first ops.consent
    await run_invocation("refresh_app_user_token", refresh_app_user, b"", lambda: deps)
    assert vault.values[-1] == "rt.rotated", "redeemed and rotated from then on"


async def test_once_signed_in_a_dead_sign_in_still_sounds_the_alarm(caplog: pytest.LogCaptureFixture) -> None:
    vault, notices, sink = FakeTokenVault("rt.first"), FakeNotices(), FakeEventSink()
    dead = {"error": "invalid_grant", "error_description": "AADSTS50173: revoked", "error_codes": [50173]}
    alarm = ConsentAlarm(notices, sink, source="/tests")
    tokens = UserTokens(vault, "pc-app-user", lambda _: dead, on_consent_required=alarm,
                        on_not_signed_in=alarm.not_signed_in, refusal_memory=0.0)  # fmt: skip
    with pytest.raises(OnboardingError) as raised:
        await tokens.refresh()
    assert raised.value.kind is ErrorKind.CONSENT and [e["data"]["reason"] for e in sink.events] == [
        "refresh_token_revoked"
    ]
    assert any(getattr(r, "alert", None) == ALERT for r in caplog.records)


async def test_the_refresh_timer_with_app_user_off_does_nothing() -> None:
    deps = dependencies()
    await run_invocation("refresh_app_user_token", refresh_app_user, b"", lambda: deps)
    assert deps.app_user is None


@pytest.mark.parametrize("field", ["indirectResellerId", "customer.mcaAcceptance"])
async def test_a_reseller_or_mca_request_names_its_field_as_app_user_off_does(field: str) -> None:
    not_yet = OnboardingError(ErrorKind.AUTH, "App+User is on but not signed in yet", code=APP_USER_NOT_SIGNED_IN_CODE)
    app_user = AppUser(FakeAppUserPartnerCenter(not_yet), instance(FakeTokenVault(), FakeNotices(), FakeEventSink()))
    app_user.partner_center.listing_error = not_yet  # type: ignore[attr-defined]
    data = sample()
    if field == "indirectResellerId":
        data["indirectResellerId"] = RESELLER
    else:
        data["customer"]["mcaAcceptance"] = MCA
    call = (
        check_app_user_request(parse(data), app_user, cloud="public", ms_request_id="m")
        if field == "indirectResellerId"
        else attest_mca(parse(data), app_user, customer_id="c", tenant_id="t", ms_request_id="m")
    )
    with pytest.raises(OnboardingError) as raised:
        await call
    [error] = raised.value.errors
    assert (error.field, error.code) == (field, APP_USER_NOT_SIGNED_IN_CODE) and "ops.consent" in error.message
    assert failure_from_error(raised.value).reason.value == "not_authorized"
