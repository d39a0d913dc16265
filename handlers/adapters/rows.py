"""Where ledger rows are kept: the port (insert, conditional replace, read) and an in-memory store for tests."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import replace
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from handlers.onboarding.ledger import LedgerEntry


class RowExists(Exception):
    """An insert found the request's row already there."""


class RowChanged(Exception):
    """A conditional replace found the row changed (or gone) since it was read."""


class WriteUnknown(Exception):
    """The write was sent but its answer was lost: it may or may not have committed."""


class RowStore(ABC):
    """One row per requestId; writes are conditional on the row's ETag. Storage failures raise
    OnboardingError(TRANSIENT); a lost answer raises WriteUnknown."""

    @abstractmethod
    async def read(self, request_id: str) -> LedgerEntry | None:
        """The row, or None."""

    @abstractmethod
    async def insert(self, entry: LedgerEntry) -> LedgerEntry:
        """Add a new row; raises RowExists."""

    @abstractmethod
    async def replace(self, entry: LedgerEntry) -> LedgerEntry:
        """Replace the row if its ETag is still `entry.etag`; raises RowChanged."""

    async def purge(self, request_id: str, etag: str) -> bool:
        """Delete the row if unchanged; False when it changed. Stores without retention need not implement it."""
        raise NotImplementedError

    async def decided_before(self, cutoff: float, *, limit: int) -> list[LedgerEntry]:
        """Up to `limit` decided rows last written before `cutoff` (retention)."""
        raise NotImplementedError

    async def claims_on(self, customer_id: str, domain: str, *, besides: str) -> list[LedgerEntry]:
        """Rows of requests other than `besides` that record `customer_id`, or whose create for `domain` went out
        with no definitive answer yet (adoption's last check)."""
        raise NotImplementedError

    async def first_notice(self, topic: str, slot: str) -> bool:
        """Record a notice of `topic` for `slot` (an hour, say) unless one exists; True for the first recorder only,
        whichever instance it runs on. Raises OnboardingError when storage fails."""
        raise NotImplementedError

    async def forget_notice(self, topic: str, slot: str) -> None:
        """Remove a notice (its event could not be published); never raises."""
        raise NotImplementedError


class InMemoryRows(RowStore):
    """Rows in this process's memory (tests and fakes). `lose_answer` can make a write commit and then raise
    WriteUnknown, as a storage answer dropped on the way back does."""

    def __init__(self) -> None:
        self.rows: dict[str, LedgerEntry] = {}
        self.notices: set[tuple[str, str]] = set()
        self._version = 0
        self.lose_answer: Callable[[LedgerEntry], bool] = lambda entry: False

    def _stamp(self, entry: LedgerEntry) -> LedgerEntry:
        self._version += 1
        stamped = replace(entry, etag=str(self._version))
        self.rows[entry.request_id] = stamped
        if self.lose_answer(stamped):
            raise WriteUnknown(entry.request_id)
        return stamped

    async def read(self, request_id: str) -> LedgerEntry | None:
        return self.rows.get(request_id)

    async def insert(self, entry: LedgerEntry) -> LedgerEntry:
        if entry.request_id in self.rows:
            raise RowExists(entry.request_id)
        return self._stamp(entry)

    async def replace(self, entry: LedgerEntry) -> LedgerEntry:
        current = self.rows.get(entry.request_id)
        if current is None or current.etag != entry.etag:
            raise RowChanged(entry.request_id)
        return self._stamp(entry)

    async def purge(self, request_id: str, etag: str) -> bool:
        current = self.rows.get(request_id)
        if current is None or current.etag != etag:
            return False
        del self.rows[request_id]
        return True

    async def decided_before(self, cutoff: float, *, limit: int) -> list[LedgerEntry]:
        old = [e for e in self.rows.values() if e.decided is not None and e.updated_at < cutoff]
        return old[:limit]

    async def claims_on(self, customer_id: str, domain: str, *, besides: str) -> list[LedgerEntry]:
        return [
            e
            for e in self.rows.values()
            if e.request_id != besides and (e.customer_id == customer_id or (e.domain == domain and e.create_unknown))
        ]

    async def first_notice(self, topic: str, slot: str) -> bool:
        first = (topic, slot) not in self.notices
        self.notices.add((topic, slot))
        return first

    async def forget_notice(self, topic: str, slot: str) -> None:
        self.notices.discard((topic, slot))
