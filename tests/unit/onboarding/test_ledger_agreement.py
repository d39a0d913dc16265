"""The ledger's MCA attestation step (issue 16), one transition at a time: created with the agreement open, the
attestation claimed and held, decided for good, reopened when retryable, released."""

from __future__ import annotations

import pytest

from handlers.domain.failures import ErrorKind, OnboardingError
from handlers.domain.ledger_entry import Decision, LedgerEntry
from handlers.onboarding.ledger import Ledger
from tests.fakes import FakeLedgerRows
from tests.fakes.ledger import LEASE, claim
from tests.fakes.storage import Clock


async def created_with_agreement(ledger: Ledger) -> LedgerEntry:
    entry = await claim(ledger)
    entry = await ledger.record_customer(entry, customer_id="c-1", customer_json="{}")
    return await ledger.decide(entry, Decision("created", "e-1", "{}", changes={"agreement": "pending"}))


async def test_deciding_created_with_mca_leaves_the_agreement_open(ledger: Ledger) -> None:
    row = await created_with_agreement(ledger)
    assert row.outcome_known and row.agreement == "pending" and row.agreement_open and not row.created_published


async def test_claim_agreement_holds_it_and_records_created_as_published(ledger: Ledger, clock: Clock) -> None:
    held = await ledger.claim_agreement(await created_with_agreement(ledger), lease_seconds=LEASE)
    assert held.owner is not None and held.created_published and ledger.is_held(held)
    with pytest.raises(OnboardingError) as busy:
        await ledger.claim_agreement(held, lease_seconds=LEASE)
    assert busy.value.kind is ErrorKind.TRANSIENT
    clock.now += LEASE + 1  # the holder died: its lease runs out and another delivery takes the attestation
    assert (await ledger.claim_agreement(held, lease_seconds=LEASE)).owner not in (None, held.owner)


async def test_decide_agreement_confirmed_ends_the_step_for_good(ledger: Ledger) -> None:
    held = await ledger.claim_agreement(await created_with_agreement(ledger), lease_seconds=LEASE)
    row = await ledger.decide_agreement(held, confirmed=True, event_json='{"ok":1}')
    assert (row.agreement, row.owner, row.agreement_open) == ("confirmed", None, False)
    assert (await ledger.claim_agreement(row, lease_seconds=LEASE)) is row, "nothing left to claim"


async def test_a_late_failure_never_replaces_a_confirmed_attestation(ledger: Ledger, rows: FakeLedgerRows) -> None:
    held = await ledger.claim_agreement(await created_with_agreement(ledger), lease_seconds=LEASE)
    confirmed = await ledger.decide_agreement(held, confirmed=True, event_json="confirmed")
    late = await ledger.decide_agreement(held, confirmed=False, event_json="failed", retryable=True)
    assert late.agreement == "confirmed" and rows.rows["r-1"].agreement_event_json == "confirmed"
    assert late.etag == confirmed.etag


async def test_a_retryable_agreement_failure_reopens_on_the_next_claim(ledger: Ledger) -> None:
    held = await ledger.claim_agreement(await created_with_agreement(ledger), lease_seconds=LEASE)
    failed = await ledger.decide_agreement(held, confirmed=False, event_json="f", retryable=True)
    assert failed.agreement == "failed" and failed.agreement_open
    again = await ledger.claim_agreement(failed, lease_seconds=LEASE)
    assert (again.agreement, again.agreement_event_json) == ("pending", None) and again.owner is not None
    final = await ledger.decide_agreement(again, confirmed=False, event_json="f2", retryable=False)
    assert not final.agreement_open, "a final failure stays final"


async def test_releasing_an_attestation_hold_frees_it_but_keeps_the_created_outcome(ledger: Ledger) -> None:
    held = await ledger.claim_agreement(await created_with_agreement(ledger), lease_seconds=LEASE)
    await ledger.release(held)
    row = await ledger.read("r-1")
    assert row is not None and row.owner is None and row.outcome == "created" and row.agreement == "pending"
    assert row.created_published
