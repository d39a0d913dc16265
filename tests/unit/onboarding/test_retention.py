"""Retention (issue 21, finding 8): undecided ledger rows and intake rows were kept forever. The daily timer now
alerts on undecided rows and deletes them a week later, and deletes intake rows whose request the ledger forgot;
a row written meanwhile is kept, and so is a row a caller may still be sending."""

from __future__ import annotations

import logging
from dataclasses import replace

import pytest

from handlers.domain.failures import ErrorKind, OnboardingError
from handlers.domain.intake_record import IntakeRecord
from handlers.domain.ledger_entry import LedgerEntry
from handlers.onboarding.dependencies import Dependencies
from handlers.onboarding.ledger import Ledger
from handlers.onboarding.retention import purge_intake, purge_undecided
from handlers.triggers import purge_ledger_of
from tests.fakes import FakeIntakeRecords, FakeLedgerRows, dependencies
from tests.fakes.ledger import CREATED, LEASE
from tests.fakes.storage import Clock

DAY = 86400.0
ALERT = "undecided_request_expiring"


# The ledger, its rows and its clock are the fixtures of conftest.py.


@pytest.fixture
def records() -> FakeIntakeRecords:
    return FakeIntakeRecords()


@pytest.fixture
def deps(ledger: Ledger, records: FakeIntakeRecords) -> Dependencies:
    return replace(dependencies(ledger=ledger), intake_records=records)


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


def intake_row(key: str, request_id: str, written: float, *, sending: bool = False) -> IntakeRecord:
    return IntakeRecord(key, request_id, "hash", written, sending=sending)


async def test_intake_rows_go_once_old_and_once_the_ledger_forgot_their_request(
    deps: Dependencies, records: FakeIntakeRecords, clock: Clock
) -> None:
    # A CRM record onboarded as r-created (its guard row, its requestId row), a request never picked up (r-lost),
    # and one enqueued yesterday (r-new).
    created = await deps.ledger.decide(await deps.ledger.claim("r-created", "m-1", lease_seconds=LEASE), CREATED)
    start = clock.now
    for key, request_id in (
        ("record|dataverse|org|acc-1", "r-created"),
        ("r-created", "r-created"),
        ("r-lost", "r-lost"),
    ):
        await records.insert(intake_row(key, request_id, start))
    clock.now += 89 * DAY
    await records.insert(intake_row("r-new", "r-new", clock.now))
    await purge_ledger_of(b"", deps)
    assert len(records.rows) == 4  # 89 days: nothing is old enough
    clock.now += DAY + 1
    await deps.ledger.release(replace(created, owner="x"))  # the ledger row is written again: kept 90 days more
    await purge_ledger_of(b"", deps)
    # The record's rows stay while its request's ledger row does: they still say "one record, one customer".
    assert sorted(records.rows) == ["r-created", "r-new", "record|dataverse|org|acc-1"]
    clock.now += 90 * DAY + 1
    await purge_ledger_of(b"", deps)  # the ledger row goes, and the intake rows with it, in the same run
    assert await deps.ledger.read("r-created") is None and sorted(records.rows) == []


async def test_a_row_a_caller_may_still_be_sending_is_kept_and_a_dead_senders_is_not(
    ledger: Ledger, records: FakeIntakeRecords, clock: Clock
) -> None:
    # The takeover window is seconds and retention days, so a live sender's row is never that old; the rule still
    # holds with a window longer than the retention.
    now = clock.now
    await records.insert(intake_row("r-sending", "r-sending", now - 2 * DAY, sending=True))
    await records.insert(intake_row("r-dead", "r-dead", now - 4 * DAY, sending=True))
    await records.insert(intake_row("r-sent", "r-sent", now - 2 * DAY))
    assert await purge_intake(records, ledger, retention_days=1, takeover_after=3 * DAY) == 2
    assert sorted(records.rows) == ["r-sending"]


class RewrittenMeanwhile(FakeIntakeRecords):
    """Every row the retention query finds is written again right after (a CRM resends it)."""

    async def written_before(self, cutoff: float, *, after: str, limit: int) -> list[IntakeRecord]:
        found = await super().written_before(cutoff, after=after, limit=limit)
        for record in found:
            self._stamp(replace(record, updated_at=record.updated_at + 1))
        return found


async def test_an_intake_row_written_between_the_query_and_the_delete_is_kept(ledger: Ledger, clock: Clock) -> None:
    records = RewrittenMeanwhile()
    await records.insert(intake_row("r-1", "r-1", clock.now - 100 * DAY))
    assert await purge_intake(records, ledger, retention_days=90, takeover_after=30.0) == 0
    assert "r-1" in records.rows


async def test_intake_rows_are_paged_past_the_rows_kept(
    ledger: Ledger, records: FakeIntakeRecords, clock: Clock
) -> None:
    old = clock.now - 100 * DAY
    for i in range(7):
        request_id = f"r-{i}"
        if i % 2 == 0:  # the ledger still holds these
            await ledger.claim(request_id, f"m-{i}", lease_seconds=LEASE)
        await records.insert(intake_row(request_id, request_id, old))
    assert await purge_intake(records, ledger, retention_days=90, takeover_after=30.0, batch=2) == 3
    assert sorted(records.rows) == ["r-0", "r-2", "r-4", "r-6"]


class Unreachable(FakeLedgerRows):
    async def decided_before(self, cutoff: float, *, limit: int) -> list[LedgerEntry]:
        raise OnboardingError(ErrorKind.TRANSIENT, "storage query failed (HTTP 503)")


async def test_each_rule_runs_when_another_fails_and_the_failure_is_raised_after(
    clock: Clock, records: FakeIntakeRecords
) -> None:
    deps = replace(dependencies(ledger=Ledger(Unreachable(), clock=clock)), intake_records=records)
    await records.insert(intake_row("r-lost", "r-lost", clock.now - 100 * DAY))
    with pytest.raises(OnboardingError, match="HTTP 503"):
        await purge_ledger_of(b"", deps)
    assert records.rows == {}
