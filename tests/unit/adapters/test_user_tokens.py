"""The App+User token source (issue 16): redemption through a scripted MSAL answer, rotation written back to the
vault (issue 21: only while the version redeemed is still the latest), per-worker caching, dead sign-ins → CONSENT +
one consent.required an hour; no token in any error."""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Callable
from typing import Any

import pytest
from pydantic import SecretStr

from handlers.adapters.user_tokens import UserTokens
from handlers.domain.error_codes import failure_from_error
from handlers.domain.failures import ErrorKind, OnboardingError
from handlers.onboarding.consent import ConsentAlarm
from tests.fakes import FakeEventSink, FakeNotices, FakeTokenVault

FIRST = "rt.first-refresh-token-value"


class Entra:
    """Answers redemptions like Entra: each with a new refresh token (unless `rotate` is off), or the scripted
    error; `during` runs while Entra is being asked (what happens elsewhere in the meantime)."""

    def __init__(self) -> None:
        self.redeemed: list[str] = []
        self.error: dict[str, Any] | None = None
        self.rotate = True
        self.during: Callable[[], object] = lambda: None
        self.rotated_from: dict[str, str] = {}  # a rotated refresh token → the one redeemed for it

    def __call__(self, refresh_token: str) -> dict[str, Any]:
        self.redeemed.append(refresh_token)
        self.during()
        if self.error is not None:
            return self.error
        n = len(self.redeemed)
        self.rotated_from[f"rt.rotated-{n}"] = refresh_token
        answer = {"access_token": f"user-access-{n}", "expires_in": 3600, "refresh_token": f"rt.rotated-{n}"}
        return answer if self.rotate else {k: v for k, v in answer.items() if k != "refresh_token"}


def source(vault: FakeTokenVault, entra: Entra, sink: FakeEventSink, rows: FakeNotices | None = None) -> UserTokens:
    alarm = ConsentAlarm(rows or FakeNotices(), sink, source="/tests")
    return UserTokens(vault, "pc-app-user", entra, on_consent_required=alarm, refusal_memory=0.0)


async def test_redemption_rotates_the_token_into_the_vault_and_caches_the_access_token() -> None:
    vault, entra, sink = FakeTokenVault(FIRST), Entra(), FakeEventSink()
    tokens = source(vault, entra, sink)
    assert await asyncio.gather(*(tokens.get_token() for _ in range(5))) == ["user-access-1"] * 5
    assert entra.redeemed == [FIRST] and vault.values == [FIRST, "rt.rotated-1"]
    await tokens.refresh()  # the daily timer redeems the latest version and keeps its successor
    assert entra.redeemed[-1] == "rt.rotated-1" and vault.values[-1] == "rt.rotated-2"
    assert sink.events == []


async def test_instances_redeeming_at_once_both_succeed_and_only_the_first_rotation_is_written() -> None:
    # Entra keeps earlier refresh tokens valid after a rotation, so two instances redeeming the same version at the
    # same moment both succeed; the first to finish writes its successor, the second finds the version it redeemed
    # no longer the latest and writes nothing over it. The next redemption reads the latest.
    vault, entra, sink, rows = FakeTokenVault(FIRST), Entra(), FakeEventSink(), FakeNotices()
    first, second = source(vault, entra, sink, rows), source(vault, entra, sink, rows)
    assert sorted(await asyncio.gather(first.get_token(), second.get_token())) == ["user-access-1", "user-access-2"]
    assert entra.redeemed == [FIRST, FIRST] and len(vault.values) == 2
    assert vault.values[1] in ("rt.rotated-1", "rt.rotated-2")
    await source(vault, entra, sink, rows).get_token()  # a third instance, later: the latest version
    assert entra.redeemed[-1] == vault.values[1] and sink.events == []


async def test_a_consent_stored_while_a_redemption_runs_stays_the_latest_version(
    caplog: pytest.LogCaptureFixture,
) -> None:
    # Finding 7a: the redemption reads the old sign-in, ops.consent stores a new one while Entra answers; writing
    # the old sign-in's rotation after that would make it the latest version and lose the new consent.
    vault, entra, sink = FakeTokenVault(FIRST), Entra(), FakeEventSink()
    tokens = source(vault, entra, sink)
    entra.during = lambda: vault.add("rt.new-consent", writtenBy="ops.consent")
    with caplog.at_level(logging.INFO, logger="csp_onboarding"):
        assert await tokens.get_token() == "user-access-1"  # the old sign-in still answered: the token is good
    assert vault.values == [FIRST, "rt.new-consent"], "the old sign-in's rotation is not written over the consent"
    assert "newer version" in caplog.text and "rt." not in caplog.text
    entra.during = lambda: None
    await tokens.refresh()
    assert entra.redeemed[-1] == "rt.new-consent" and vault.values[-1] == "rt.rotated-2"


async def test_no_rotation_is_written_when_the_latest_version_cannot_be_checked() -> None:
    vault, entra = FakeTokenVault(FIRST), Entra()
    tokens = source(vault, entra, FakeEventSink())
    entra.during = lambda: vault.failing.add("get")
    assert await tokens.get_token() == "user-access-1"
    assert vault.values == [FIRST], "unknown is not the same: the token used stays valid, the next redemption rotates"


async def test_superseded_versions_are_disabled_once_a_newer_one_is_redeemed_never_the_latest() -> None:
    # Finding 7b: each superseded version stayed a readable, valid refresh token for up to 90 days.
    vault, entra, sink = FakeTokenVault("rt.older-sign-in", FIRST), Entra(), FakeEventSink()
    tokens = source(vault, entra, sink)
    await tokens.get_token()  # FIRST redeemed: the older sign-in is superseded; FIRST itself is still the one used
    assert vault.enabled() == [FIRST, "rt.rotated-1"]
    await tokens.refresh()  # its rotation redeemed: FIRST is superseded too
    assert vault.enabled() == ["rt.rotated-1", "rt.rotated-2"] and vault.disabled_latest == []
    entra.error = {"error": "invalid_grant", "error_codes": [50173]}
    with pytest.raises(OnboardingError):
        await tokens.refresh()
    assert vault.enabled() == ["rt.rotated-1", "rt.rotated-2"], "a refused redemption supersedes nothing"


async def test_a_consent_landing_between_the_check_and_the_write_is_never_disabled(
    caplog: pytest.LogCaptureFixture,
) -> None:
    # Key Vault has no conditional write: a consent can land in the one call between the check and the write, under
    # the older sign-in's rotation. Redeeming that rotation later must not disable the consent.
    vault, entra = FakeTokenVault(FIRST), Entra()
    tokens = source(vault, entra, FakeEventSink())

    def consent_just_before_the_write() -> None:  # once
        vault.before_write = lambda: None
        vault.add("rt.new-consent")

    vault.before_write = consent_just_before_the_write
    await tokens.get_token()
    assert vault.values == [FIRST, "rt.new-consent", "rt.rotated-1"]
    with caplog.at_level(logging.WARNING, logger="csp_onboarding"):
        await tokens.refresh()
    assert vault.enabled() == ["rt.new-consent", "rt.rotated-1", "rt.rotated-2"]
    assert "newer" in caplog.text


async def test_instances_and_consents_in_any_order_never_disable_the_latest_nor_lose_the_newest_sign_in() -> None:
    rng, vault, entra, sink = random.Random(21), FakeTokenVault(FIRST, page_size=3), Entra(), FakeEventSink()
    loop, consents = asyncio.get_running_loop(), [FIRST]

    def sometimes_a_consent() -> None:  # ops.consent, while some instance waits for Entra
        if rng.random() < 0.3:
            consents.append(f"rt.consent-{len(consents)}")
            loop.call_soon_threadsafe(vault.add, consents[-1])

    def sign_in_of_latest() -> str:  # as Entra knows it: the token the latest version's descends from
        token = vault.latest.value
        while token in entra.rotated_from:
            token = entra.rotated_from[token]
        return token

    entra.during = sometimes_a_consent
    instances = [source(vault, entra, sink) for _ in range(3)]
    for _ in range(25):
        await asyncio.gather(*(i.refresh() for i in rng.sample(instances, rng.randint(1, 3))))
        assert vault.latest.enabled and vault.disabled_latest == []
        assert sign_in_of_latest() == consents[-1], "the newest sign-in is the latest version's"
    entra.during = lambda: None
    for _ in range(30):  # one instance from now on: the listing goes round, and only what it still uses stays
        await instances[0].refresh()
    assert vault.enabled() == vault.values[-2:] and sink.events == []


async def test_a_device_code_sign_in_is_redeemed_and_kept_as_a_public_clients() -> None:
    # Entra refuses the app's credential on a public client's refresh token (AADSTS700025): the secret's tag decides.
    vault, confidential, public, sink = (
        FakeTokenVault(FIRST, tags={"client": "public"}),
        Entra(),
        Entra(),
        FakeEventSink(),
    )
    alarm = ConsentAlarm(FakeNotices(), sink, source="/tests")
    tokens = UserTokens(vault, "pc-app-user", confidential, on_consent_required=alarm, redeem_public=public)
    assert await tokens.get_token() == "user-access-1"
    assert (confidential.redeemed, public.redeemed) == ([], [FIRST])
    assert vault.latest.tags["client"] == "public"  # its successor, a public client's too
    await tokens.refresh()
    assert public.redeemed == [FIRST, "rt.rotated-1"] and confidential.redeemed == []
    vault.add("rt.from-the-browser", purpose="partner-center-app-user")  # a new consent, auth-code flow: no tag
    await tokens.refresh()
    assert confidential.redeemed == ["rt.from-the-browser"] and "client" not in vault.latest.tags


MISMATCH = {"error": "invalid_client", "error_description": "AADSTS700025: Client is public", "error_codes": [700025]}


async def test_an_untagged_public_clients_token_is_redeemed_as_one_and_tagged_from_then_on() -> None:
    vault, confidential, public, sink = FakeTokenVault(FIRST), Entra(), Entra(), FakeEventSink()
    confidential.error = MISMATCH  # written by hand, or before ops.consent tagged device-code sign-ins
    alarm = ConsentAlarm(FakeNotices(), sink, source="/tests")
    tokens = UserTokens(vault, "pc-app-user", confidential, on_consent_required=alarm, redeem_public=public)
    assert await tokens.get_token() == "user-access-1"
    assert (confidential.redeemed, public.redeemed) == ([FIRST], [FIRST]) and sink.events == []
    assert vault.latest.tags["client"] == "public"


async def test_a_token_redeemed_as_the_other_kind_is_retagged_even_when_entra_does_not_rotate_it() -> None:
    vault, confidential, public, sink = FakeTokenVault(FIRST), Entra(), Entra(), FakeEventSink()
    confidential.error, public.rotate = MISMATCH, False
    alarm = ConsentAlarm(FakeNotices(), sink, source="/tests")
    tokens = UserTokens(vault, "pc-app-user", confidential, on_consent_required=alarm, redeem_public=public)
    assert await tokens.get_token() == "user-access-1"
    assert vault.values[-1] == FIRST and vault.latest.tags["client"] == "public"  # the same token, its new tag


async def test_a_mismatch_is_reported_as_one_whatever_the_other_kind_answers() -> None:
    vault, confidential, public, sink = (
        FakeTokenVault(FIRST, tags={"client": "public"}),
        Entra(),
        Entra(),
        FakeEventSink(),
    )
    public.error = {"error": "invalid_client", "error_description": "AADSTS7000218: needs a credential",
                    "error_codes": [7000218]}  # fmt: skip  # public client flows turned off since the sign-in
    confidential.error = {"error": "invalid_grant", "error_description": "AADSTS9002313: bad", "error_codes": [9002313]}
    alarm = ConsentAlarm(FakeNotices(), sink, source="/tests")
    tokens = UserTokens(vault, "pc-app-user", confidential, on_consent_required=alarm, redeem_public=public)
    with pytest.raises(OnboardingError):
        await tokens.get_token()
    assert [e["data"]["reason"] for e in sink.events] == ["sign_in_client_mismatch"]


async def test_a_token_neither_kind_of_client_can_redeem_needs_a_new_sign_in_and_is_not_redeemed_again() -> None:
    vault, confidential, public, sink = FakeTokenVault(FIRST), Entra(), Entra(), FakeEventSink()
    confidential.error = MISMATCH
    public.error = {"error": "invalid_client", "error_description": "AADSTS7000218: needs a credential",
                    "error_codes": [7000218]}  # fmt: skip
    alarm = ConsentAlarm(FakeNotices(), sink, source="/tests")
    tokens = UserTokens(vault, "pc-app-user", confidential, on_consent_required=alarm, redeem_public=public)
    for _ in range(3):
        with pytest.raises(OnboardingError) as raised:
            await tokens.get_token()
        assert raised.value.kind is ErrorKind.CONSENT and FIRST not in str(raised.value)
    assert len(confidential.redeemed) + len(public.redeemed) == 2  # one try each way, then remembered as dead
    [event] = sink.events
    assert event["data"]["reason"] == "sign_in_client_mismatch"


@pytest.mark.parametrize(
    ("codes", "reason"),
    [([700082], "refresh_token_expired"), ([50076], "mfa_required"), ([50078], "mfa_required"),
     ([50173], "refresh_token_revoked"), ([9002313], "refresh_token_revoked")],
)  # fmt: skip
async def test_a_dead_refresh_token_raises_consent_and_publishes_one_event_an_hour(
    codes: list[int], reason: str
) -> None:
    vault, entra, sink, rows = FakeTokenVault(FIRST), Entra(), FakeEventSink(), FakeNotices()
    entra.error = {"error": "invalid_grant", "error_description": f"AADSTS{codes[0]}: dead", "error_codes": codes}
    for _instance in range(2):  # two instances, one shared notice store
        tokens = source(vault, entra, sink, rows)
        for _ in range(2):
            with pytest.raises(OnboardingError) as raised:
                await tokens.get_token()
            assert raised.value.kind is ErrorKind.CONSENT and FIRST not in str(raised.value)
    [event] = sink.events
    assert event["type"] == "csp.onboarding.consent.required" and event["data"]["reason"] == reason
    assert "ops.consent" in event["data"]["message"]
    failure = failure_from_error(raised.value)
    assert (failure.reason.value, failure.retryable) == ("not_authorized", True)


async def test_an_empty_refresh_token_in_the_vault_is_consent_required() -> None:
    # A version whose value is empty was written (and emptied) by someone: a sign-in to repair, not one to come.
    sink = FakeEventSink()
    with pytest.raises(OnboardingError) as raised:
        await source(FakeTokenVault(""), Entra(), sink).get_token()
    assert raised.value.kind is ErrorKind.CONSENT
    assert sink.events[0]["data"]["reason"] == "refresh_token_missing"


async def test_a_vault_write_failure_keeps_the_access_token() -> None:
    class ReadOnlyVault(FakeTokenVault):
        async def set_secret(self, name: str, value: SecretStr, **_: Any) -> str:
            raise OnboardingError(ErrorKind.TRANSIENT, "vault busy")

    vault, entra = ReadOnlyVault(FIRST), Entra()
    assert await source(vault, entra, FakeEventSink()).get_token() == "user-access-1"
    assert vault.values == [FIRST], "the used token stays valid: Entra revokes none on rotation"


async def test_a_dead_sign_in_is_remembered_until_a_new_consent_reaches_the_vault() -> None:
    vault, entra, sink = FakeTokenVault(FIRST), Entra(), FakeEventSink()
    tokens = UserTokens(vault, "pc-app-user", entra, on_consent_required=ConsentAlarm(FakeNotices(), sink, source="/t"))
    entra.error = {"error": "invalid_grant", "error_codes": [50173]}
    for _ in range(3):
        with pytest.raises(OnboardingError):
            await tokens.get_token()
    assert entra.redeemed == [FIRST], "the same dead token is not sent to Entra again"
    entra.error = None
    vault.add("rt.after-ops-consent")  # the operator's new sign-in
    assert await tokens.get_token() == "user-access-2"
    assert entra.redeemed[-1] == "rt.after-ops-consent"
