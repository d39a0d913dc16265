"""The ledger's fixtures: rows in memory, a clock the tests move, the real state machine over both."""

from __future__ import annotations

import pytest

from handlers.onboarding.ledger import Ledger
from tests.fakes.storage import Clock, FakeLedgerRows


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def rows() -> FakeLedgerRows:
    return FakeLedgerRows()


@pytest.fixture
def ledger(rows: FakeLedgerRows, clock: Clock) -> Ledger:
    return Ledger(rows, clock=clock)
