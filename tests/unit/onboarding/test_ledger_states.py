"""The ledger's state machine, one transition at a time, over rows in memory and a clock the tests move."""

from __future__ import annotations

from dataclasses import replace

import pytest

from handlers.domain.failures import ErrorKind, OnboardingError
from handlers.domain.ledger_entry import LedgerEntry, sent_names
from handlers.domain.ports import RowChanged
from handlers.onboarding.ledger import Ledger
from tests.fakes import FakeLedgerRows
from tests.fakes.ledger import CREATED, EXHAUSTED, LEASE, claim, failed
from tests.fakes.storage import Clock


async def test_a_new_request_is_claimed_as_received_with_an_owner_and_a_lease(ledger: Ledger, clock: Clock) -> None:
    entry = await claim(ledger)
    assert (entry.state, entry.lease_until, entry.attempts) == ("received", clock.now + LEASE, 1)
    assert entry.owner is not None and entry.etag is not None


async def test_a_claim_while_another_delivery_holds_the_request_is_busy(ledger: Ledger) -> None:
    await claim(ledger)
    with pytest.raises(OnboardingError) as raised:
        await claim(ledger)
    assert raised.value.kind is ErrorKind.TRANSIENT


async def test_a_claim_whose_holder_died_is_taken_over_once_its_lease_ran_out(ledger: Ledger, clock: Clock) -> None:
    first = await claim(ledger)
    clock.now += LEASE + 1
    second = await claim(ledger)
    assert second.owner != first.owner and second.attempts == 2 and second.state == "received"


async def test_received_to_creating_records_the_domain_and_when_a_create_first_went_out(
    ledger: Ledger, clock: Clock
) -> None:
    entry = await ledger.start_create(
        await claim(ledger), domain="a.onmicrosoft.com", checked_hash="h1", company_name="Wingtip Toys AB"
    )
    assert (entry.state, entry.domain, entry.checked_hash, entry.creating_since) == (
        "creating", "a.onmicrosoft.com", "h1", clock.now,
    )  # fmt: skip
    clock.now += 5
    again = await ledger.start_create(
        entry, domain="a.onmicrosoft.com", checked_hash="h1", company_name="Wingtip Toys AB"
    )
    assert again.creating_since == clock.now - 5  # the first create's time is kept


async def test_the_customer_is_recorded_on_the_row(ledger: Ledger) -> None:
    entry = await ledger.start_create(
        await claim(ledger), domain="a.onmicrosoft.com", checked_hash="h1", company_name="Wingtip Toys AB"
    )
    entry = await ledger.record_customer(entry, customer_id="c-1", customer_json='{"customerId": "c-1"}')
    assert (entry.state, entry.customer_id, entry.decided) == ("creating", "c-1", None)


async def test_deciding_created_stores_the_event_and_frees_the_request(ledger: Ledger) -> None:
    row = await ledger.decide(await claim(ledger), CREATED)
    assert (row.state, row.decided, row.event_id, row.owner, row.lease_until) == (
        "created", "created", "ev-created", None, 0.0,
    )  # fmt: skip


async def test_a_created_request_is_returned_as_it_is_whatever_is_sent_again(ledger: Ledger, clock: Clock) -> None:
    row = await ledger.decide(await claim(ledger), CREATED)
    again = await claim(ledger, content="something else")
    assert again == row  # nothing written: the first outcome wins


async def test_a_final_failure_resent_unchanged_keeps_its_answer(ledger: Ledger) -> None:
    row = await ledger.decide(await claim(ledger), failed())
    assert await claim(ledger) == row


async def test_a_failure_resent_with_new_content_reopens_as_received_when_no_create_went_out(ledger: Ledger) -> None:
    await ledger.decide(await claim(ledger), failed())
    reopened = await claim(ledger, content="h2")
    assert (reopened.state, reopened.decided, reopened.request_hash, reopened.attempts) == ("received", None, "h2", 2)


async def test_a_reopened_failure_never_returns_to_received_once_a_create_went_out(ledger: Ledger) -> None:
    entry = await ledger.start_create(
        await claim(ledger), domain="a.onmicrosoft.com", checked_hash="h1", company_name="Wingtip Toys AB"
    )
    await ledger.decide(entry, failed())
    reopened = await claim(ledger, content="h2")
    assert (reopened.state, reopened.domain, reopened.creating_since) == (
        "creating", "a.onmicrosoft.com", entry.creating_since,
    )  # fmt: skip


async def test_a_retryable_failure_resent_unchanged_reopens(ledger: Ledger) -> None:
    await ledger.decide(await claim(ledger), failed(retryable=True))
    assert (await claim(ledger)).decided is None


async def test_the_poison_path_exhausts_an_unheld_request_and_a_replay_resumes_where_it_stopped(
    ledger: Ledger, clock: Clock
) -> None:
    entry = await ledger.start_create(
        await claim(ledger), domain="a.onmicrosoft.com", checked_hash="h1", company_name="Wingtip Toys AB"
    )
    await ledger.release(entry)
    row = await ledger.decide((await ledger.read("r-1")) or entry, EXHAUSTED)
    assert (row.state, row.decided, row.exhausted_from) == ("failed", "exhausted", "creating")
    resumed = await claim(ledger)
    assert (resumed.state, resumed.decided, resumed.exhausted_from) == ("creating", None, None)


async def test_a_weaker_outcome_never_replaces_a_stronger_one(ledger: Ledger) -> None:
    stale = await claim(ledger)
    created = await ledger.decide(stale, CREATED)
    assert await ledger.decide(stale, EXHAUSTED) == created
    assert await ledger.decide(stale, failed()) == created


async def test_created_replaces_an_exhausted_outcome(ledger: Ledger, clock: Clock) -> None:
    stale = await claim(ledger)
    clock.now += LEASE + 1  # the poison path ran after this delivery's lease ran out
    await ledger.decide((await ledger.read("r-1")) or stale, EXHAUSTED)
    row = await ledger.decide(stale, CREATED)
    assert (row.decided, row.exhausted_from) == ("created", None)


async def test_a_failure_never_replaces_a_request_another_delivery_holds(ledger: Ledger) -> None:
    unheld = LedgerEntry("r-1", "m-1")
    held = await claim(ledger)
    row = await ledger.decide(unheld, EXHAUSTED)  # the poison path, racing a live delivery
    assert row == held and row.decided is None


async def test_release_frees_the_request_and_never_raises_when_it_changed(ledger: Ledger, rows: FakeLedgerRows) -> None:
    entry = await claim(ledger)
    await ledger.release(entry)
    freed = rows.rows["r-1"]
    assert (freed.owner, freed.lease_until) == (None, 0.0)
    await ledger.release(entry)  # stale ETag: logged, not raised
    assert rows.rows["r-1"] == freed


async def test_a_claim_whose_answer_was_lost_is_recognised_as_this_deliverys(
    rows: FakeLedgerRows, clock: Clock
) -> None:
    rows.lose_answer = lambda entry: entry.attempts == 1 and entry.state == "received"
    entry = await Ledger(rows, clock=clock).claim("r-1", "m-1", lease_seconds=LEASE)
    assert entry.owner == rows.rows["r-1"].owner and entry.etag == rows.rows["r-1"].etag


async def test_an_outcome_whose_answer_was_lost_is_recognised_as_stored(ledger: Ledger, rows: FakeLedgerRows) -> None:
    entry = await claim(ledger)
    rows.lose_answer = lambda written: written.decided == "created"
    row = await ledger.decide(entry, CREATED)
    assert row.decided == "created" and row.etag == rows.rows["r-1"].etag


async def test_a_lost_answer_over_a_write_someone_else_made_is_a_conflict(ledger: Ledger, rows: FakeLedgerRows) -> None:
    entry = await claim(ledger)
    original = rows.lose_answer

    def lost_and_overwritten(written: LedgerEntry) -> bool:
        rows.lose_answer = original
        rows.rows["r-1"] = replace(written, owner="someone-else", etag="999", write_id="theirs")
        return True

    rows.lose_answer = lost_and_overwritten
    with pytest.raises(OnboardingError):  # busy: never mistaken for our own write
        await ledger.start_create(entry, domain="a.onmicrosoft.com", checked_hash="h1", company_name="Wingtip Toys AB")
    with pytest.raises(RowChanged):
        await rows.replace(entry)


async def test_retention_deletes_decided_rows_past_their_time_and_keeps_the_rest(
    ledger: Ledger, rows: FakeLedgerRows, clock: Clock
) -> None:
    await ledger.decide(await claim(ledger), CREATED)
    await ledger.claim("r-2", "m-2", lease_seconds=LEASE)  # undecided: kept whatever its age
    clock.now += 90 * 86400 + 1
    await ledger.decide(await ledger.claim("r-3", "m-3", lease_seconds=LEASE), failed())  # decided just now: kept
    assert await ledger.purge_decided(older_than_seconds=90 * 86400) == 1
    assert sorted(rows.rows) == ["r-2", "r-3"]


async def test_our_committed_write_answering_412_to_the_clients_own_resend_is_recognised(
    ledger: Ledger, rows: FakeLedgerRows
) -> None:
    # azure-core resends a PUT whose answer was dropped; the resend's If-Match is stale against our own write.
    entry = await claim(ledger)
    original = FakeLedgerRows.replace

    async def commit_then_412(self: FakeLedgerRows, written: LedgerEntry) -> LedgerEntry:
        await original(self, written)
        raise RowChanged(written.request_id)

    rows.replace = commit_then_412.__get__(rows)  # type: ignore[method-assign]
    moved = await ledger.start_create(
        entry, domain="a.onmicrosoft.com", checked_hash="h1", company_name="Wingtip Toys AB"
    )
    assert moved.state == "creating" and moved == rows.rows["r-1"]


async def test_a_create_going_out_is_unknown_until_answered_and_its_company_name_is_kept(ledger: Ledger) -> None:
    entry = await ledger.start_create(
        await claim(ledger), domain="a.onmicrosoft.com", checked_hash="h1", company_name="Wingtip Toys AB"
    )
    entry = await ledger.start_create(entry, domain="a.onmicrosoft.com", checked_hash="h2", company_name="Wingtip AB")
    assert entry.create_unknown is True and sent_names(entry) == ["Wingtip Toys AB", "Wingtip AB"]
    refused = await ledger.decide(entry, replace(failed(), changes={"create_unknown": False}))
    assert refused.create_unknown is False  # Partner Center answered for good: no longer evidence of a ghost


async def test_a_failure_stays_held_while_it_is_published_then_is_released(
    ledger: Ledger, rows: FakeLedgerRows
) -> None:
    row = await ledger.decide(await claim(ledger), failed(retryable=True), hold_seconds=LEASE)
    assert row.decided == "failed" and ledger.is_held(row)
    with pytest.raises(OnboardingError):  # a resend cannot reopen it before its event went out
        await claim(ledger, content="h2")
    await ledger.release(row)
    assert (await claim(ledger, content="h2")).decided is None


async def test_every_reopen_of_a_decided_failure_is_a_new_generation(ledger: Ledger) -> None:
    await ledger.decide(await claim(ledger), failed())
    reopened = await claim(ledger, content="h2")
    await ledger.decide(reopened, failed())
    again = await claim(ledger, content="h3")
    assert (reopened.generation, again.generation) == (1, 2)
