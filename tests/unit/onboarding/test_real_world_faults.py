"""Exactly once against faults production has and the first emulator did not: lost storage answers, a lease that
outlived the queue's retries, listing lag after a ghost create, eager adoption, a vault outage after the create,
long Retry-Afters, reused requestIds. Each test names the scenario of issue 13 it covers."""

from __future__ import annotations

import logging
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from handlers.domain.failures import ErrorKind, OnboardingError
from handlers.domain.ledger_entry import LedgerEntry
from handlers.domain.timing import load_timing
from handlers.onboarding.create import same_company
from handlers.onboarding.dependencies import Dependencies
from handlers.onboarding.pipeline import handle_message
from handlers.onboarding.poison import handle_poison
from tests.fakes import (
    TEST_TIMING,
    FakeEventSink,
    FakeLedgerRows,
    FakeParking,
    FakePartnerCenter,
    customer_payload,
    dependencies,
    message,
    sample,
)
from tests.fakes.ledger import ledger_over
from tests.fakes.outbound import failed_ids
from tests.fakes.partner_center import TAKEN, TIMEOUT, LaggingListing
from tests.fakes.storage import FakeVault

ROOT = Path(__file__).resolve().parents[3]


# 1. Lease against retry window; lost storage answers.


def test_1_the_claim_ends_before_the_queue_gives_up_and_the_invocation_before_the_host_kills_it() -> None:
    timing = load_timing(ROOT / "host.json", env={})
    assert timing.lease < timing.retry_window  # a duplicate stuck behind a dead claim still gets a delivery
    assert timing.invocation_timeout < timing.lease  # an invocation can never outlive its own claim
    assert timing.invocation_timeout < timing.function_timeout
    overridden = load_timing(
        ROOT / "host.json", env={"AzureFunctionsJobHost__extensions__queues__visibilityTimeout": "00:00:02"}
    )
    assert overridden.retry_window == 2 * (timing.max_dequeue_count - 1)  # the host's own override mechanism


@pytest.mark.parametrize("lost", ["received", "creating", "customer", "created"])
async def test_1_a_write_committed_but_unanswered_never_strands_the_request(lost: str) -> None:
    rows, sink, pc = FakeLedgerRows(), FakeEventSink(), FakePartnerCenter()
    dropped: set[str] = set()

    def drop_once(entry: LedgerEntry) -> bool:
        key = entry.decided or ("customer" if entry.customer_id else entry.state)
        if key == lost and key not in dropped:
            dropped.add(key)
            return True
        return False

    rows.lose_answer = drop_once
    outcome = await handle_message(message(sample()), dependencies(pc, sink, ledger_over(rows)))
    assert outcome.kind == "created" and dropped == {lost}
    assert [what for what, _ in pc.calls].count("create") == 1


async def test_1_a_failure_while_storing_the_outcome_frees_the_claim_at_once() -> None:
    class DecideFails(FakeLedgerRows):
        async def replace(self, entry: LedgerEntry) -> LedgerEntry:
            if entry.decided is not None:
                raise RuntimeError("a library's surprise")
            return await super().replace(entry)

    rows = DecideFails()
    with pytest.raises(RuntimeError):
        await handle_message(message(sample()), dependencies(ledger=ledger_over(rows)))
    row = rows.rows["crm-se-0001"]
    assert (row.owner, row.lease_until) == (None, 0.0)


# 2. A ghost create, then listing lag.


async def test_2_domain_taken_after_a_ghost_create_stays_transient_until_the_listing_shows_our_tenant() -> None:
    rows, sink, pc = FakeLedgerRows(), FakeEventSink(), LaggingListing(lag=1)
    deps = dependencies(pc, sink, ledger_over(rows))
    with pytest.raises(OnboardingError) as raised:
        await handle_message(message(sample()), deps)
    assert raised.value.kind is ErrorKind.TRANSIENT and sink.events == []  # never domain_unavailable
    outcome = await handle_message(message(sample()), deps)  # the next delivery
    assert outcome.kind == "created" and outcome.event.data.customerId == pc.existing.id  # type: ignore[union-attr]


async def test_2_after_the_window_a_domain_nobody_lists_is_unavailable_and_a_person_is_told(
    caplog: pytest.LogCaptureFixture,
) -> None:
    rows, sink = FakeLedgerRows(), FakeEventSink()
    with pytest.raises(OnboardingError):
        await handle_message(message(sample()), dependencies(LaggingListing(lag=99), sink, ledger_over(rows)))
    row = rows.rows["crm-se-0001"]
    assert row.creating_since is not None
    rows.rows[row.request_id] = replace(row, creating_since=time.time() - TEST_TIMING.listing_lag_window - 1)
    with caplog.at_level(logging.ERROR, logger="csp_onboarding"):
        outcome = await handle_message(message(sample()), dependencies(LaggingListing(lag=99), sink, ledger_over(rows)))
    assert outcome.event.data.reason == "domain_unavailable"  # type: ignore[union-attr]
    # Our create may have made a tenant nobody lists: the operator is alerted to look for it.
    assert [getattr(r, "alert", None) for r in caplog.records].count("possible_orphan_tenant") == 1


async def test_2_a_corrected_resend_after_a_create_went_out_adopts_the_earlier_tenant_instead_of_a_second() -> None:
    rows, sink = FakeLedgerRows(), FakeEventSink()
    with pytest.raises(OnboardingError):  # a create for wingtiptoysab went out; its answer was lost
        await handle_message(message(sample()), dependencies(FakePartnerCenter(TIMEOUT), sink, ledger_over(rows)))
    row = rows.rows["crm-se-0001"]
    rows.rows[row.request_id] = replace(row, state="failed", outcome="failed", event_json="{}", retryable=False)
    fixed = sample()
    fixed["customer"]["domainPrefix"] = "wingtiptoys2"  # the CRM user "fixes" the domain meanwhile
    pc = FakePartnerCenter()
    pc.existing = customer_payload()  # the earlier create did commit, on the old domain
    outcome = await handle_message(message(fixed), dependencies(pc, sink, ledger_over(rows)))
    assert outcome.kind == "created" and "create" not in [what for what, _ in pc.calls]
    assert rows.rows["crm-se-0001"].state == "created"


def test_2_company_names_are_compared_after_unicode_and_white_space_normalisation() -> None:
    assert same_company("Wingtip  Toys\u00a0AB ", "wingtip toys ab")
    assert same_company("Ｗｉｎｇｔｉｐ Toys AB", "Wingtip Toys AB")  # full-width letters (NFKC)
    assert not same_company("", "")  # an empty name matches nothing
    assert not same_company(None, "Wingtip Toys AB")


# 4. Publish only what the row says.


async def test_4_the_poison_path_leaves_a_request_a_live_delivery_holds_to_that_delivery() -> None:
    rows, sink, parking = FakeLedgerRows(), FakeEventSink(), FakeParking()
    ledger = ledger_over(rows)
    await ledger.claim("crm-se-0001", "m", lease_seconds=60)  # a duplicate message is being handled right now
    outcome = await handle_poison(message(sample()), dependencies(sink=sink, ledger=ledger, parking=parking))
    assert (outcome, sink.events, len(parking.parked)) == (None, [], 1)
    assert rows.rows["crm-se-0001"].decided is None  # not overwritten


# 5. Key Vault after the create.


def with_vault(deps: Dependencies, vault: FakeVault) -> Dependencies:
    return replace(deps, vault=vault)


async def test_5_a_vault_outage_through_every_delivery_ends_created_never_failed() -> None:
    rows, sink, vault = FakeLedgerRows(), FakeEventSink(), FakeVault(down=True)
    deps = with_vault(dependencies(FakePartnerCenter(), sink, ledger_over(rows)), vault)
    for _ in range(5):
        with pytest.raises(OnboardingError):
            await handle_message(message(sample()), deps)
    assert rows.rows["crm-se-0001"].customer_id == customer_payload().id  # recorded before the vault
    outcome = await handle_poison(message(sample()), deps)
    assert outcome is not None and outcome.kind == "created"
    assert outcome.event.data.adminCredentialsSecretId is None  # type: ignore[union-attr]
    assert failed_ids(sink) == set()


async def test_5_a_vault_that_comes_back_gets_the_password_and_the_event_its_secret_id() -> None:
    rows, sink, vault = FakeLedgerRows(), FakeEventSink(), FakeVault(down=True)
    pc = FakePartnerCenter()
    deps = with_vault(dependencies(pc, sink, ledger_over(rows)), vault)
    with pytest.raises(OnboardingError):
        await handle_message(message(sample()), deps)
    vault.down = False
    outcome = await handle_message(message(sample()), deps)
    assert outcome.event.data.adminCredentialsSecretId == f"https://vault.test/secrets/{vault.names[0]}"  # type: ignore[union-attr]
    creates = [body for body, _ in pc.created]
    assert len(creates) == 2 and creates[0] == creates[1]  # asked again, for the recorded domain only


async def test_5_a_replay_without_the_password_ends_created_without_a_secret_never_failed() -> None:
    # Partner Center replays a create it remembers, but its answer may lack userCredentials: the password is gone.
    rows, sink, vault = FakeLedgerRows(), FakeEventSink(), FakeVault(down=True)
    pc = FakePartnerCenter(customer_payload(), customer_payload().model_copy(update={"userCredentials": None}))
    deps = with_vault(dependencies(pc, sink, ledger_over(rows)), vault)
    with pytest.raises(OnboardingError):
        await handle_message(message(sample()), deps)
    vault.down = False
    outcome = await handle_message(message(sample()), deps)
    assert outcome.kind == "created" and outcome.event.data.customerId == customer_payload().id  # type: ignore[union-attr]
    assert outcome.event.data.adminCredentialsSecretId is None and vault.names == []  # type: ignore[union-attr]
    assert failed_ids(sink) == set() and len(pc.created) == 2  # the create and its one replay


# 8. A requestId reused with other content after success.


async def test_8_a_reused_request_id_keeps_its_outcome_and_is_logged(caplog: pytest.LogCaptureFixture) -> None:
    rows, sink, pc = FakeLedgerRows(), FakeEventSink(), FakePartnerCenter()
    deps = dependencies(pc, sink, ledger_over(rows))
    first = await handle_message(message(sample()), deps)
    other: dict[str, Any] = sample()
    other["customer"]["domainPrefix"] = "somethingelse"
    with caplog.at_level(logging.WARNING, logger="csp_onboarding"):
        again = await handle_message(message(other), deps)
    assert again.event == first.event and len(pc.created) == 1
    assert any("reused with other content" in r.getMessage() for r in caplog.records)


async def test_8_a_resend_that_changes_only_what_partner_center_never_sees_is_the_same_request() -> None:
    rows, sink = FakeLedgerRows(), FakeEventSink()
    await handle_message(message(sample()), dependencies(FakePartnerCenter(TAKEN), sink, ledger_over(rows)))
    resent = sample()
    resent["correlationId"] = "another-correlation-id"
    pc = FakePartnerCenter()
    await handle_message(message(resent), dependencies(pc, sink, ledger_over(rows)))
    assert pc.calls == []  # the final failure stands: nothing was fixed


async def test_a_request_delivered_again_after_its_row_was_purged_never_makes_a_second_customer() -> None:
    rows, sink, pc = FakeLedgerRows(), FakeEventSink(), FakePartnerCenter()
    ledger = ledger_over(rows)
    await handle_message(message(sample()), dependencies(pc, sink, ledger))
    rows.rows.clear()  # retention deleted the decided row
    pc.taken_domains.add("wingtiptoysab.onmicrosoft.com")  # the customer's own domain, taken by the customer
    outcome = await handle_message(message(sample()), dependencies(pc, sink, ledger))
    assert outcome.event.data.reason == "domain_unavailable"  # type: ignore[union-attr]
    assert len(pc.created) == 1  # a new request now, and still one customer
