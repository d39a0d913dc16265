"""The backfill's online steps: pre-flight on the app's shared Partner Center budget, enqueue once (as the HTTP intake
does), follow the outcomes in the ledger. Progress bars go to stderr."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections import Counter
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from tqdm import tqdm

from handlers.api import (
    Busy,
    CloudEvent,
    CreatedData,
    Dependencies,
    ErrorKind,
    FailedData,
    FieldError,
    IntakeDependencies,
    LedgerEntry,
    OnboardingError,
    claim_record,
    domain_for,
    enqueue_once,
    failure_from_error,
    run_preflight,
)
from ops.backfill.report import RowOutcome
from ops.backfill.rows import Row

T = TypeVar("T")
DECIDED = ("created", "failed")
PENDING = RowOutcome("pending")


async def _each(rows: list[Row], work: Callable[[Row], Awaitable[T]], *, concurrency: int, bar: tqdm[Any]) -> list[T]:
    """`work` for every row, `concurrency` at a time, ticking the bar."""
    limit = asyncio.Semaphore(concurrency)

    async def one(row: Row) -> T:
        async with limit:
            result = await work(row)
        bar.update(1)
        return result

    return list(await asyncio.gather(*(one(row) for row in rows)))


async def preflight(rows: list[Row], deps: Dependencies, *, concurrency: int = 16) -> int:
    """Run the pre-flight for each valid row through the Partner Center client, on the app's shared budget; a
    refusal becomes the row's errors. Returns how many rows it refused; raises OnboardingError when Partner Center
    cannot be asked."""

    async def check(row: Row) -> bool:
        assert row.request is not None
        try:
            await run_preflight(
                row.request, deps.partner_center, deps.rules_cache,
                domain=domain_for(row.request, deps.config.domain_suffix),
                ms_request_id=str(uuid.uuid4()), validate_address=deps.config.validate_address,
            )  # fmt: skip
        except OnboardingError as exc:
            if exc.kind in (ErrorKind.TRANSIENT, ErrorKind.AUTH):
                raise
            failure = failure_from_error(exc)
            row.errors.extend(failure.errors or [FieldError(field=None, code=failure.reason.value,
                                                            message=failure.message)])  # fmt: skip
            return False
        return True

    valid = [r for r in rows if r.valid]
    with tqdm(total=len(valid), desc="pre-flight", unit="row") as bar:
        results = await _each(valid, check, concurrency=concurrency, bar=bar)
    return results.count(False)


async def enqueue(rows: list[Row], deps: IntakeDependencies, *, concurrency: int = 16) -> dict[int, str]:
    """Enqueue each valid row once; by row: `sent`, `known` (enqueued before: a resumed run), `onboarded` (the CRM
    record's customer exists: the row now names the request that created it), `busy` (an earlier request of the
    same CRM record is still undecided: run again later). A row an interrupted run was sending a moment ago is
    waited for until its intake row may be taken over (the timing model's intake_takeover_after), then sent."""

    async def send(row: Row) -> str:
        assert row.request is not None
        if row.record_key is not None:
            try:
                created_by = await claim_record(row.record_key, row.request.requestId, deps)
            except Busy:
                return "busy"
            if created_by is not None:
                row.request_id = created_by
                return "onboarded"
        for attempt in range(2):
            try:
                return "sent" if await enqueue_once(row.request, deps) else "known"
            except Busy:  # a run interrupted while sending it, a moment ago: its row is taken over once stale
                if attempt:
                    break
                await asyncio.sleep(deps.config.timing.intake_takeover_after)
        return "busy"

    valid = [r for r in rows if r.valid]
    with tqdm(total=len(valid), desc="enqueue", unit="row") as bar:
        statuses = await _each(valid, send, concurrency=concurrency, bar=bar)
    return {row.number: status for row, status in zip(valid, statuses, strict=True)}


def outcome_of(entry: LedgerEntry | None) -> RowOutcome:
    """A row's outcome from its ledger row."""
    if entry is None:
        return RowOutcome("pending")
    if entry.decided is None or entry.event_json is None:
        return RowOutcome("pending" if entry.state == "received" else entry.state)
    data = CloudEvent.model_validate_json(entry.event_json).data
    if isinstance(data, CreatedData):
        return RowOutcome("created", data.customerId, data.tenantId, data.domain)
    assert isinstance(data, FailedData)
    return RowOutcome("failed", reason=data.reason.value, message=data.message)


async def follow(
    rows: list[Row], deps: IntakeDependencies, *, seconds: float, interval: float = 2.0, concurrency: int = 32
) -> dict[int, RowOutcome]:
    """Read the ledger until every row given is decided or `seconds` pass; a bar shows created / failed by
    reason / pending."""
    outcomes: dict[int, RowOutcome] = {}
    deadline = time.monotonic() + seconds
    limit = asyncio.Semaphore(concurrency)

    async def read(row: Row) -> None:
        async with limit:
            outcomes[row.number] = outcome_of(await deps.ledger.read(str(row.request_id)))

    with tqdm(total=len(rows), desc="outcomes", unit="row") as bar:
        while True:
            await asyncio.gather(*(read(r) for r in rows if outcomes.get(r.number, PENDING).state not in DECIDED))
            states = Counter(o.state if o.state != "failed" else f"failed:{o.reason}" for o in outcomes.values())
            done = sum(1 for o in outcomes.values() if o.state in DECIDED)
            bar.update(done - bar.n)
            bar.set_postfix(dict(sorted(states.items())), refresh=True)
            if done == len(rows) or time.monotonic() > deadline:
                return outcomes
            await asyncio.sleep(interval)
