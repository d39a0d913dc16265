"""The ledger's rows in an Azure Table (Azurite locally): one entity per requestId, writes conditional on ETags
(the LedgerRows port)."""

from __future__ import annotations

import dataclasses
from typing import Any

from handlers.adapters.storage_errors import answer_lost, storage_failure
from handlers.adapters.tables import Failure, OwnedTable
from handlers.domain.ledger_entry import LedgerEntry
from handlers.domain.ports import WriteUnknown

PARTITION = "onboarding"
MAX_NAMING_ROWS = 500  # the rows that name one customer or domain: a handful in practice
_COLUMNS = tuple(f.name for f in dataclasses.fields(LedgerEntry) if f.name not in ("request_id", "etag"))


def _entry(entity: Any) -> LedgerEntry:
    values = {k: entity.get(k) for k in _COLUMNS if entity.get(k) is not None}
    return LedgerEntry(request_id=entity["RowKey"], etag=entity.metadata.get("etag"), **values)


def _entity(entry: LedgerEntry) -> dict[str, Any]:
    entity: dict[str, Any] = {"PartitionKey": PARTITION, "RowKey": entry.request_id}
    entity.update({k: getattr(entry, k) for k in _COLUMNS if getattr(entry, k) is not None})
    return entity


class LedgerTable(OwnedTable):
    """The ledger's rows in one partition of an Azure Table, created on first use. Storage that cannot be reached
    fails the delivery (the queue retries it); there is no in-memory fallback."""

    async def read(self, request_id: str) -> LedgerEntry | None:
        entity = await self._get(PARTITION, request_id, "read")
        return None if entity is None else _entry(entity)

    async def insert(self, entry: LedgerEntry) -> LedgerEntry:
        metadata = await self._insert(_entity(entry), "insert", self._failure(entry))
        return dataclasses.replace(entry, etag=metadata.get("etag"))

    async def replace(self, entry: LedgerEntry) -> LedgerEntry:
        metadata = await self._replace(_entity(entry), entry.etag, "update", self._failure(entry))
        return dataclasses.replace(entry, etag=metadata.get("etag"))

    async def naming(self, customer_id: str, domain: str, *, besides: str) -> list[LedgerEntry]:
        """Filters on columns, not keys: it reads the partition, which the adoption path alone asks for."""
        await self._ensure_table()
        # The SDK finds parameters between spaces: "@d)" would be read as a parameter named "d)".
        query = "PartitionKey eq @p and RowKey ne @r and (customer_id eq @c or domain eq @d )"
        parameters = {"p": PARTITION, "r": besides, "c": customer_id, "d": domain}
        return await self._query(query, parameters, _entry, limit=MAX_NAMING_ROWS, what="query")

    async def purge(self, request_id: str, etag: str) -> bool:
        return await self._delete_unchanged(PARTITION, request_id, etag, "delete")

    async def decided_before(self, cutoff: float, *, limit: int) -> list[LedgerEntry]:
        query = "PartitionKey eq @p and updated_at lt @cutoff and outcome ne ''"
        return await self._retained(query, {"cutoff": cutoff}, limit, decided=True)

    async def undecided_before(self, cutoff: float, *, after: str, limit: int) -> list[LedgerEntry]:
        # A filter cannot ask for a missing column (an undecided row has no `outcome`), but every write that sets or
        # clears the outcome sets the state with it: received and creating are the undecided ones.
        query = "PartitionKey eq @p and RowKey gt @after and updated_at lt @cutoff and (state eq @r or state eq @c )"
        parameters = {"after": after, "cutoff": cutoff, "r": "received", "c": "creating"}
        return await self._retained(query, parameters, limit, decided=False)

    async def _retained(
        self, query: str, parameters: dict[str, Any], limit: int, *, decided: bool
    ) -> list[LedgerEntry]:
        """Up to `limit` rows the query finds (in key order) that are decided, or not; none while there is no table
        (nothing was ever received)."""
        return await self._query(
            query, {"p": PARTITION, **parameters}, _entry, limit=limit, what="query",
            keep=lambda entry: (entry.decided is not None) == decided, none_without_table=True,
        )  # fmt: skip

    @staticmethod
    def _failure(entry: LedgerEntry) -> Failure:
        """A write whose answer was lost may have committed (WriteUnknown: the ledger reads the row back)."""
        return lambda what, exc: WriteUnknown(entry.request_id) if answer_lost(exc) else storage_failure(what, exc)
