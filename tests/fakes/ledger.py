"""The ledger's tests' vocabulary: a lease, a claim of request r-1, and the decisions they store."""

from __future__ import annotations

from handlers.domain.ledger_entry import Decision, LedgerEntry
from handlers.onboarding.ledger import Ledger
from tests.fakes.storage import FakeLedgerRows

LEASE = 60.0


async def claim(ledger: Ledger, content: str = "h1") -> LedgerEntry:
    return await ledger.claim("r-1", "m-1", lease_seconds=LEASE, request_hash=content)


def failed(retryable: bool = False) -> Decision:
    return Decision("failed", "ev-failed", '{"failed": true}', retryable=retryable)


CREATED = Decision("created", "ev-created", '{"created": true}')


EXHAUSTED = Decision("exhausted", "ev-exhausted", '{"exhausted": true}', retryable=True)


def ledger_over(rows: FakeLedgerRows) -> Ledger:
    return Ledger(rows)
