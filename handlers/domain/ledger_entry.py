"""A ledger row: what the ledger knows about one request, and the decisions stored on it (onboarding/ledger.py holds
the state machine that moves it)."""

from __future__ import annotations

import json
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

from handlers.domain.failures import ErrorKind, OnboardingError

State = Literal["received", "creating", "created", "failed"]
Outcome = Literal["created", "failed", "exhausted"]
AgreementState = Literal["pending", "confirmed", "failed"]


@dataclass(frozen=True)
class LedgerEntry:
    """What the ledger knows about one request (one row)."""

    request_id: str
    ms_request_id: str
    state: State = "received"
    owner: str | None = None  # the claim holding the request, while one does
    lease_until: float = 0.0
    attempts: int = 1
    creating_since: float | None = None  # when a create first went out: evidence, never cleared
    create_unknown: bool | None = None  # a create for `domain` went out and no definitive answer came back yet
    sent_names: str | None = None  # JSON list of the company names creates went out with (adoption compares)
    generation: int = 0  # how often a decided failure was reopened: part of a failed event's identity
    domain: str | None = None  # the domain that create was for
    checked_hash: str | None = None  # the request content that passed pre-flight
    customer_id: str | None = None
    tenant_id: str | None = None
    commerce_id: str | None = None
    customer_json: str | None = None  # the created event's data, no secret: enough to report the customer
    event_id: str | None = None
    event_json: str | None = None  # the outcome event, published again on every redelivery
    exhausted_from: State | None = None  # set by the poison path: where a replay resumes
    outcome: Literal["created", "failed"] | None = None  # what the stored event says
    retryable: bool | None = None  # for a failure: may the same request, unchanged, succeed later?
    request_hash: str | None = None  # what Partner Center receives for this request, hashed
    agreement: AgreementState | None = None  # the MCA attestation, for a request carrying mcaAcceptance
    agreement_event_json: str | None = None  # its outcome event (agreement.confirmed / agreement.failed)
    agreement_retryable: bool | None = None  # for agreement failed: may a later delivery attest after all?
    created_published: bool = False  # the created event went out before the attestation was first tried
    expiry_alerted_at: float | None = None  # retention alerted that this undecided row is to be deleted (see below)
    write_id: str | None = None
    created_at: float = field(default_factory=time.time)
    updated_at: float = field(default_factory=time.time)
    etag: str | None = None

    @property
    def decided(self) -> Outcome | None:
        """The stored outcome, if any: created, failed, or exhausted (a poisoned request a replay may resume)."""
        if self.event_json is None or self.outcome is None:
            return None
        return "exhausted" if self.exhausted_from is not None else self.outcome

    @property
    def outcome_known(self) -> bool:
        """Decided for good: a redelivery only publishes the stored event again."""
        return self.decided in ("created", "failed")

    @property
    def expiry_alerted(self) -> bool:
        """Retention alerted on this undecided row and nothing wrote it since (every write but the alert's moves
        `updated_at`, which voids an older alert)."""
        return self.expiry_alerted_at is not None and self.expiry_alerted_at >= self.updated_at

    def held(self, now: float) -> bool:
        """Whether a delivery holds the request right now."""
        return self.owner is not None and self.lease_until > now

    @property
    def agreement_open(self) -> bool:
        """A created customer whose MCA attestation is still to do (pending, or failed in a way a retry may fix)."""
        return self.outcome == "created" and (
            self.agreement == "pending" or (self.agreement == "failed" and bool(self.agreement_retryable))
        )


@dataclass(frozen=True)
class Decision:
    """An outcome to store: its event, and what else the row should say."""

    outcome: Outcome
    event_id: str
    event_json: str
    retryable: bool | None = None
    changes: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class OtherClaim:
    """Another request's claim on a customer: `settled` when its row records the customer, else its create for the
    customer's domain went out first and is still unanswered (it may be that create's tenant)."""

    request_id: str
    settled: bool


def claim_among(
    rows: list[LedgerEntry], customer_id: str, domain: str, mine: LedgerEntry, *, is_named: Callable[[list[str]], bool]
) -> OtherClaim | None:
    """Among other requests' rows, the claim on a listed customer that adoption must respect: a row that records
    the customer (settled: not ours); else the first unanswered create for `domain` that named the customer's company
    (`is_named` over its sent names) and went out before ours — first by `creating_since`, then by requestId, so of
    two requests exactly one waits for the other (it may be that create's tenant). None when nobody else claims it."""
    recorded = next((r for r in rows if r.customer_id == customer_id), None)
    if recorded is not None:
        return OtherClaim(recorded.request_id, settled=True)

    def order(entry: LedgerEntry) -> tuple[float, str]:
        return (entry.creating_since if entry.creating_since is not None else math.inf, entry.request_id)

    earlier = [
        r
        for r in rows
        if r.customer_id is None and r.create_unknown and r.domain == domain and order(r) < order(mine)
        and is_named(sent_names(r))
    ]  # fmt: skip
    return OtherClaim(min(earlier, key=order).request_id, settled=False) if earlier else None


def sent_names(entry: LedgerEntry) -> list[str]:
    """The company names creates for this request went out with."""
    names = json.loads(entry.sent_names) if entry.sent_names else []
    return [str(name) for name in names] if isinstance(names, list) else []


def held_elsewhere(request_id: str) -> OnboardingError:
    """The transient error of a delivery that finds the request held by another one (the queue redelivers)."""
    return OnboardingError(
        ErrorKind.TRANSIENT, f"request {request_id} is being handled by another delivery; the queue will retry"
    )
