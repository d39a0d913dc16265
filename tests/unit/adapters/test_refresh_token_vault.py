"""The App+User secret's versions (issue 21, item 7): which sign-in each version holds; after a successful
redemption, the versions it supersedes are disabled (never the latest, never the one redeemed, never a newer
sign-in), a page or two of the listing at a time, and a failure is logged, not raised."""

from __future__ import annotations

import logging

import pytest
from pydantic import SecretStr

from handlers.adapters.key_vault import StoredSecret
from handlers.adapters.refresh_token_vault import SignIn, SupersededVersions, split_secret_url
from tests.fakes import FakeTokenVault
from tests.fakes.storage import FakeVersion


def stored(version: FakeVersion) -> StoredSecret:
    """A version as a read of the latest one returns it (what a redemption used)."""
    return StoredSecret(SecretStr(version.value), dict(version.tags), version.version, version.created)


def rotation(vault: FakeVersion) -> dict[str, str]:
    """The tags of a rotation of `vault`'s token: its sign-in."""
    return SignIn.of(vault.version, vault.created, vault.tags).tags()


def test_the_secret_url_must_be_version_less() -> None:
    assert split_secret_url("https://kv.vault.azure.net/secrets/pc-app-user") == (
        "https://kv.vault.azure.net",
        "pc-app-user",
    )
    for bad in ("https://kv.vault.azure.net/secrets/pc/0123", "http://kv/secrets/x", "https://kv/keys/x"):
        with pytest.raises(ValueError, match="no version"):
            split_secret_url(bad)


def test_a_version_without_sign_in_tags_is_a_sign_in_of_its_own_and_a_rotation_carries_its_sign_in() -> None:
    vault = FakeTokenVault("rt.consent")
    consent = vault.latest
    assert SignIn.of(consent.version, consent.created, consent.tags) == SignIn(consent.version, consent.created)
    first = vault.add("rt.rotated-1", **rotation(consent))
    second = vault.add("rt.rotated-2", **rotation(first))
    assert SignIn.of(second.version, second.created, second.tags) == SignIn(consent.version, consent.created)
    odd = vault.add("rt.by-hand", signIn="../x", signedInAt="soon")  # tags nobody wrote: a sign-in of its own
    assert SignIn.of(odd.version, odd.created, odd.tags) == SignIn(odd.version, odd.created)


async def test_what_a_redemption_supersedes_is_disabled_never_the_version_redeemed_nor_the_latest() -> None:
    vault = FakeTokenVault("rt.legacy-1", "rt.legacy-2")  # written before sign-ins were tagged
    consent = vault.add("rt.consent", writtenBy="ops.consent")
    redeemed = vault.add("rt.rotated-1", **rotation(consent))
    vault.add("rt.rotated-2", **rotation(redeemed))  # its rotation, now the latest
    await SupersededVersions(vault, "rt").retire(stored(redeemed))
    assert vault.enabled() == ["rt.rotated-1", "rt.rotated-2"] and vault.disabled_latest == []
    assert vault.pages_listed == 1


async def test_a_newer_sign_in_written_before_the_version_redeemed_is_kept_and_reported(
    caplog: pytest.LogCaptureFixture,
) -> None:
    # The one-call window between the check and the write (user_tokens._keep): a consent landed in it, and the
    # older sign-in's rotation was written on top. Redeeming that rotation must not disable the consent.
    vault = FakeTokenVault("rt.old-sign-in")
    old = vault.latest
    consent = vault.add("rt.new-consent", writtenBy="ops.consent")
    buried_over = vault.add("rt.old-rotated", **rotation(old))
    with caplog.at_level(logging.WARNING, logger="csp_onboarding"):
        await SupersededVersions(vault, "rt").retire(stored(buried_over))
    assert vault.enabled() == ["rt.new-consent", "rt.old-rotated"]
    assert consent.version in caplog.text and "ops.consent" in caplog.text


async def test_a_version_of_the_same_second_is_not_taken_for_an_older_one() -> None:
    vault = FakeTokenVault("rt.consent-a")
    vault.clock_stopped = True  # Key Vault's `created` is in whole seconds
    vault.add("rt.consent-b")
    redeemed = vault.add("rt.rotated", **rotation(vault.latest))
    await SupersededVersions(vault, "rt").retire(stored(redeemed))
    assert vault.enabled() == ["rt.consent-a", "rt.consent-b", "rt.rotated"], "left for a later sweep"


async def test_the_listing_is_read_two_pages_a_redemption_resuming_where_the_last_stopped() -> None:
    vault = FakeTokenVault(*(f"rt.old-{n}" for n in range(60)), page_size=25)
    superseded = SupersededVersions(vault, "rt")
    redeemed = vault.latest
    await superseded.retire(stored(redeemed))
    assert vault.pages_listed == 2 and 10 <= len(vault.enabled()) < 60
    await superseded.retire(stored(redeemed))  # the third page, the last
    assert vault.pages_listed == 3 and vault.enabled() == ["rt.old-59"]
    await superseded.retire(stored(redeemed))  # from the first page again
    assert vault.pages_listed == 5


async def test_the_version_redeemed_before_is_disabled_without_waiting_for_the_listing() -> None:
    vault = FakeTokenVault(*(f"rt.old-{n}" for n in range(40)), page_size=1)
    superseded = SupersededVersions(vault, "rt", pages=1)
    before = vault.latest
    await superseded.retire(stored(before))
    now = vault.add("rt.rotated", **rotation(before))
    await superseded.retire(stored(now))
    assert vault.pages_listed == 2 and not before.enabled


async def test_a_failure_is_logged_not_raised_and_the_next_sweep_starts_over(
    caplog: pytest.LogCaptureFixture,
) -> None:
    vault = FakeTokenVault(*(f"rt.old-{n}" for n in range(60)), page_size=25)
    superseded, redeemed = SupersededVersions(vault, "rt"), stored(vault.latest)
    await superseded.retire(redeemed)
    vault.failing = {"disable"}
    with caplog.at_level(logging.WARNING, logger="csp_onboarding"):
        await superseded.retire(redeemed)
    assert "could not be disabled" in caplog.text and "rt.old" not in caplog.text
    vault.failing = {"list"}
    await superseded.retire(redeemed)
    vault.failing = set()
    for _ in range(2):  # pages 1 and 2 again, then the third
        await superseded.retire(redeemed)
    assert vault.enabled() == ["rt.old-59"] and vault.disabled_latest == []
