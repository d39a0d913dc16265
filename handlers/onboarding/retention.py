"""Retention: what the ledger and the HTTP intake keep, and for how long (the daily purge_ledger timer).

- **Decided ledger rows** hold the outcome event — for a failure, the request's echo: names, e-mail, address — so
  each is kept ONBOARDING_LEDGER_RETENTION_DAYS (default 90) after its last write, then deleted. A request delivered
  again after that is a new request: Partner Center's MS-RequestId idempotency and the pre-flight domain check still
  make it at most one customer (its own domain is taken by then, so it ends `domain_unavailable`).
- **Undecided ledger rows** (received or creating, no outcome) untouched ONBOARDING_UNDECIDED_RETENTION_DAYS (30)
  are deleted over two runs, never one. The first alerts — an error with the `alert` dimension
  `undecided_request_expiring`, one per row, naming the request and saying whether a create went out — and records
  the alert on the row (not its `updated_at`). A later run deletes the row once that alert is a week old
  (NOTICE_DAYS) and nothing has written the row since. Deleting in the alerting run would leave the person nothing to
  look at, and a row that reached `creating` is the only trace of a customer that may exist with no outcome
  reported; recording the alert also means that a first run over years of old rows alerts before it deletes.
- **Intake rows** (by requestId, Salesforce notification and CRM record) last written ONBOARDING_INTAKE_RETENTION_DAYS
  (90) ago are deleted once the ledger holds no row of their request. Until then a row decides what a resend does,
  and a CRM record's row keeps "one record, one customer"; after it, a missing intake row and one whose request the
  ledger has forgotten lead to the same answer, so deleting it changes nothing but what is kept. A row a caller may
  still be sending (`sending`, within the takeover window) is never deleted.

Every delete is conditional on the row's ETag, so a row written meanwhile is kept; the rows come in bounded pages.
Parked messages expire by themselves (PARKED_MESSAGE_TTL_DAYS: adapters/parking.py).
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import replace
from typing import TypeVar

from handlers.domain.config import PipelineConfig
from handlers.domain.failures import OnboardingError
from handlers.domain.intake_record import IntakeRecord
from handlers.domain.ledger_entry import LedgerEntry
from handlers.domain.ports import LedgerRows, RetainedRecords, RowChanged, WriteUnknown
from handlers.onboarding.ledger import Ledger

log = logging.getLogger("csp_onboarding")
T = TypeVar("T")
DAY = 86400.0
NOTICE_DAYS = 7  # between the alert on an undecided row and its deletion: time for a person to look
BATCH = 500
UNDECIDED_ALERT = "undecided_request_expiring"  # the `alert` dimension an Azure Monitor alert filters on


async def apply_retention(ledger: Ledger, intake: RetainedRecords | None, config: PipelineConfig) -> None:
    """Apply every rule above, the ledger's first (an intake row waits for its ledger row); each rule runs even when
    an earlier one failed, and the first failure is raised after. Raises OnboardingError."""
    rules: list[Callable[[], Awaitable[object]]] = [
        lambda: purge_expired(ledger, retention_days=config.retention_days),
        lambda: purge_undecided(ledger, retention_days=config.undecided_retention_days),
    ]
    if intake is not None:
        takeover = config.timing.intake_takeover_after
        rules.append(lambda: purge_intake(intake, ledger, retention_days=config.intake_retention_days,
                                          takeover_after=takeover))  # fmt: skip
    failures: list[OnboardingError] = []
    for rule in rules:
        try:
            await rule()
        except OnboardingError as exc:
            failures.append(exc)
    if failures:
        raise failures[0]


async def purge_expired(ledger: Ledger, *, retention_days: int) -> int:
    """Delete the rows decided more than `retention_days` ago; returns how many. Raises OnboardingError."""
    purged = await ledger.purge_decided(older_than_seconds=retention_days * DAY)
    log.info("Ledger retention: %d decided rows older than %d days deleted", purged, retention_days)
    return purged


async def purge_undecided(ledger: Ledger, *, retention_days: int, batch: int = BATCH) -> tuple[int, int]:
    """Alert on the undecided rows untouched `retention_days`; delete those alerted on NOTICE_DAYS ago and untouched
    since. Returns (alerted, deleted). Raises OnboardingError."""
    now, alerted, deleted = ledger.now(), 0, 0
    cutoff = now - retention_days * DAY

    def page(after: str) -> Awaitable[list[LedgerEntry]]:
        return ledger.rows.undecided_before(cutoff, after=after, limit=batch)

    async for entry in _pages(page, batch, key=lambda e: e.request_id):
        if ledger.is_held(entry):
            continue
        alerted_at = entry.expiry_alerted_at if entry.expiry_alerted else None
        if alerted_at is None:
            alerted += await _alert(ledger.rows, entry, now)
        elif now - alerted_at >= NOTICE_DAYS * DAY and await _delete(ledger.rows, entry):
            deleted += 1
    log.info("Ledger retention: %d undecided rows untouched for %d days alerted on, %d deleted after the alert",
             alerted, retention_days, deleted)  # fmt: skip
    return alerted, deleted


async def _delete(rows: LedgerRows, entry: LedgerEntry) -> bool:
    """Delete the row as read (its ETag); False when it was written meanwhile."""
    if entry.etag is None or not await rows.purge(entry.request_id, entry.etag):
        return False
    log.warning("Request %s deleted from the ledger: no outcome, and untouched since its alert at least %d days ago",
                entry.request_id, NOTICE_DAYS, extra={"requestId": entry.request_id})  # fmt: skip
    return True


async def _alert(rows: LedgerRows, entry: LedgerEntry, now: float) -> int:
    """Record the alert on the row (if nobody wrote it meanwhile), then log it; 1 when alerted."""
    try:
        await rows.replace(replace(entry, expiry_alerted_at=now))
    except RowChanged:
        return 0  # written meanwhile: no longer untouched
    except WriteUnknown:
        pass  # it may not have committed: then the next run alerts again, which is better than no alert
    if entry.customer_id is not None:
        trace = f"its customer {entry.customer_id} was created; the outcome was never published"
    elif entry.creating_since is not None:
        trace = f"a create for {entry.domain} went out with no answer recorded: look for it in Partner Center"
    else:
        trace = "no create went out"
    log.error(
        "Request %s has had no outcome for %d days (%s, %s). Its ledger row is deleted in %d days unless it moves: "
        "send the request again to finish it, or look first", entry.request_id, (now - entry.updated_at) // DAY,
        entry.state, trace, NOTICE_DAYS, extra={"alert": UNDECIDED_ALERT, "requestId": entry.request_id},
    )  # fmt: skip
    return 1


async def purge_intake(
    records: RetainedRecords, ledger: Ledger, *, retention_days: int, takeover_after: float, batch: int = BATCH
) -> int:
    """Delete the intake rows last written more than `retention_days` ago whose request the ledger no longer holds,
    but none a caller may still be sending; returns how many. Raises OnboardingError."""
    now, deleted = ledger.now(), 0
    cutoff = now - retention_days * DAY

    def page(after: str) -> Awaitable[list[IntakeRecord]]:
        return records.written_before(cutoff, after=after, limit=batch)

    async for record in _pages(page, batch, key=lambda r: r.key):
        if record.being_sent(now, takeover_after) or await ledger.read(record.request_id) is not None:
            continue  # a live sender; or the ledger still holds its request, which the row speaks for
        deleted += await records.delete(record)
    log.info("Intake retention: %d rows older than %d days, of requests the ledger no longer holds, deleted",
             deleted, retention_days)  # fmt: skip
    return deleted


async def _pages(
    fetch: Callable[[str], Awaitable[list[T]]], batch: int, *, key: Callable[[T], str]
) -> AsyncIterator[T]:
    """Every row of `fetch`'s pages, each page starting after the last key of the one before (a row kept stays
    behind)."""
    after = ""
    while True:
        rows = await fetch(after)
        for row in rows:
            yield row
        if len(rows) < batch:
            return
        after = key(rows[-1])
