"""What the HTTP intake remembers, in an Azure Table (the IntakeRecords port): one row per key (a requestId, a
Salesforce notification, a CRM record), holding the requestId it led to and a hash of the content enqueued for it."""

from __future__ import annotations

from dataclasses import replace
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

from handlers.adapters.storage_errors import storage_failure
from handlers.adapters.tables import OwnedTable
from handlers.domain.intake_record import IntakeRecord
from handlers.domain.ports import RowChanged, RowExists

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
        await self._ensure_table()
        try:
            return _record(await self._table.get_entity(PARTITION, key))
        except ResourceNotFoundError:
            return None
        except AzureError as exc:
            raise storage_failure("intake read", exc) from None

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

    async def written_before(self, cutoff: float, *, after: str, limit: int) -> list[IntakeRecord]:
        query = "PartitionKey eq @p and RowKey gt @after and updated_at lt @cutoff"
        found: list[IntakeRecord] = []
        try:
            async for entity in self._table.query_entities(
                query, parameters={"p": PARTITION, "after": after, "cutoff": cutoff}, results_per_page=min(limit, 1000)
            ):
                found.append(_record(entity))
                if len(found) >= limit:
                    break
        except ResourceNotFoundError:
            return found  # no table yet: the HTTP intake never took a request
        except AzureError as exc:
            raise storage_failure("intake query", exc) from None
        return found

    async def pending(self, *, limit: int) -> list[IntakeRecord]:
        """Up to `limit` rows keeping a CRM record's later version (a row without one lacks the column, and a filter
        on a missing column matches nothing)."""
        await self._ensure_table()
        found: list[IntakeRecord] = []
        try:
            async for entity in self._table.query_entities(
                "PartitionKey eq @p and pending_request_id ne ''", parameters={"p": PARTITION},
                results_per_page=min(limit, 1000),
            ):  # fmt: skip
                found.append(_record(entity))
                if len(found) >= limit:
                    break
        except AzureError as exc:
            raise storage_failure("intake query", exc) from None
        return found

    async def delete(self, record: IntakeRecord) -> bool:
        return await self._delete_unchanged(PARTITION, record.key, record.etag, "intake delete")
