"""The ledger: one row per requestId, so every delivery knows how far the request got (Table storage in
table_ledger.py; in memory here).

States: received → creating → created (the outcome event stored), or failed (its event stored). A stored outcome is
published by every delivery until one succeeds; the queue consuming the message is what records that.
Every write is conditional on the row's ETag: two instances holding the same request cannot both move it on;
the loser raises a transient error and the queue redelivers later. A row never holds the admin password.
"""

from __future__ import annotations

import contextlib
import time
from abc import ABC, abstractmethod
from dataclasses import dataclass, field, replace
from typing import Any, Literal

from handlers.failures import ErrorKind, OnboardingError

State = Literal["received", "creating", "created", "failed"]


@dataclass(frozen=True)
class LedgerEntry:
    """What the ledger knows about one request."""

    request_id: str
    ms_request_id: str
    state: State = "received"
    attempts: int = 1
    lease_until: float = 0.0
    customer_id: str | None = None
    tenant_id: str | None = None
    commerce_id: str | None = None
    domain: str | None = None
    event_id: str | None = None
    event_json: str | None = None  # the outcome event, to publish again on redelivery
    exhausted_from: State | None = None  # set by the poison path: where a replay resumes
    outcome: Literal["created", "failed"] | None = None  # what the stored event says
    retryable: bool | None = None  # for a failure: may the same request, unchanged, succeed later?
    request_hash: str | None = None  # the request's content when its outcome was decided
    created_at: float = field(default_factory=time.time)
    updated_at: float = field(default_factory=time.time)
    etag: str | None = None

    @property
    def outcome_known(self) -> bool:
        """The outcome is decided and stored: a redelivery only publishes it again."""
        return self.event_json is not None and self.state in ("created", "failed") and not (self.exhausted_from)


class RowExists(Exception):
    """The request already has a row (raised by `_insert`)."""


def busy(request_id: str) -> OnboardingError:
    return OnboardingError(
        ErrorKind.TRANSIENT, f"request {request_id} is being handled by another delivery; the queue will retry"
    )


class LedgerBase(ABC):
    """The claim logic, over a row store that subclasses implement (read, insert, replace-if-unchanged)."""

    @abstractmethod
    async def _read(self, request_id: str) -> LedgerEntry | None: ...

    @abstractmethod
    async def _insert(self, entry: LedgerEntry) -> LedgerEntry:
        """Insert a new row; raises RowExists when the request has one, OnboardingError when storage fails."""

    @abstractmethod
    async def _replace(self, entry: LedgerEntry) -> LedgerEntry: ...

    async def claim(
        self, request_id: str, ms_request_id: str, *, lease_seconds: float, request_hash: str | None = None
    ) -> LedgerEntry:
        """Take the request for this delivery; raises OnboardingError(TRANSIENT) while another delivery holds it.

        A decided outcome comes back as it is (to be published again) — except a failure that was retryable, or
        that was decided for a request whose content has changed since (the CRM fixed it): those reopen, from
        pre-flight, since no customer exists after a failure.
        """
        now = time.time()
        try:  # most requests are new: one round trip
            return await self._insert(
                LedgerEntry(request_id, ms_request_id, lease_until=now + lease_seconds, request_hash=request_hash)
            )
        except RowExists:
            pass
        entry = await self._read(request_id)
        if entry is None:
            raise busy(request_id)
        if (
            entry.outcome_known
            and entry.outcome == "failed"
            and (entry.retryable or entry.request_hash != request_hash)
        ):
            if entry.lease_until > now:
                raise busy(request_id)
            reopened = replace(
                entry, state="received", outcome=None, retryable=None, event_id=None, event_json=None,
                request_hash=request_hash, attempts=entry.attempts + 1, lease_until=now + lease_seconds, updated_at=now,
            )  # fmt: skip
            return await self._replace(reopened)
        if entry.outcome_known:
            return entry
        if entry.lease_until > now:
            raise busy(request_id)
        claimed = replace(entry, attempts=entry.attempts + 1, lease_until=now + lease_seconds, updated_at=now)
        if entry.exhausted_from is not None:  # a replay of a poisoned request: resume where it stopped
            claimed = replace(claimed, state=entry.exhausted_from, exhausted_from=None, event_id=None, event_json=None)
        return await self._replace(claimed)

    async def release(self, entry: LedgerEntry) -> None:
        """End this delivery's hold on the request (after a transient failure), so the next one need not wait."""
        with contextlib.suppress(OnboardingError):
            await self._replace(replace(entry, lease_until=0.0, updated_at=time.time()))

    async def read(self, request_id: str) -> LedgerEntry | None:
        """The row of a request, if any; raises OnboardingError(TRANSIENT) when storage fails."""
        return await self._read(request_id)

    async def record_exhausted(self, request_id: str, ms_request_id: str, event_id: str, event_json: str) -> None:
        """Mark a poisoned request failed (retries_exhausted), remembering where a replay should resume."""
        entry = await self._read(request_id)
        if entry is None:
            try:
                await self._insert(
                    LedgerEntry(request_id, ms_request_id, state="failed", exhausted_from="received",
                                event_id=event_id, event_json=event_json)
                )  # fmt: skip
            except RowExists:
                raise busy(request_id) from None
            return
        resume = entry.exhausted_from or entry.state
        await self._replace(
            replace(entry, state="failed", exhausted_from=resume, event_id=event_id, event_json=event_json,
                    lease_until=0.0, updated_at=time.time())
        )  # fmt: skip

    async def advance(self, entry: LedgerEntry, state: State, **changes: Any) -> LedgerEntry:
        """Move the request to `state` (and record `changes`) if nobody else moved it; raises OnboardingError."""
        moved = replace(entry, state=state, updated_at=time.time(), **changes)
        if state in ("created", "failed"):  # decided: no delivery needs to hold it any more
            moved = replace(moved, lease_until=0.0)
        return await self._replace(moved)


class InMemoryLedger(LedgerBase):
    """A ledger in this process's memory: for tests and for running without a storage account (one worker)."""

    def __init__(self) -> None:
        self.rows: dict[str, LedgerEntry] = {}
        self._version = 0

    def _stamp(self, entry: LedgerEntry) -> LedgerEntry:
        self._version += 1
        stamped = replace(entry, etag=str(self._version))
        self.rows[entry.request_id] = stamped
        return stamped

    async def _read(self, request_id: str) -> LedgerEntry | None:
        return self.rows.get(request_id)

    async def _insert(self, entry: LedgerEntry) -> LedgerEntry:
        if entry.request_id in self.rows:
            raise RowExists(entry.request_id)
        return self._stamp(entry)

    async def _replace(self, entry: LedgerEntry) -> LedgerEntry:
        current = self.rows.get(entry.request_id)
        if current is None or current.etag != entry.etag:
            raise busy(entry.request_id)
        return self._stamp(entry)
