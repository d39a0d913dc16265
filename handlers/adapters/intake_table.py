"""What the HTTP intake remembers, outside the ledger: one row per key (a requestId, `sf:{notificationId}`, or a
CRM record), holding the requestId it led to and a hash of the content enqueued for it."""

from __future__ import annotations

import time
from abc import ABC, abstractmethod
from dataclasses import dataclass, field, replace
from typing import Any

from azure.core import MatchConditions
from azure.core.exceptions import (
    AzureError,
    HttpResponseError,
    ResourceExistsError,
    ResourceModifiedError,
    ResourceNotFoundError,
)
from azure.data.tables import UpdateMode

from handlers.adapters.rows import RowChanged, RowExists
from handlers.adapters.storage_errors import storage_failure
from handlers.adapters.tables import OwnedTable

PARTITION = "intake"


@dataclass(frozen=True)
class IntakeRecord:
    """One intake row."""

    key: str
    request_id: str
    content_hash: str | None = None
    updated_at: float = field(default_factory=time.time)
    etag: str | None = None
    sending: bool = False  # taken by a caller that is enqueueing this content right now (not yet sent)


class IntakeRecords(ABC):
    """Rows by key; `insert` and `replace` are conditional (RowExists / RowChanged); storage failures raise
    OnboardingError(TRANSIENT)."""

    @abstractmethod
    async def get(self, key: str) -> IntakeRecord | None:
        """The row, or None."""

    @abstractmethod
    async def insert(self, record: IntakeRecord) -> IntakeRecord:
        """Add a row; raises RowExists."""

    @abstractmethod
    async def replace(self, record: IntakeRecord) -> IntakeRecord:
        """Replace the row if its ETag is still `record.etag`; raises RowChanged."""

    @abstractmethod
    async def upsert(self, record: IntakeRecord) -> None:
        """Write the row whatever it held."""


def _entity(record: IntakeRecord) -> dict[str, Any]:
    entity: dict[str, Any] = {
        "PartitionKey": PARTITION,
        "RowKey": record.key,
        "request_id": record.request_id,
        "updated_at": record.updated_at,
    }
    if record.content_hash is not None:
        entity["content_hash"] = record.content_hash
    if record.sending:
        entity["sending"] = True
    return entity


class TableIntakeRecords(IntakeRecords, OwnedTable):
    """The rows in one partition of an Azure Table (created on first use)."""

    async def get(self, key: str) -> IntakeRecord | None:
        await self._ensure_table()
        try:
            entity = await self._table.get_entity(PARTITION, key)
        except ResourceNotFoundError:
            return None
        except AzureError as exc:
            raise storage_failure("intake read", exc) from None
        return IntakeRecord(
            key=key,
            request_id=str(entity["request_id"]),
            content_hash=entity.get("content_hash"),
            updated_at=float(entity.get("updated_at") or 0.0),
            etag=entity.metadata.get("etag"),
            sending=bool(entity.get("sending")),
        )

    async def insert(self, record: IntakeRecord) -> IntakeRecord:
        await self._ensure_table()
        try:
            metadata = await self._table.create_entity(_entity(record))
        except ResourceExistsError:
            raise RowExists(record.key) from None
        except AzureError as exc:
            raise storage_failure("intake insert", exc) from None
        return replace(record, etag=metadata.get("etag"))

    async def replace(self, record: IntakeRecord) -> IntakeRecord:
        await self._ensure_table()
        try:
            metadata = await self._table.update_entity(
                _entity(record),
                mode=UpdateMode.REPLACE,
                etag=record.etag,
                match_condition=MatchConditions.IfNotModified,
            )
        except (ResourceModifiedError, ResourceNotFoundError):
            raise RowChanged(record.key) from None
        except AzureError as exc:
            if isinstance(exc, HttpResponseError) and exc.status_code == 412:
                raise RowChanged(record.key) from None
            raise storage_failure("intake update", exc) from None
        return replace(record, etag=metadata.get("etag"))

    async def upsert(self, record: IntakeRecord) -> None:
        await self._ensure_table()
        try:
            await self._table.upsert_entity(_entity(record), mode=UpdateMode.REPLACE)
        except AzureError as exc:
            raise storage_failure("intake upsert", exc) from None


class InMemoryIntakeRecords(IntakeRecords):
    """The rows in this process's memory (tests)."""

    def __init__(self) -> None:
        self.rows: dict[str, IntakeRecord] = {}
        self._version = 0

    def _stamp(self, record: IntakeRecord) -> IntakeRecord:
        self._version += 1
        stamped = replace(record, etag=str(self._version))
        self.rows[record.key] = stamped
        return stamped

    async def get(self, key: str) -> IntakeRecord | None:
        return self.rows.get(key)

    async def insert(self, record: IntakeRecord) -> IntakeRecord:
        if record.key in self.rows:
            raise RowExists(record.key)
        return self._stamp(record)

    async def replace(self, record: IntakeRecord) -> IntakeRecord:
        current = self.rows.get(record.key)
        if current is None or current.etag != record.etag:
            raise RowChanged(record.key)
        return self._stamp(record)

    async def upsert(self, record: IntakeRecord) -> None:
        self._stamp(record)
