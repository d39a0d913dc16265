"""What the HTTP intake remembers, in an Azure Table (the IntakeRecords port): one row per key (a requestId, a
Salesforce notification, a CRM record), holding the requestId it led to and a hash of the content enqueued for it."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from azure.core.exceptions import AzureError
from azure.data.tables import UpdateMode

from handlers.adapters.storage_errors import storage_failure
from handlers.adapters.tables import OwnedTable
from handlers.domain.intake_record import IntakeRecord

PARTITION = "intake"


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
    if record.pending_request_id is not None and record.pending_message is not None:
        entity["pending_request_id"] = record.pending_request_id
        entity["pending_message"] = record.pending_message
    return entity


def _record(entity: Any) -> IntakeRecord:
    return IntakeRecord(
        key=str(entity["RowKey"]),
        request_id=str(entity["request_id"]),
        content_hash=entity.get("content_hash"),
        updated_at=float(entity.get("updated_at") or 0.0),
        etag=entity.metadata.get("etag"),
        sending=bool(entity.get("sending")),
        pending_request_id=entity.get("pending_request_id"),
        pending_message=entity.get("pending_message"),
    )


class IntakeTable(OwnedTable):
    """The rows in one partition of an Azure Table (created on first use); the IntakeRecords and RetainedRecords
    ports."""

    async def get(self, key: str) -> IntakeRecord | None:
        entity = await self._get(PARTITION, key, "intake read")
        return None if entity is None else _record(entity)

    async def insert(self, record: IntakeRecord) -> IntakeRecord:
        metadata = await self._insert(_entity(record), "intake insert")
        return replace(record, etag=metadata.get("etag"))

    async def replace(self, record: IntakeRecord) -> IntakeRecord:
        metadata = await self._replace(_entity(record), record.etag, "intake update")
        return replace(record, etag=metadata.get("etag"))

    async def upsert(self, record: IntakeRecord) -> None:
        await self._ensure_table()
        try:
            await self._table.upsert_entity(_entity(record), mode=UpdateMode.REPLACE)
        except AzureError as exc:
            raise storage_failure("intake upsert", exc) from None

    async def written_before(self, cutoff: float, *, after: str, limit: int) -> list[IntakeRecord]:
        query = "PartitionKey eq @p and RowKey gt @after and updated_at lt @cutoff"
        parameters = {"p": PARTITION, "after": after, "cutoff": cutoff}
        # No table yet: the HTTP intake never took a request.
        return await self._query(query, parameters, _record, limit=limit, what="intake query", none_without_table=True)

    async def pending(self, *, limit: int) -> list[IntakeRecord]:
        """Up to `limit` rows keeping a CRM record's later version (a row without one lacks the column, and a filter
        on a missing column matches nothing)."""
        await self._ensure_table()
        query = "PartitionKey eq @p and pending_request_id ne ''"
        return await self._query(query, {"p": PARTITION}, _record, limit=limit, what="intake query")

    async def delete(self, record: IntakeRecord) -> bool:
        return await self._delete_unchanged(PARTITION, record.key, record.etag, "intake delete")
