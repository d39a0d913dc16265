"""The pipeline with its ledger: redelivery, publish failures, interrupted creates, poison and replay."""

from __future__ import annotations

from dataclasses import replace

import pytest

from handlers.adapters.ledger import InMemoryLedger, LedgerEntry
from handlers.create import ms_request_id_for
from handlers.failures import ErrorKind, OnboardingError
from handlers.pipeline import handle_message, handle_poison
from tests.fakes import FakeEventSink, FakeParking, FakePartnerCenter, customer_payload, dependencies, message, sample

TAKEN = OnboardingError(ErrorKind.BUSINESS, "taken", http_status=400, code="27100", description="domain already used")
TIMEOUT = OnboardingError(ErrorKind.TRANSIENT, "timed out")


async def test_a_failed_publish_is_retried_without_creating_again() -> None:
    pc, sink, ledger = FakePartnerCenter(), FakeEventSink(), InMemoryLedger()
    deps = dependencies(pc, sink, ledger)
    sink.fail_with = OnboardingError(ErrorKind.TRANSIENT, "Event Grid down")
    with pytest.raises(OnboardingError):
        await handle_message(message(sample()), deps)
    state_after_failed_publish = ledger.rows["crm-se-0001"].state
    assert state_after_failed_publish == "created"
    stored = ledger.rows["crm-se-0001"]
    sink.fail_with = None
    outcome = await handle_message(message(sample()), deps)
    assert outcome.kind == "created"
    assert outcome.event.model_dump_json() == stored.event_json  # the stored event, not a new one
    assert len(pc.created) == 1
    assert ledger.rows["crm-se-0001"] == stored  # publishing the stored outcome writes nothing


class OutcomeStoreDown(InMemoryLedger):
    """Storage that fails at the last write of a request: storing its outcome."""

    def __init__(self) -> None:
        super().__init__()
        self.refuse_outcomes = True

    async def _replace(self, entry: LedgerEntry) -> LedgerEntry:
        if entry.outcome is not None and self.refuse_outcomes:
            raise OnboardingError(ErrorKind.TRANSIENT, "ledger update failed: ServiceResponseError")
        return await super()._replace(entry)


async def test_an_outcome_published_but_not_stored_is_created_again_idempotently_with_the_same_event_id() -> None:
    ledger, sink, pc = OutcomeStoreDown(), FakeEventSink(), FakePartnerCenter()
    with pytest.raises(OnboardingError) as raised:
        await handle_message(message(sample()), dependencies(pc, sink, ledger))  # published while the store failed
    assert raised.value.kind is ErrorKind.TRANSIENT
    row = ledger.rows["crm-se-0001"]
    assert (row.state, len(sink.events)) == ("creating", 1)
    ledger.refuse_outcomes = False
    ledger.rows["crm-se-0001"] = replace(row, lease_until=0.0)  # the lease ran out
    outcome = await handle_message(message(sample()), dependencies(pc, sink, ledger))
    assert [e["id"] for e in sink.events] == [outcome.event.id] * 2  # the same event, which subscribers drop
    kinds = [what for what, _ in pc.calls]
    assert sorted(kinds[:3]) == ["address", "domain", "rules"] and kinds[3:] == ["create", "create"]  # one pre-flight
    assert {rid for _, rid in pc.calls} == {ms_request_id_for("crm-se-0001")}
    assert ledger.rows["crm-se-0001"].state == "created"


async def test_the_ledger_never_holds_the_password() -> None:
    ledger = InMemoryLedger()
    await handle_message(message(sample()), dependencies(ledger=ledger))
    assert "Pa55-word" not in repr(ledger.rows)


async def test_an_interrupted_create_is_adopted_when_partner_center_says_the_domain_is_taken() -> None:
    ledger, sink = InMemoryLedger(), FakeEventSink()
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
    ledger = InMemoryLedger()
    await ledger.claim("crm-se-0001", "x", lease_seconds=60)
    pc = FakePartnerCenter()
    with pytest.raises(OnboardingError) as raised:
        await handle_message(message(sample()), dependencies(pc, ledger=ledger))
    assert raised.value.kind is ErrorKind.TRANSIENT
    assert pc.calls == []


async def test_poison_then_replay_resumes_and_succeeds() -> None:
    ledger, sink = InMemoryLedger(), FakeEventSink()
    with pytest.raises(OnboardingError):
        await handle_message(message(sample()), dependencies(FakePartnerCenter(TIMEOUT), sink, ledger))
    await handle_poison(message(sample()), dependencies(FakePartnerCenter(), sink, ledger))
    assert sink.events[-1]["data"]["reason"] == "retries_exhausted"
    row = ledger.rows["crm-se-0001"]
    assert (row.state, row.exhausted_from) == ("failed", "creating")
    # the outage is over and the operator replays the poisoned message
    pc = FakePartnerCenter()
    outcome = await handle_message(message(sample()), dependencies(pc, sink, ledger))
    assert outcome.kind == "created"
    assert [what for what, _ in pc.calls] == ["create"]  # resumed at the create, with the same MS-RequestId


async def test_poison_of_a_created_request_publishes_created() -> None:
    ledger, sink = InMemoryLedger(), FakeEventSink()
    sink.fail_with = OnboardingError(ErrorKind.TRANSIENT, "Event Grid down")
    with pytest.raises(OnboardingError):
        await handle_message(message(sample()), dependencies(sink=sink, ledger=ledger))
    sink.fail_with = None
    outcome = await handle_poison(message(sample()), dependencies(sink=sink, ledger=ledger))
    assert outcome.kind == "created"
    assert sink.events[0]["type"] == "csp.onboarding.customer.created"


async def test_a_transient_failure_releases_the_lease_for_the_next_delivery() -> None:
    ledger = InMemoryLedger()
    with pytest.raises(OnboardingError):
        await handle_message(message(sample()), dependencies(FakePartnerCenter(TIMEOUT), ledger=ledger))
    assert ledger.rows["crm-se-0001"].lease_until == 0.0
    outcome = await handle_message(message(sample()), dependencies(ledger=ledger))
    assert outcome.kind == "created"


async def test_poison_parks_the_message_after_publishing() -> None:
    sink, parking = FakeEventSink(), FakeParking()
    body = message(sample())
    await handle_poison(body, dependencies(sink=sink, parking=parking))
    assert parking.parked == [body]
    assert sink.events[0]["data"]["reason"] == "retries_exhausted"


async def test_nothing_is_parked_when_publishing_fails() -> None:
    sink, parking = FakeEventSink(), FakeParking()
    sink.fail_with = OnboardingError(ErrorKind.TRANSIENT, "Event Grid down")
    with pytest.raises(OnboardingError):
        await handle_poison(message(sample()), dependencies(sink=sink, parking=parking))
    assert parking.parked == []


async def test_a_ghost_create_in_the_same_invocation_is_adopted() -> None:
    # Partner Center committed the first attempt, dropped the connection, and (not idempotent) refused the retry.
    pc = FakePartnerCenter(TAKEN)
    pc.existing = customer_payload()  # named as the request's company
    outcome = await handle_message(message(sample()), dependencies(pc))
    assert outcome.kind == "created"
    assert outcome.event.data.customerId == pc.existing.id  # type: ignore[union-attr]


async def test_someone_elses_customer_with_the_domain_is_not_adopted() -> None:
    pc = FakePartnerCenter(TAKEN)
    pc.existing = customer_payload()
    pc.existing.companyProfile.companyName = "Another Company Ltd"
    outcome = await handle_message(message(sample()), dependencies(pc))
    assert outcome.event.data.reason == "domain_unavailable"  # type: ignore[union-attr]


async def test_a_customer_search_that_is_refused_reads_as_none_found() -> None:
    class NoSearch(FakePartnerCenter):
        async def find_customer_by_domain(self, domain: str, *, ms_request_id: str) -> None:
            raise OnboardingError(ErrorKind.BUSINESS, "no such route", http_status=404)

    outcome = await handle_message(message(sample()), dependencies(NoSearch(TAKEN)))
    assert outcome.event.data.reason == "domain_unavailable"  # type: ignore[union-attr]


AUTH = OnboardingError(ErrorKind.AUTH, "audience retired", http_status=401, code="900420")


async def test_an_unchanged_resend_of_a_final_failure_gets_the_same_answer_without_calls() -> None:
    ledger, sink = InMemoryLedger(), FakeEventSink()
    await handle_message(message(sample()), dependencies(FakePartnerCenter(TAKEN), sink, ledger))
    pc = FakePartnerCenter()
    await handle_message(message(sample()), dependencies(pc, sink, ledger))
    assert sink.events[0] == sink.events[1]
    assert pc.calls == []


async def test_a_corrected_resend_with_the_same_request_id_is_onboarded() -> None:
    ledger, sink = InMemoryLedger(), FakeEventSink()
    first = await handle_message(message(sample()), dependencies(FakePartnerCenter(TAKEN), sink, ledger))
    assert first.event.data.reason == "domain_unavailable"  # type: ignore[union-attr]
    fixed = sample()
    fixed["customer"]["domainPrefix"] = "wingtiptoys2"  # the CRM user picked another prefix
    outcome = await handle_message(message(fixed), dependencies(FakePartnerCenter(), sink, ledger))
    assert outcome.kind == "created"
    assert ledger.rows["crm-se-0001"].attempts == 2


async def test_a_retryable_failure_resent_unchanged_is_tried_again() -> None:
    ledger, sink = InMemoryLedger(), FakeEventSink()
    refused = await handle_message(message(sample()), dependencies(FakePartnerCenter(AUTH), sink, ledger))
    assert (refused.event.data.reason, refused.event.data.retryable) == ("not_authorized", True)  # type: ignore[union-attr]
    # the operator fixed the app's permissions; the CRM sends the same request again
    outcome = await handle_message(message(sample()), dependencies(FakePartnerCenter(), sink, ledger))
    assert outcome.kind == "created"
