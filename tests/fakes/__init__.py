"""Fakes of the ports (scripted answers, recorded calls), sample requests and the pipeline's dependencies over
fakes. Each fake lives in the module of what it stands in for; the names tests use are all here."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from handlers.adapters.retry import RetryPolicy
from handlers.domain.config import PipelineConfig
from handlers.domain.timing import TimingModel, load_timing
from handlers.onboarding.app_user import AppUser
from handlers.onboarding.budget import SharedBudget
from handlers.onboarding.dependencies import Dependencies
from handlers.onboarding.ledger import Ledger
from handlers.onboarding.preflight import CountryRulesCache
from tests.fakes.outbound import FakeEventSink, FakeParking, FakeQueue
from tests.fakes.partner_center import (
    ADMIN_PASSWORD,
    INACTIVE_RESELLER,
    RESELLER,
    FakeAppUserPartnerCenter,
    FakePartnerCenter,
    FakeRefresher,
    customer_payload,
    fake_app_user,
)
from tests.fakes.storage import FakeIntakeRecords, FakeLedgerRows, FakeNotices, FakeTokenVault

__all__ = [
    "ADMIN_PASSWORD",
    "INACTIVE_RESELLER",
    "RESELLER",
    "TEST_TIMING",
    "FakeAppUserPartnerCenter",
    "FakeEventSink",
    "FakeIntakeRecords",
    "FakeLedgerRows",
    "FakeNotices",
    "FakeParking",
    "FakePartnerCenter",
    "FakeQueue",
    "FakeRefresher",
    "FakeTokenVault",
    "customer_payload",
    "dependencies",
    "fake_app_user",
    "memory_ledger",
    "message",
    "retry_policy",
    "sample",
]

# The unit tests' timing model: redeliveries a second apart (invocations of 3 s, claims of 3.5 s).
TEST_TIMING = TimingModel(visibility_timeout=1.0, max_dequeue_count=5, function_timeout=300.0)
SAMPLES = Path(__file__).resolve().parents[2] / "samples" / "requests"


def sample(name: str = "se-wingtip-toys") -> dict[str, Any]:
    """A sample request as a dict (a fresh copy each time)."""
    return dict(json.loads((SAMPLES / f"{name}.json").read_text(encoding="utf-8")))


def retry_policy(**changes: Any) -> RetryPolicy:
    """One round's retry policy as the shipped host.json makes it, with `changes` (max_attempts, sleep, ...)."""
    return RetryPolicy.of(load_timing(env={}), **changes)


def message(data: dict[str, Any]) -> bytes:
    return json.dumps(data).encode("utf-8")


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
    budget: SharedBudget | None = None,
    requeue: FakeQueue | None = None,
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
        budget=budget,
        requeue=requeue,
    )
