"""Retention (issue 21, finding 8): undecided ledger rows were kept forever. The daily timer now alerts on them and
deletes them a week later; a row written meanwhile is kept."""

from __future__ import annotations

import logging
from dataclasses import replace

import pytest

from handlers.domain.ledger_entry import LedgerEntry
from handlers.onboarding.dependencies import Dependencies
from handlers.onboarding.ledger import Ledger
from handlers.onboarding.retention import purge_undecided
from handlers.triggers import purge_ledger_of
from tests.fakes import FakeLedgerRows, dependencies
from tests.fakes.ledger import CREATED, LEASE
from tests.fakes.storage import Clock

DAY = 86400.0
ALERT = "undecided_request_expiring"


@pytest.fixture
def clock() -> Clock:
    clock = Clock()
    clock.now = 1_800_000_000.0
    return clock


@pytest.fixture
def rows() -> FakeLedgerRows:
    return FakeLedgerRows()


@pytest.fixture
def ledger(rows: FakeLedgerRows, clock: Clock) -> Ledger:
    return Ledger(rows, clock=clock)


@pytest.fixture
def deps(ledger: Ledger) -> Dependencies:
    return dependencies(ledger=ledger)


async def undecided(ledger: Ledger, request_id: str, *, domain: str | None = None) -> LedgerEntry:
    """A request claimed (and, with `domain`, whose create went out), then left: its delivery ended undecided."""
    entry = await ledger.claim(request_id, f"m-{request_id}", lease_seconds=LEASE)
    if domain is not None:
        entry = await ledger.start_create(entry, domain=domain, checked_hash="h", company_name="Wingtip Toys AB")
    await ledger.release(entry)
    found = await ledger.read(request_id)
    assert found is not None and found.decided is None
    return found


def alerts(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [r for r in caplog.records if getattr(r, "alert", None) == ALERT]


async def test_an_undecided_row_is_alerted_on_first_and_deleted_a_week_later(
    deps: Dependencies, rows: FakeLedgerRows, clock: Clock, caplog: pytest.LogCaptureFixture
) -> None:
    await undecided(deps.ledger, "r-left")
    await undecided(deps.ledger, "r-creating", domain="wingtiptoys.onmicrosoft.com")
    clock.now += 29 * DAY
    await undecided(deps.ledger, "r-recent")  # untouched 1 day when the others reach 30
    await purge_ledger_of(b"", deps)
    assert alerts(caplog) == []  # 29 days: nothing yet
    clock.now += DAY + 1
    await purge_ledger_of(b"", deps)
    raised = {str(getattr(r, "requestId", None)): r for r in alerts(caplog)}  # each names its request
    assert sorted(raised) == ["r-creating", "r-left"] and all(r.levelno == logging.ERROR for r in raised.values())
    creating = raised["r-creating"].getMessage()
    assert "r-creating" in creating and "wingtiptoys.onmicrosoft.com" in creating and "Partner Center" in creating
    assert sorted(rows.rows) == ["r-creating", "r-left", "r-recent"]  # alerted, not deleted: a person looks first
    for _ in range(6):  # the daily runs of the week after the alert: kept, and no second alert
        clock.now += DAY
        await purge_ledger_of(b"", deps)
    assert sorted(rows.rows) == ["r-creating", "r-left", "r-recent"] and len(alerts(caplog)) == 2
    clock.now += DAY
    await purge_ledger_of(b"", deps)
    assert sorted(rows.rows) == ["r-recent"]


async def test_a_first_run_over_long_forgotten_rows_alerts_and_deletes_nothing(
    ledger: Ledger, rows: FakeLedgerRows, clock: Clock, caplog: pytest.LogCaptureFixture
) -> None:
    for i in range(5):
        await undecided(ledger, f"r-{i}")
    clock.now += 400 * DAY
    assert await purge_undecided(ledger, retention_days=30, batch=2) == (5, 0)  # pages past the rows it keeps
    assert len(rows.rows) == 5 and len(alerts(caplog)) == 5


async def test_a_row_written_after_its_alert_is_kept_and_alerted_on_again_only_when_left_again(
    ledger: Ledger, rows: FakeLedgerRows, clock: Clock, caplog: pytest.LogCaptureFixture
) -> None:
    await undecided(ledger, "r-1")
    clock.now += 31 * DAY
    await purge_undecided(ledger, retention_days=30)
    clock.now += 3 * DAY
    await undecided(ledger, "r-1")  # a replay claims it, and its delivery ends undecided again
    clock.now += 5 * DAY
    assert await purge_undecided(ledger, retention_days=30) == (0, 0)  # the alert is void; 5 days untouched
    clock.now += 26 * DAY
    assert await purge_undecided(ledger, retention_days=30) == (1, 0)  # a new alert before any delete
    assert len(alerts(caplog)) == 2 and "r-1" in rows.rows


class WrittenMeanwhile(FakeLedgerRows):
    """Every row the retention query finds is written by a delivery right after (a redelivery claiming it)."""

    async def undecided_before(self, cutoff: float, *, after: str, limit: int) -> list[LedgerEntry]:
        found = await super().undecided_before(cutoff, after=after, limit=limit)
        for entry in found:
            self._stamp(replace(entry, attempts=entry.attempts + 1))
        return found


async def test_a_row_written_between_the_query_and_the_alert_or_the_delete_is_kept(
    clock: Clock, caplog: pytest.LogCaptureFixture
) -> None:
    rows = FakeLedgerRows()
    ledger = Ledger(rows, clock=clock)
    await undecided(ledger, "r-1")
    clock.now += 31 * DAY
    moving = WrittenMeanwhile()
    moving.rows, moving._version = dict(rows.rows), rows._version  # the same rows, and no ETag given twice
    assert await purge_undecided(Ledger(moving, clock=clock), retention_days=30) == (0, 0)  # no alert: it moved
    assert alerts(caplog) == []
    await purge_undecided(ledger, retention_days=30)  # alerted
    moving.rows, moving._version = dict(rows.rows), rows._version
    clock.now += 8 * DAY
    assert await purge_undecided(Ledger(moving, clock=clock), retention_days=30) == (0, 0)
    assert "r-1" in moving.rows  # the delete was conditional on the ETag it read


async def test_decided_rows_are_left_to_their_own_retention(ledger: Ledger, rows: FakeLedgerRows, clock: Clock) -> None:
    await ledger.decide(await ledger.claim("r-1", "m-1", lease_seconds=LEASE), CREATED)
    clock.now += 60 * DAY
    assert await purge_undecided(ledger, retention_days=30) == (0, 0) and "r-1" in rows.rows
