"""Fakes of the ports: scripted answers, recorded calls."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

from handlers.adapters.retry import RetryPolicy
from handlers.domain.config import PipelineConfig
from handlers.domain.failures import OnboardingError
from handlers.domain.intake_record import IntakeRecord
from handlers.domain.ledger_entry import LedgerEntry
from handlers.domain.payloads import AddressValidation, CountryRules, CustomerPayload, Relationship
from handlers.domain.ports import RowChanged, RowExists, WriteUnknown
from handlers.domain.timing import TimingModel, load_timing
from handlers.onboarding.app_user import AppUser
from handlers.onboarding.dependencies import Dependencies
from handlers.onboarding.ledger import Ledger
from handlers.onboarding.preflight import CountryRulesCache

# The unit tests' timing model: redeliveries a second apart (invocations of 3 s, claims of 3.5 s).
TEST_TIMING = TimingModel(visibility_timeout=1.0, max_dequeue_count=5, function_timeout=300.0)
SAMPLES = Path(__file__).resolve().parent.parent / "samples" / "requests"
ADMIN_PASSWORD = "Pa55-word-never-to-be-seen!"


def sample(name: str = "se-wingtip-toys") -> dict[str, Any]:
    """A sample request as a dict (a fresh copy each time)."""
    return dict(json.loads((SAMPLES / f"{name}.json").read_text(encoding="utf-8")))


def retry_policy(**changes: Any) -> RetryPolicy:
    """One round's retry policy as the shipped host.json makes it, with `changes` (max_attempts, sleep, ...)."""
    return RetryPolicy.of(load_timing(env={}), **changes)


def message(data: dict[str, Any]) -> bytes:
    return json.dumps(data).encode("utf-8")


def customer_payload(domain: str = "wingtiptoysab.onmicrosoft.com") -> CustomerPayload:
    return CustomerPayload.model_validate(
        {
            "id": "5b1e1a4c-0000-4000-8000-000000000001",
            "commerceId": "c0ffee00-0000-4000-8000-000000000002",
            "companyProfile": {
                "tenantId": "5b1e1a4c-0000-4000-8000-000000000001",
                "domain": domain,
                "companyName": "Wingtip Toys AB",
            },
            "relationshipToPartner": "reseller",
            "userCredentials": {"userName": "admin", "password": ADMIN_PASSWORD},
        }
    )


class FakePartnerCenter:
    """Answers create_customer from a script: a payload, or an error to raise (one entry per call)."""

    def __init__(self, *answers: CustomerPayload | OnboardingError) -> None:
        self.answers = list(answers) or [customer_payload()]
        self.created: list[tuple[dict[str, Any], str]] = []
        self.calls: list[tuple[str, str]] = []  # (what, MS-RequestId) of every call
        self.taken_domains: set[str] = set()
        self.address = AddressValidation(status="VerifiedShippable")
        self.rules: dict[str, CountryRules | OnboardingError] = {}
        self.existing: CustomerPayload | None = None
        self.preflight_error: OnboardingError | None = None

    async def create_customer(self, body: dict[str, Any], *, ms_request_id: str) -> CustomerPayload:
        self.calls.append(("create", ms_request_id))
        self.created.append((body, ms_request_id))
        answer = self.answers.pop(0) if len(self.answers) > 1 else self.answers[0]
        if isinstance(answer, OnboardingError):
            raise answer
        return answer

    async def domain_exists(self, domain: str, *, ms_request_id: str) -> bool:
        self.calls.append(("domain", ms_request_id))
        if self.preflight_error is not None:
            raise self.preflight_error
        return domain in self.taken_domains

    async def validate_address(self, address: dict[str, Any], *, ms_request_id: str) -> AddressValidation:
        self.calls.append(("address", ms_request_id))
        return self.address

    async def get_country_rules(self, country: str, *, ms_request_id: str) -> CountryRules:
        self.calls.append(("rules", ms_request_id))
        rules = self.rules.get(country, CountryRules(iso2Code=country))
        if isinstance(rules, OnboardingError):
            raise rules
        return rules

    async def find_customer_by_domain(self, domain: str, *, ms_request_id: str) -> CustomerPayload | None:
        self.calls.append(("find", ms_request_id))
        return self.existing


RESELLER = "0d3e7c1a-7b7e-4d1c-9d1e-8f1a2b3c4d5e"
INACTIVE_RESELLER = "0d3e7c1a-7b7e-4d1c-9d1e-8f1a2b3c4d00"


class FakeAppUserPartnerCenter:
    """The App+User calls, scripted: resellers, one MCA template, agreements (answers popped per call: True
    created, False 600061, an error raised)."""

    def __init__(self, *agreement_answers: bool | OnboardingError) -> None:
        self.resellers = [
            Relationship(id=RESELLER, state="Active"),
            Relationship(id=INACTIVE_RESELLER, state="Inactive"),
        ]
        self.listing_error: OnboardingError | None = None
        self.template_id = "117a69e2-a4d4-4d5a-a0c8-2a43a2f55d61"
        self.agreement_answers: list[bool | OnboardingError] = list(agreement_answers) or [True]
        self.agreements: list[tuple[str, dict[str, Any], str]] = []
        self.calls: list[str] = []

    async def list_indirect_resellers(self, *, ms_request_id: str) -> list[Relationship]:
        self.calls.append("resellers")
        if self.listing_error is not None:
            raise self.listing_error
        return list(self.resellers)

    async def agreement_template_id(self, agreement_type: str, *, ms_request_id: str) -> str:
        self.calls.append("template")
        return self.template_id

    async def create_agreement(self, customer_id: str, body: dict[str, Any], *, ms_request_id: str) -> bool:
        self.calls.append("agreement")
        answer = self.agreement_answers.pop(0) if len(self.agreement_answers) > 1 else self.agreement_answers[0]
        if isinstance(answer, OnboardingError):
            raise answer
        self.agreements.append((customer_id, body, ms_request_id))
        return answer


class FakeRefresher:
    """The App+User sign-in: counts refreshes and refusals heard."""

    def __init__(self) -> None:
        self.refreshed = 0
        self.refusals: list[OnboardingError] = []

    async def refresh(self) -> None:
        self.refreshed += 1

    async def refused(self, error: OnboardingError) -> OnboardingError:
        self.refusals.append(error)
        return error


def fake_app_user(partner_center: FakeAppUserPartnerCenter | None = None) -> AppUser:
    return AppUser(partner_center or FakeAppUserPartnerCenter(), FakeRefresher())


class FakeEventSink:
    """Records published batches; raises `fail_with` when set."""

    def __init__(self) -> None:
        self.batches: list[list[dict[str, Any]]] = []
        self.fail_with: Exception | None = None

    async def publish(self, events: list[dict[str, Any]]) -> None:
        if self.fail_with is not None:
            raise self.fail_with
        self.batches.append(events)

    @property
    def events(self) -> list[dict[str, Any]]:
        return [event for batch in self.batches for event in batch]


class FakeQueue:
    """Records the message bodies sent to a queue."""

    def __init__(self) -> None:
        self.sent: list[bytes] = []

    async def send(self, body: bytes) -> None:
        self.sent.append(body)


class FakeParking:
    """Records parked message bodies."""

    def __init__(self) -> None:
        self.parked: list[bytes] = []

    async def park(self, body: bytes) -> None:
        self.parked.append(body)


class FakeLedgerRows:
    """The ledger's rows in this process's memory (the LedgerRows port). `lose_answer` can make a write commit and
    then raise WriteUnknown, as a storage answer dropped on the way back does."""

    def __init__(self) -> None:
        self.rows: dict[str, LedgerEntry] = {}
        self._version = 0
        self.lose_answer: Callable[[LedgerEntry], bool] = lambda entry: False

    def _stamp(self, entry: LedgerEntry) -> LedgerEntry:
        self._version += 1
        stamped = replace(entry, etag=str(self._version))
        self.rows[entry.request_id] = stamped
        if self.lose_answer(stamped):
            raise WriteUnknown(entry.request_id)
        return stamped

    async def read(self, request_id: str) -> LedgerEntry | None:
        return self.rows.get(request_id)

    async def insert(self, entry: LedgerEntry) -> LedgerEntry:
        if entry.request_id in self.rows:
            raise RowExists(entry.request_id)
        return self._stamp(entry)

    async def replace(self, entry: LedgerEntry) -> LedgerEntry:
        current = self.rows.get(entry.request_id)
        if current is None or current.etag != entry.etag:
            raise RowChanged(entry.request_id)
        return self._stamp(entry)

    async def naming(self, customer_id: str, domain: str, *, besides: str) -> list[LedgerEntry]:
        return [
            e for e in self.rows.values()
            if e.request_id != besides and (e.customer_id == customer_id or e.domain == domain)
        ]  # fmt: skip

    async def decided_before(self, cutoff: float, *, limit: int) -> list[LedgerEntry]:
        return [e for e in self.rows.values() if e.decided is not None and e.updated_at < cutoff][:limit]

    async def purge(self, request_id: str, etag: str) -> bool:
        current = self.rows.get(request_id)
        if current is None or current.etag != etag:
            return False
        del self.rows[request_id]
        return True


class FakeNotices:
    """Notices in memory (the Notices port), shared by whoever holds this object."""

    def __init__(self) -> None:
        self.notices: set[tuple[str, str]] = set()

    async def first_notice(self, topic: str, slot: str) -> bool:
        first = (topic, slot) not in self.notices
        self.notices.add((topic, slot))
        return first

    async def forget_notice(self, topic: str, slot: str) -> None:
        self.notices.discard((topic, slot))


class FakeIntakeRecords:
    """The intake's rows in memory (the IntakeRecords port)."""

    def __init__(self) -> None:
        self.rows: dict[str, IntakeRecord] = {}
        self._version = 0

    def _stamp(self, record: IntakeRecord) -> IntakeRecord:
        self._version += 1
        stamped = replace(record, etag=str(self._version))
        self.rows[record.key] = stamped
        return stamped

    async def get(self, key: str) -> IntakeRecord | None:
        return self.rows.get(key)

    async def insert(self, record: IntakeRecord) -> IntakeRecord:
        if record.key in self.rows:
            raise RowExists(record.key)
        return self._stamp(record)

    async def replace(self, record: IntakeRecord) -> IntakeRecord:
        current = self.rows.get(record.key)
        if current is None or current.etag != record.etag:
            raise RowChanged(record.key)
        return self._stamp(record)

    async def upsert(self, record: IntakeRecord) -> None:
        self._stamp(record)


def memory_ledger() -> Ledger:
    """The real ledger state machine over rows kept in memory."""
    return Ledger(FakeLedgerRows())


def dependencies(
    partner_center: FakePartnerCenter | None = None,
    sink: FakeEventSink | None = None,
    ledger: Ledger | None = None,
    *,
    validate_address: bool = True,
    parking: FakeParking | None = None,
    app_user: AppUser | None = None,
    cloud: str = "public",
) -> Dependencies:
    """The pipeline's dependencies over fakes; the ledger is the real in-memory one."""
    return Dependencies(
        partner_center=partner_center or FakePartnerCenter(),
        events=sink or FakeEventSink(),
        ledger=ledger if ledger is not None else memory_ledger(),
        config=PipelineConfig(
            events_source="/tests",
            domain_suffix=".onmicrosoft.com",
            enable_gdap_default=True,
            timing=TEST_TIMING,
            validate_address=validate_address,
            cloud=cloud,
        ),
        rules_cache=CountryRulesCache(),
        parking=parking,
        app_user=app_user,
    )
