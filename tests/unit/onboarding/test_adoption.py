"""Issue 13, scenario 7: adoption only on positive evidence — never on a first create refused as taken, never
another CRM record's tenant (recorded by it, or possibly made by its earlier unanswered create), and never held up
by another company's create."""

from __future__ import annotations

import pytest

from handlers.domain.failures import ErrorKind, OnboardingError
from handlers.onboarding.pipeline import handle_message
from tests.fakes import (
    FakeEventSink,
    FakeLedgerRows,
    FakePartnerCenter,
    customer_payload,
    dependencies,
    message,
    sample,
)
from tests.fakes.ledger import ledger_over
from tests.fakes.outbound import created_ids, failed_ids
from tests.fakes.partner_center import TAKEN, TIMEOUT


async def test_7_a_first_create_refused_as_taken_is_never_adopted_even_when_the_name_matches() -> None:
    pc = FakePartnerCenter(TAKEN)  # another CRM record of the same company took the domain first
    pc.existing = customer_payload()
    outcome = await handle_message(message(sample()), dependencies(pc))
    assert outcome.event.data.reason == "domain_unavailable"  # type: ignore[union-attr]
    assert "find" not in [what for what, _ in pc.calls]


async def test_7_another_records_tenant_is_never_adopted_even_after_a_lost_answer() -> None:
    # Two CRM records of one company: the first is created; the second's create goes out, its answer ("taken") is
    # lost, so its retry has the evidence for adoption and finds a customer of the same name on the domain.
    rows, sink = FakeLedgerRows(), FakeEventSink()
    first = await handle_message(message(sample()), dependencies(FakePartnerCenter(), sink, ledger_over(rows)))
    second = sample()
    second["requestId"], second["crmAccountId"] = "crm-0002", "ACC-0002"
    pc = FakePartnerCenter(TIMEOUT, TAKEN)
    pc.existing = customer_payload()  # the first record's customer, listed under the same company name
    deps = dependencies(pc, sink, ledger_over(rows))
    with pytest.raises(OnboardingError):
        await handle_message(message(second), deps)
    outcome = await handle_message(message(second), deps)
    assert outcome.event.data.reason == "domain_unavailable"  # type: ignore[union-attr]
    assert created_ids(sink) == {"crm-se-0001"} and first.kind == "created"
    assert ("find", pc.calls[-1][1]) in pc.calls  # it did look: the ledger, not the listing, said "not ours"


async def test_7_while_another_records_earlier_create_is_unanswered_its_tenant_is_not_adopted() -> None:
    # Both creates' answers are lost: the first record's committed (its tenant is listed), the second's was refused.
    # The second waits for the first's outcome instead of adopting; the first's retry gets its tenant replayed.
    rows, sink = FakeLedgerRows(), FakeEventSink()
    first_pc = FakePartnerCenter(TIMEOUT, customer_payload())
    first_deps = dependencies(first_pc, sink, ledger_over(rows))
    with pytest.raises(OnboardingError):
        await handle_message(message(sample()), first_deps)
    second = sample()
    second["requestId"], second["crmAccountId"] = "crm-0002", "ACC-0002"
    pc = FakePartnerCenter(TIMEOUT, TAKEN)
    pc.existing = customer_payload()
    deps = dependencies(pc, sink, ledger_over(rows))
    for _ in range(2):  # the lost answer, then "taken" with the first record's create still unanswered
        with pytest.raises(OnboardingError) as raised:
            await handle_message(message(second), deps)
        assert raised.value.kind is ErrorKind.TRANSIENT
    assert sink.events == []
    assert (await handle_message(message(sample()), first_deps)).kind == "created"
    outcome = await handle_message(message(second), deps)
    assert outcome.event.data.reason == "domain_unavailable"  # type: ignore[union-attr]
    assert created_ids(sink) == {"crm-se-0001"} and failed_ids(sink) == {"crm-0002"}


async def test_7_an_unanswered_create_of_another_company_is_no_claim_on_our_tenant() -> None:
    # Another record's create for the domain went out first, named another company, and its answer was lost; ours
    # made the tenant and its answer was lost too. Ours is adopted at once: waiting would orphan it.
    rows, sink = FakeLedgerRows(), FakeEventSink()
    other = sample()
    other["requestId"], other["crmAccountId"] = "crm-0000", "ACC-0000"
    other["customer"]["companyName"] = "Northwind Traders"
    with pytest.raises(OnboardingError):
        await handle_message(message(other), dependencies(FakePartnerCenter(TIMEOUT), sink, ledger_over(rows)))
    pc = FakePartnerCenter(TIMEOUT, TAKEN)
    pc.existing = customer_payload()  # named as our request's company
    deps = dependencies(pc, sink, ledger_over(rows))
    with pytest.raises(OnboardingError):
        await handle_message(message(sample()), deps)
    outcome = await handle_message(message(sample()), deps)
    assert outcome.kind == "created" and outcome.event.data.customerId == customer_payload().id  # type: ignore[union-attr]
