"""The pipeline with its ledger: redelivery, publish failures, interrupted creates, poison and replay."""

from __future__ import annotations

import logging
from dataclasses import replace

import pytest

from handlers.domain.failures import ErrorKind, OnboardingError
from handlers.domain.ledger_entry import LedgerEntry
from handlers.domain.partner_center_body import ms_request_id_for
from handlers.onboarding.ledger import Ledger
from handlers.onboarding.pipeline import handle_message
from handlers.onboarding.poison import handle_poison
from tests.fakes import (
    FakeEventSink,
    FakeLedgerRows,
    FakeParking,
    FakePartnerCenter,
    customer_payload,
    dependencies,
    message,
    sample,
)

TAKEN = OnboardingError(ErrorKind.BUSINESS, "taken", http_status=400, code="27100", description="domain already used")
# What the client raises when a create's connection dropped and Partner Center, having forgotten the MS-RequestId,
# refused the retry: the first attempt may have committed.
TAKEN_AFTER_DROP = replace(TAKEN, after_unanswered=True)
TIMEOUT = OnboardingError(ErrorKind.TRANSIENT, "timed out")


class MemoryLedger(Ledger):
    """The real state machine over rows in memory, with the rows at hand for assertions."""

    def __init__(self) -> None:
        self.store = FakeLedgerRows()
        super().__init__(self.store)

    def row(self, request_id: str = "crm-se-0001") -> LedgerEntry:
        return self.store.rows[request_id]


async def test_a_failed_publish_is_retried_without_creating_again() -> None:
    pc, sink, ledger = FakePartnerCenter(), FakeEventSink(), MemoryLedger()
    deps = dependencies(pc, sink, ledger)
    sink.fail_with = OnboardingError(ErrorKind.TRANSIENT, "Event Grid down")
    with pytest.raises(OnboardingError):
        await handle_message(message(sample()), deps)
    stored = ledger.row()
    assert stored.state == "created"  # stored before publishing
    sink.fail_with = None
    outcome = await handle_message(message(sample()), deps)
    assert outcome.kind == "created"
    assert outcome.event.model_dump_json() == stored.event_json  # the stored event, not a new one
    assert len(pc.created) == 1
    assert ledger.row() == stored  # publishing the stored outcome writes nothing


class OutcomesRefused(FakeLedgerRows):
    """Storage that fails at the last write of a request: storing its outcome."""

    def __init__(self) -> None:
        super().__init__()
        self.refuse_outcomes = True

    async def replace(self, entry: LedgerEntry) -> LedgerEntry:
        if entry.outcome is not None and self.refuse_outcomes:
            raise OnboardingError(ErrorKind.TRANSIENT, "storage update failed (HTTP 503)")
        return await super().replace(entry)


async def test_nothing_is_published_until_the_outcome_is_stored_and_the_next_delivery_reports_the_customer() -> None:
    rows, sink, pc = OutcomesRefused(), FakeEventSink(), FakePartnerCenter()
    ledger = Ledger(rows)
    with pytest.raises(OnboardingError) as raised:
        await handle_message(message(sample()), dependencies(pc, sink, ledger))
    assert raised.value.kind is ErrorKind.TRANSIENT
    row = rows.rows["crm-se-0001"]
    assert (row.state, row.customer_id, sink.events) == ("creating", customer_payload().id, [])
    assert (row.owner, row.lease_until) == (None, 0.0)  # released: the next delivery need not wait
    rows.refuse_outcomes = False
    outcome = await handle_message(message(sample()), dependencies(pc, sink, ledger))
    assert outcome.kind == "created" and outcome.event.data.customerId == customer_payload().id  # type: ignore[union-attr]
    assert [what for what, _ in pc.calls].count("create") == 1  # the recorded customer is not created again
    assert rows.rows["crm-se-0001"].state == "created"


async def test_the_ledger_never_holds_the_password() -> None:
    ledger = MemoryLedger()
    await handle_message(message(sample()), dependencies(ledger=ledger))
    assert "Pa55-word" not in repr(ledger.store.rows)


async def test_an_interrupted_create_is_adopted_when_partner_center_says_the_domain_is_taken() -> None:
    ledger, sink = MemoryLedger(), FakeEventSink()
    first = FakePartnerCenter(TIMEOUT)
    with pytest.raises(OnboardingError):
        await handle_message(message(sample()), dependencies(first, sink, ledger))
    second = FakePartnerCenter(TAKEN)
    second.taken_domains.add("wingtiptoysab.onmicrosoft.com")  # the ghost of the first delivery
    second.existing = customer_payload()
    outcome = await handle_message(message(sample()), dependencies(second, sink, ledger))
    assert outcome.kind == "created"
    assert [what for what, _ in second.calls] == ["create", "find"]  # no pre-flight the second time
    assert {rid for _, rid in second.calls} == {ms_request_id_for("crm-se-0001")}


async def test_a_second_delivery_while_the_first_holds_the_lease_backs_off() -> None:
    ledger = MemoryLedger()
    await ledger.claim("crm-se-0001", "x", lease_seconds=60)
    pc = FakePartnerCenter()
    with pytest.raises(OnboardingError) as raised:
        await handle_message(message(sample()), dependencies(pc, ledger=ledger))
    assert raised.value.kind is ErrorKind.TRANSIENT
    assert pc.calls == []


async def test_poison_then_replay_resumes_and_succeeds() -> None:
    ledger, sink = MemoryLedger(), FakeEventSink()
    with pytest.raises(OnboardingError):
        await handle_message(message(sample()), dependencies(FakePartnerCenter(TIMEOUT), sink, ledger))
    await handle_poison(message(sample()), dependencies(FakePartnerCenter(), sink, ledger))
    assert sink.events[-1]["data"]["reason"] == "retries_exhausted"
    row = ledger.row()
    assert (row.state, row.exhausted_from) == ("failed", "creating")
    # the outage is over and the operator replays the poisoned message
    pc = FakePartnerCenter()
    outcome = await handle_message(message(sample()), dependencies(pc, sink, ledger))
    assert outcome.kind == "created"
    assert [what for what, _ in pc.calls] == ["create"]  # resumed at the create, with the same MS-RequestId


async def test_poison_of_a_created_request_publishes_created() -> None:
    ledger, sink = MemoryLedger(), FakeEventSink()
    sink.fail_with = OnboardingError(ErrorKind.TRANSIENT, "Event Grid down")
    with pytest.raises(OnboardingError):
        await handle_message(message(sample()), dependencies(sink=sink, ledger=ledger))
    sink.fail_with = None
    outcome = await handle_poison(message(sample()), dependencies(sink=sink, ledger=ledger))
    assert outcome is not None and outcome.kind == "created"
    assert sink.events[0]["type"] == "csp.onboarding.customer.created"


async def test_a_transient_failure_releases_the_lease_for_the_next_delivery() -> None:
    ledger = MemoryLedger()
    with pytest.raises(OnboardingError):
        await handle_message(message(sample()), dependencies(FakePartnerCenter(TIMEOUT), ledger=ledger))
    assert (ledger.row().owner, ledger.row().lease_until) == (None, 0.0)
    outcome = await handle_message(message(sample()), dependencies(ledger=ledger))
    assert outcome.kind == "created"


async def test_poison_parks_the_message_after_publishing() -> None:
    sink, parking = FakeEventSink(), FakeParking()
    body = message(sample())
    await handle_poison(body, dependencies(sink=sink, parking=parking))
    assert parking.parked == [body]
    assert sink.events[0]["data"]["reason"] == "retries_exhausted"


async def test_the_poison_function_parks_the_message_even_when_it_cannot_report_it(
    caplog: pytest.LogCaptureFixture,
) -> None:
    # The real host gives `-poison` no poison queue and never releases a failed poison message: failing would hide it.
    sink, parking = FakeEventSink(), FakeParking()
    sink.fail_with = OnboardingError(ErrorKind.TRANSIENT, "Event Grid down")
    with caplog.at_level(logging.ERROR, logger="csp_onboarding"):
        outcome = await handle_poison(message(sample()), dependencies(sink=sink, parking=parking))
    assert (outcome, parking.parked) == (None, [message(sample())])
    assert [getattr(r, "alert", None) for r in caplog.records if r.levelno >= logging.ERROR][-1] == "poison_unreported"


async def test_a_ghost_create_in_the_same_invocation_is_adopted() -> None:
    # Partner Center committed the first attempt, dropped the connection, and (not idempotent) refused the retry.
    pc = FakePartnerCenter(TAKEN_AFTER_DROP)
    pc.existing = customer_payload()  # named as the request's company
    outcome = await handle_message(message(sample()), dependencies(pc))
    assert outcome.kind == "created"
    assert outcome.event.data.customerId == pc.existing.id  # type: ignore[union-attr]


async def test_someone_elses_customer_with_the_domain_is_not_adopted() -> None:
    pc = FakePartnerCenter(TAKEN_AFTER_DROP)
    pc.existing = customer_payload()
    pc.existing.companyProfile.companyName = "Another Company Ltd"
    outcome = await handle_message(message(sample()), dependencies(pc))
    assert outcome.event.data.reason == "domain_unavailable"  # type: ignore[union-attr]


async def test_a_customer_search_that_is_refused_reads_as_none_found() -> None:
    class NoSearch(FakePartnerCenter):
        async def find_customer_by_domain(self, domain: str, *, ms_request_id: str) -> None:
            raise OnboardingError(ErrorKind.BUSINESS, "no such route", http_status=404)

    # Our own new tenant may be the one on the domain: without a search, that stays open (transient) for a while.
    with pytest.raises(OnboardingError) as raised:
        await handle_message(message(sample()), dependencies(NoSearch(TAKEN_AFTER_DROP)))
    assert raised.value.kind is ErrorKind.TRANSIENT


AUTH = OnboardingError(ErrorKind.AUTH, "audience retired", http_status=401, code="900420")


async def test_an_unchanged_resend_of_a_final_failure_gets_the_same_answer_without_calls() -> None:
    ledger, sink = MemoryLedger(), FakeEventSink()
    await handle_message(message(sample()), dependencies(FakePartnerCenter(TAKEN), sink, ledger))
    pc = FakePartnerCenter()
    await handle_message(message(sample()), dependencies(pc, sink, ledger))
    assert sink.events[0] == sink.events[1]
    assert pc.calls == []


async def test_a_corrected_resend_with_the_same_request_id_is_onboarded() -> None:
    ledger, sink = MemoryLedger(), FakeEventSink()
    first = await handle_message(message(sample()), dependencies(FakePartnerCenter(TAKEN), sink, ledger))
    assert first.event.data.reason == "domain_unavailable"  # type: ignore[union-attr]
    fixed = sample()
    fixed["customer"]["domainPrefix"] = "wingtiptoys2"  # the CRM user picked another prefix
    outcome = await handle_message(message(fixed), dependencies(FakePartnerCenter(), sink, ledger))
    assert outcome.kind == "created"
    assert ledger.row().attempts == 2


async def test_a_retryable_failure_resent_unchanged_is_tried_again() -> None:
    ledger, sink = MemoryLedger(), FakeEventSink()
    refused = await handle_message(message(sample()), dependencies(FakePartnerCenter(AUTH), sink, ledger))
    assert (refused.event.data.reason, refused.event.data.retryable) == ("not_authorized", True)  # type: ignore[union-attr]
    # the operator fixed the app's permissions; the CRM sends the same request again
    outcome = await handle_message(message(sample()), dependencies(FakePartnerCenter(), sink, ledger))
    assert outcome.kind == "created"
