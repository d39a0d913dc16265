"""Races and CRM edits an adversarial review found against the ledger: each ended in a second customer, a `failed`
after `created`, or a customer reported failed. Partner Center here is a small model: it remembers creates by
MS-RequestId (until told to forget), holds tenants by domain and lists them only once told to."""

from __future__ import annotations

import asyncio
import itertools
from dataclasses import replace
from typing import Any

import pytest
from pydantic import SecretStr

from handlers.domain.failures import ErrorKind, OnboardingError
from handlers.domain.ledger_entry import Decision, LedgerEntry
from handlers.domain.payloads import CustomerPayload
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
_ids = itertools.count(1)


class ModelPartnerCenter(FakePartnerCenter):
    def __init__(self) -> None:
        super().__init__()
        self.remembered: dict[str, CustomerPayload] = {}
        self.tenants: dict[str, CustomerPayload] = {}
        self.listed: set[str] = set()
        self.forget = False
        self.drop_answer = False  # commit the next create, then lose its answer

    async def create_customer(self, body: dict[str, Any], *, ms_request_id: str) -> CustomerPayload:
        self.calls.append(("create", ms_request_id))
        self.created.append((body, ms_request_id))
        if not self.forget and ms_request_id in self.remembered:
            return self.remembered[ms_request_id]
        domain = body["companyProfile"]["domain"]
        if domain in self.tenants:
            raise TAKEN
        n = next(_ids)
        customer = CustomerPayload.model_validate(
            {"id": f"00000000-0000-4000-8000-{n:012d}", "companyProfile": {"tenantId": f"t-{n}", "domain": domain,
             "companyName": body["billingProfile"]["companyName"]}, "relationshipToPartner": "reseller",
             "userCredentials": {"userName": "admin", "password": f"Model-pw-{n}!"}}
        )  # fmt: skip
        self.tenants[domain] = self.remembered[ms_request_id] = customer
        if self.drop_answer:
            self.drop_answer = False
            raise OnboardingError(ErrorKind.TRANSIENT, "the connection dropped after the create committed")
        return customer

    async def domain_exists(self, domain: str, *, ms_request_id: str) -> bool:
        self.calls.append(("domain", ms_request_id))
        return domain in self.tenants

    async def find_customer_by_domain(self, domain: str, *, ms_request_id: str) -> CustomerPayload | None:
        self.calls.append(("find", ms_request_id))
        return self.tenants.get(domain) if domain in self.listed else None


class SlowFirstPublish(FakeEventSink):
    """Event Grid answers the first publish late."""

    def __init__(self) -> None:
        super().__init__()
        self.gate = asyncio.Event()
        self.first = True

    async def publish(self, events: list[dict[str, Any]]) -> None:
        if self.first:
            self.first = False
            await self.gate.wait()
        await super().publish(events)


class VaultDown:
    async def set_secret(self, name: str, value: SecretStr, **_: Any) -> str:
        raise OnboardingError(ErrorKind.TRANSIENT, "Key Vault refused (HTTP 503)")


def kinds(sink: FakeEventSink) -> list[str]:
    return [e["type"].rsplit(".", 1)[1] + ":" + str(e["data"].get("reason")) for e in sink.events]


async def ghost(deps: Any, pc: ModelPartnerCenter) -> None:
    """A create that committed, its answer lost; then Partner Center forgets its MS-RequestId."""
    pc.drop_answer = True
    with pytest.raises(OnboardingError):
        await handle_message(message(sample()), deps)
    pc.forget = True


async def test_a_company_renamed_after_a_ghost_create_adopts_its_tenant_not_a_second_one() -> None:
    pc, sink = ModelPartnerCenter(), FakeEventSink()
    deps = dependencies(pc, sink, Ledger(FakeLedgerRows()))
    await ghost(deps, pc)
    pc.listed = set(pc.tenants)
    renamed = sample()
    renamed["customer"]["companyName"] = "Wingtip Toys Aktiebolag"  # the CRM edited the name meanwhile
    outcome = await handle_message(message(renamed), deps)
    assert outcome.kind == "created" and len(pc.tenants) == 1  # matched by the name the create went out with


async def test_a_domain_changed_after_a_ghost_create_waits_for_the_listing_instead_of_creating_again() -> None:
    pc, sink = ModelPartnerCenter(), FakeEventSink()
    deps = dependencies(pc, sink, Ledger(FakeLedgerRows()))
    await ghost(deps, pc)
    fixed = sample()
    fixed["customer"]["domainPrefix"] = "wingtiptoys2"
    with pytest.raises(OnboardingError) as raised:  # the earlier tenant is not listed yet: look again later
        await handle_message(message(fixed), deps)
    assert raised.value.kind is ErrorKind.TRANSIENT and len(pc.tenants) == 1
    pc.listed = set(pc.tenants)
    outcome = await handle_message(message(fixed), deps)
    assert outcome.kind == "created" and len(pc.tenants) == 1


async def test_a_create_refused_for_good_is_no_evidence_for_adopting_another_records_tenant() -> None:
    pc, sink = ModelPartnerCenter(), FakeEventSink()
    deps = dependencies(pc, sink, Ledger(FakeLedgerRows()), validate_address=False)
    other = sample()
    other["requestId"] = "crm-se-OTHER"  # another CRM record of the same company takes the domain first
    await handle_message(message(other), deps)
    pc.listed = set(pc.tenants)
    real_check = pc.domain_exists

    async def lagging(domain: str, *, ms_request_id: str) -> bool:
        return False

    pc.domain_exists = lagging  # type: ignore[method-assign]
    assert (await handle_message(message(sample()), deps)).event.data.reason == "domain_unavailable"  # type: ignore[union-attr]
    pc.domain_exists = real_check  # type: ignore[method-assign]
    resent = sample()
    resent["customer"]["email"] = "new@wingtiptoys.example"  # an unrelated fix: the create is tried again
    outcome = await handle_message(message(resent), deps)
    assert outcome.kind == "failed" and len(pc.tenants) == 1


async def test_a_failure_being_published_cannot_be_reopened_and_overtaken_by_created() -> None:
    sink, rows = SlowFirstPublish(), FakeLedgerRows()
    auth = OnboardingError(ErrorKind.AUTH, "401 from Partner Center", http_status=401)
    pc = FakePartnerCenter(auth, customer_payload(), customer_payload())
    deps = dependencies(pc, sink, Ledger(rows), validate_address=False)
    first = asyncio.create_task(handle_message(message(sample()), deps))  # stores failed (retryable), publishing
    await asyncio.sleep(0.01)
    with pytest.raises(OnboardingError):  # a duplicate would reopen it: not while its failure is being published
        await handle_message(message(sample()), deps)
    sink.gate.set()
    await first
    await handle_message(message(sample()), deps)  # now it may: the failure went out first
    assert kinds(sink) == ["failed:not_authorized", "created:None"]


async def test_the_poison_functions_exhausted_report_goes_out_before_a_resumed_delivery_can_succeed() -> None:
    sink, rows = SlowFirstPublish(), FakeLedgerRows()
    pc = FakePartnerCenter(OnboardingError(ErrorKind.TRANSIENT, "503"), customer_payload(), customer_payload())
    deps = dependencies(pc, sink, Ledger(rows), parking=FakeParking())
    with pytest.raises(OnboardingError):
        await handle_message(message(sample()), deps)
    poison = asyncio.create_task(handle_poison(message(sample()), deps))
    await asyncio.sleep(0.01)
    with pytest.raises(OnboardingError):
        await handle_message(message(sample()), deps)
    sink.gate.set()
    await poison
    await handle_message(message(sample()), deps)
    assert kinds(sink) == ["failed:retries_exhausted", "created:None"]


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


async def test_a_delivery_that_outlived_its_lease_never_fails_a_request_whose_customer_is_recorded() -> None:
    gate, reached = asyncio.Event(), asyncio.Event()

    class Stalling(ModelPartnerCenter):
        async def domain_exists(self, domain: str, *, ms_request_id: str) -> bool:
            if not reached.is_set():
                reached.set()
                await gate.wait()  # delivery B stalls in pre-flight
            return await super().domain_exists(domain, ms_request_id=ms_request_id)

    rows, sink, pc, clock = FakeLedgerRows(), FakeEventSink(), Stalling(), Clock()
    deps = replace(dependencies(pc, sink, Ledger(rows, clock=clock)), vault=VaultDown())
    stale = asyncio.create_task(handle_message(message(sample()), deps))
    await reached.wait()
    clock.now += deps.config.timing.lease + 1
    with pytest.raises(OnboardingError):  # A: creates, records the customer, the vault is down: released
        await handle_message(message(sample()), deps)
    gate.set()
    with pytest.raises(OnboardingError):  # B sees our own domain taken, but may not store a failure over A's row
        await stale
    assert rows.rows["crm-se-0001"].decided is None and "failed:domain_unavailable" not in kinds(sink)
    assert (await handle_message(message(sample()), replace(deps, vault=None))).kind == "created"


async def test_the_poison_function_reports_a_customer_recorded_while_it_was_writing() -> None:
    gate, reached = asyncio.Event(), asyncio.Event()

    class SlowExhaust(FakeLedgerRows):
        async def replace(self, entry: LedgerEntry) -> LedgerEntry:
            if entry.exhausted_from is not None and not gate.is_set():
                reached.set()
                await gate.wait()
            return await super().replace(entry)

    rows, sink = SlowExhaust(), FakeEventSink()
    pc = FakePartnerCenter(OnboardingError(ErrorKind.TRANSIENT, "503"), customer_payload(), customer_payload())
    deps = replace(dependencies(pc, sink, Ledger(rows), parking=FakeParking()), vault=VaultDown())
    with pytest.raises(OnboardingError):
        await handle_message(message(sample()), deps)
    poison = asyncio.create_task(handle_poison(message(sample()), deps))
    await reached.wait()
    with pytest.raises(OnboardingError):  # a duplicate creates and records the customer; the vault is down
        await handle_message(message(sample()), deps)
    gate.set()
    outcome = await poison
    assert outcome is not None and outcome.kind == "created" and kinds(sink) == ["created:None"]


async def test_an_invalid_resend_after_created_gets_the_created_event_again() -> None:
    sink = FakeEventSink()
    deps = dependencies(sink=sink, ledger=Ledger(FakeLedgerRows()))
    first = await handle_message(message(sample()), deps)
    broken = sample()
    del broken["customer"]["email"]
    assert (await handle_message(message(broken), deps)).event == first.event


async def test_each_failure_after_a_reopen_has_an_event_id_of_its_own() -> None:
    rows, sink = FakeLedgerRows(), FakeEventSink()
    auth = OnboardingError(ErrorKind.AUTH, "401", http_status=401)
    pc = FakePartnerCenter(TAKEN, auth, TAKEN)
    deps = dependencies(pc, sink, Ledger(rows), validate_address=False)
    second = sample()
    second["customer"]["email"] = "other@wingtiptoys.example"
    for body in (sample(), second, sample()):  # v1 → v2 → v1: three outcomes, the last must not be dropped
        await handle_message(message(body), deps)
    assert len({e["id"] for e in sink.events}) == 3


async def test_an_outcome_stored_after_its_row_was_deleted_is_inserted_again() -> None:
    rows = FakeLedgerRows()
    ledger = Ledger(rows)
    entry = await ledger.claim("r", "m", lease_seconds=60)
    del rows.rows["r"]
    row = await ledger.decide(entry, Decision("created", "ev", "{}"))
    assert row.decided == "created" and rows.rows["r"] == row
