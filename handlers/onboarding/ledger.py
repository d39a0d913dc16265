"""The ledger: one row per requestId recording how far its onboarding got — the state machine behind "exactly once".

    (none) ─claim─► received ─pre-flight passed─► creating ─customer known─► creating + customer ─► created
                       │                              │
                       └──────── refused ─────────────┴──► failed
    received / creating ─poison, no live claim─► failed, exhausted_from = the state to resume from
    failed (retryable, or the request changed) ─claim─► received, or creating if a create ever went out
    failed, exhausted ─claim (a replay)─► the state it stopped in

The MCA attestation (issue 16), a second step on a `created` row, never touching the customer's outcome:

    created + agreement pending ─claim_agreement─► held (created_published) ─decide_agreement─► confirmed | failed
    created + agreement failed (retryable) ─claim_agreement─► held, pending again

Rules the transitions keep:
- **Owned claims.** A claim writes a fresh owner token and a lease (`timing.TimingModel.lease`); while the lease
  runs, other deliveries are refused as busy. The owner frees the request when its delivery ends undecided.
- **Outcomes only get stronger.** created > failed > exhausted (failed by the poison path) > undecided; for the
  agreement, confirmed > failed > pending. A write
  that loses a race re-reads the row: a weaker outcome never replaces a stronger one, and a failure never replaces
  a row that another delivery holds right now.
- **Evidence is kept.** `creating_since` is set when a create first goes out and never cleared: a row that reached
  `creating` never returns to `received`, so a later "domain taken" can be recognised as possibly our own tenant.
- **Lost answers are recognised.** Every write carries a new `write_id`; when storage commits a write but the
  answer is lost, re-reading the row shows whose write it was.
The admin password is never on a row.
"""

from __future__ import annotations

import json
import logging
import time
import uuid
from collections.abc import Callable
from dataclasses import replace
from typing import Any, Literal

from handlers.domain.failures import ErrorKind, OnboardingError
from handlers.domain.ledger_entry import (
    AgreementState,
    Decision,
    LedgerEntry,
    OtherClaim,
    Outcome,
    State,
    claim_among,
    held_elsewhere,
    sent_names,
)
from handlers.domain.ports import LedgerRows, RowChanged, RowExists, WriteUnknown

log = logging.getLogger("csp_onboarding")

_RANK: dict[Outcome | None, int] = {None: 0, "exhausted": 1, "failed": 2, "created": 3}


class Ledger:
    """The state machine over a row store (Azure Table in production, memory in tests)."""

    def __init__(self, rows: LedgerRows, *, clock: Callable[[], float] = time.time) -> None:
        self.rows = rows
        self._clock = clock

    async def read(self, request_id: str) -> LedgerEntry | None:
        """The row of a request, if any; raises OnboardingError(TRANSIENT) when storage fails."""
        return await self.rows.read(request_id)

    def now(self) -> float:
        """The ledger's clock (leases, `creating_since`): the one every timing decision on its rows reads."""
        return self._clock()

    async def other_claim(
        self, customer_id: str, domain: str, mine: LedgerEntry, *, is_named: Callable[[list[str]], bool]
    ) -> OtherClaim | None:
        """Another request's claim on a listed customer (`ledger_entry.claim_among`), or None; raises
        OnboardingError(TRANSIENT)."""
        rows = await self.rows.naming(customer_id, domain, besides=mine.request_id)
        return claim_among(rows, customer_id, domain, mine, is_named=is_named)

    def is_held(self, entry: LedgerEntry) -> bool:
        """Whether a delivery holds the request right now."""
        return entry.held(self._clock())

    async def claim(
        self, request_id: str, ms_request_id: str, *, lease_seconds: float, request_hash: str | None = None
    ) -> LedgerEntry:
        """Take the request for this delivery (the entry's `owner` is the claim), or return its decided outcome to
        publish again; raises OnboardingError(TRANSIENT) while another delivery holds it."""
        owner = uuid.uuid4().hex
        now = self._clock()
        fresh = LedgerEntry(
            request_id, ms_request_id, owner=owner, lease_until=now + lease_seconds, request_hash=request_hash
        )
        try:  # most requests are new: one round trip
            return await self._write(fresh, insert=True)
        except RowExists:
            pass
        for _ in range(3):
            entry = await self.rows.read(request_id)
            if entry is None:
                break
            taken = self._take(entry, owner, now, lease_seconds, request_hash)
            if taken is entry:
                return entry
            try:
                return await self._write(taken)
            except RowChanged:
                continue
        raise held_elsewhere(request_id)

    def _take(
        self, entry: LedgerEntry, owner: str, now: float, lease_seconds: float, request_hash: str | None
    ) -> LedgerEntry:
        """The row as this claim would leave it: the entry itself when it only needs publishing again."""
        decided = entry.decided
        if decided == "created":
            return entry
        if decided == "failed" and not (entry.retryable or entry.request_hash != request_hash):
            return entry
        if entry.held(now):
            raise held_elsewhere(entry.request_id)
        if decided == "failed":  # the CRM fixed the request, or a later try may pass: onboard it again
            resume: State = "creating" if entry.creating_since is not None else "received"
        elif decided == "exhausted":  # a replay after an outage: go on where it stopped
            resume = entry.exhausted_from or "received"
        else:
            resume = entry.state
        return replace(
            entry, owner=owner, lease_until=now + lease_seconds, attempts=entry.attempts + 1, updated_at=now,
            state=resume, request_hash=request_hash, outcome=None, event_id=None, event_json=None, retryable=None,
            exhausted_from=None, generation=entry.generation + (1 if decided is not None else 0),
        )  # fmt: skip

    async def start_create(
        self, entry: LedgerEntry, *, domain: str, checked_hash: str | None, company_name: str
    ) -> LedgerEntry:
        """Record that a create for `domain`, naming `company_name`, is about to go out (→ creating, its outcome
        unknown until Partner Center answers it for good); raises OnboardingError."""
        now = self._clock()
        names = sent_names(entry)
        moved = replace(
            entry, state="creating", domain=domain, checked_hash=checked_hash, updated_at=now, create_unknown=True,
            creating_since=entry.creating_since if entry.creating_since is not None else now,
            sent_names=json.dumps([*names, company_name] if company_name not in names else names, ensure_ascii=False),
        )  # fmt: skip
        return await self._write_owned(moved)

    async def record_customer(self, entry: LedgerEntry, **customer: Any) -> LedgerEntry:
        """Record the created customer (before anything else can fail); raises OnboardingError."""
        return await self._write_owned(replace(entry, updated_at=self._clock(), **customer))

    async def decide(self, entry: LedgerEntry, decision: Decision, *, hold_seconds: float = 0.0) -> LedgerEntry:
        """Store an outcome; returns the row as it then stands — which says another outcome when a stronger one
        was stored first, or none when the row moved on meanwhile (publish only what the row says).

        Only `created` replaces a row that changed since `entry` was read (a weaker outcome, or a request another
        delivery took over and may have created meanwhile). A failure is stored held for `hold_seconds`: until its
        publisher releases it (after publishing), no resend can reopen it and publish a newer outcome first."""
        decided = self._decided(entry, decision, hold_seconds)
        for _ in range(3):
            try:
                return await self._write(decided, insert=decided.etag is None)
            except (RowChanged, RowExists):
                current = await self.rows.read(entry.request_id)
                if current is None:
                    decided = replace(decided, etag=None)
                    continue
                if _RANK[current.decided] >= _RANK[decision.outcome] or decision.outcome != "created":
                    return current
                decided = self._decided(current, decision, hold_seconds)
        raise held_elsewhere(entry.request_id)

    def _decided(self, entry: LedgerEntry, decision: Decision, hold_seconds: float = 0.0) -> LedgerEntry:
        exhausted = decision.outcome == "exhausted"
        outcome: Literal["created", "failed"] = "created" if decision.outcome == "created" else "failed"
        holder = None if outcome == "created" or not hold_seconds else (entry.owner or uuid.uuid4().hex)
        return replace(
            entry, **decision.changes,
            state=outcome,
            outcome=outcome,
            exhausted_from=(entry.exhausted_from or entry.state) if exhausted else None,
            event_id=decision.event_id, event_json=decision.event_json, retryable=decision.retryable,
            owner=holder, lease_until=self._clock() + hold_seconds if holder else 0.0, updated_at=self._clock(),
        )  # fmt: skip

    async def claim_agreement(self, entry: LedgerEntry, *, lease_seconds: float) -> LedgerEntry:
        """Take a created request's open attestation for this delivery (created_published is recorded with it).
        Returns the row another delivery decided meanwhile (then `agreement_open` is False); raises
        OnboardingError(TRANSIENT) while another delivery holds it."""
        for _ in range(3):
            now = self._clock()
            if not entry.agreement_open:
                return entry
            if entry.held(now):
                raise held_elsewhere(entry.request_id)
            taken = replace(
                entry, owner=uuid.uuid4().hex, lease_until=now + lease_seconds, created_published=True,
                agreement="pending", agreement_event_json=None, agreement_retryable=None, updated_at=now,
            )  # fmt: skip
            try:
                return await self._write(taken)
            except RowChanged:
                current = await self.rows.read(entry.request_id)
                if current is None:
                    break
                entry = current
        raise held_elsewhere(entry.request_id)

    async def decide_agreement(
        self, entry: LedgerEntry, *, confirmed: bool, event_json: str, retryable: bool | None = None
    ) -> LedgerEntry:
        """Store the attestation's outcome and end the hold; returns the row as it then stands (a confirmed
        attestation is never replaced by a failure). Raises OnboardingError(TRANSIENT)."""
        state: AgreementState = "confirmed" if confirmed else "failed"
        for _ in range(3):
            decided = replace(
                entry, agreement=state, agreement_event_json=event_json, created_published=True,
                agreement_retryable=None if confirmed else retryable, owner=None, lease_until=0.0,
                updated_at=self._clock(),
            )  # fmt: skip
            try:
                return await self._write(decided)
            except RowChanged:
                current = await self.rows.read(entry.request_id)
                if current is None or current.agreement == "confirmed":
                    return current or entry
                if not confirmed and current.held(self._clock()) and current.owner != entry.owner:
                    return current  # another delivery attests right now: it decides
                entry = current
        raise held_elsewhere(entry.request_id)

    async def release(self, entry: LedgerEntry) -> None:
        """End this delivery's hold on the request (undecided, a failure it has published, or an attestation) so the
        next delivery need not wait; never raises."""
        if entry.owner is None:
            return
        try:
            await self._write(replace(entry, owner=None, lease_until=0.0, updated_at=self._clock()))
        except (RowChanged, OnboardingError) as exc:
            log.warning("Could not release request %s (%s): its lease will run out", entry.request_id, exc)

    async def purge_decided(self, *, older_than_seconds: float, batch: int = 500) -> int:
        """Delete decided rows last written more than `older_than_seconds` ago (retention); returns how many. A row
        written meanwhile is kept. Raises OnboardingError when storage fails."""
        cutoff = self._clock() - older_than_seconds
        purged = 0
        while True:
            old = await self.rows.decided_before(cutoff, limit=batch)
            for entry in old:
                if entry.etag is not None and await self.rows.purge(entry.request_id, entry.etag):
                    purged += 1
            if len(old) < batch:
                return purged

    async def _write_owned(self, entry: LedgerEntry) -> LedgerEntry:
        try:
            return await self._write(entry)
        except RowChanged:
            raise held_elsewhere(entry.request_id) from None

    async def _write(self, entry: LedgerEntry, *, insert: bool = False) -> LedgerEntry:
        """Insert or conditionally replace the row. Raises RowExists / RowChanged when another write won,
        OnboardingError when storage fails.

        A write whose answer was lost may have committed — and the storage client may even have resent it, so
        that our own committed write answers 412 to its resend. So a lost answer or a conflict is settled by
        reading the row back: our write id on it means the write is ours."""
        mine = replace(entry, write_id=uuid.uuid4().hex)
        conflict = RowExists(entry.request_id) if insert else RowChanged(entry.request_id)
        for _ in range(2):
            try:
                return await (self.rows.insert(mine) if insert else self.rows.replace(mine))
            except WriteUnknown:
                lost = True
            except (RowChanged, RowExists):
                lost = False
            current = await self.rows.read(entry.request_id)
            if current is not None and current.write_id == mine.write_id:
                return current  # committed; only the answer was lost
            unchanged = current is None if insert else (current is not None and current.etag == entry.etag)
            if not (lost and unchanged):
                raise conflict from None
        raise OnboardingError(ErrorKind.TRANSIENT, f"ledger write for {entry.request_id}: no answer, twice")
