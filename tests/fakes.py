"""Fakes of the ports: scripted answers, recorded calls."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from handlers.adapters.payloads import AddressValidation, CountryRules, CustomerPayload
from handlers.adapters.rows import InMemoryRows
from handlers.failures import OnboardingError
from handlers.ledger import Ledger
from handlers.pipeline import Dependencies, PipelineConfig
from handlers.preflight import CountryRulesCache
from handlers.timing import TimingModel

SAMPLES = Path(__file__).resolve().parent.parent / "samples" / "requests"
ADMIN_PASSWORD = "Pa55-word-never-to-be-seen!"


def sample(name: str = "se-wingtip-toys") -> dict[str, Any]:
    """A sample request as a dict (a fresh copy each time)."""
    return dict(json.loads((SAMPLES / f"{name}.json").read_text(encoding="utf-8")))


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


def memory_ledger() -> Ledger:
    """The real ledger state machine over rows kept in memory."""
    return Ledger(InMemoryRows())


def dependencies(
    partner_center: FakePartnerCenter | None = None,
    sink: FakeEventSink | None = None,
    ledger: Ledger | None = None,
    *,
    validate_address: bool = True,
    parking: FakeParking | None = None,
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
            timing=TimingModel(visibility_timeout=1.0, max_dequeue_count=5, function_timeout=300.0),
            validate_address=validate_address,
        ),
        rules_cache=CountryRulesCache(),
        parking=parking,
    )
