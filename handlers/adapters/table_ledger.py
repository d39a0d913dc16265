"""The ledger in an Azure Table (Azurite locally): rows keyed by requestId, writes conditional on ETags."""

from __future__ import annotations

import contextlib
import logging
from dataclasses import replace
from typing import Any

from azure.core import MatchConditions
from azure.core.exceptions import (
    HttpResponseError,
    ResourceExistsError,
    ResourceModifiedError,
    ResourceNotFoundError,
    ServiceRequestError,
)
from azure.data.tables import UpdateMode
from azure.data.tables.aio import TableClient

from handlers.adapters.ledger import LedgerBase, LedgerEntry, RowExists, busy
from handlers.failures import ErrorKind, OnboardingError

PARTITION = "onboarding"
log = logging.getLogger("csp_onboarding")

_COLUMNS = (
    "ms_request_id", "state", "attempts", "lease_until", "customer_id", "tenant_id", "commerce_id", "domain",
    "event_id", "event_json", "exhausted_from", "outcome", "retryable", "request_hash", "created_at", "updated_at",
)  # fmt: skip


def _storage_error(what: str, exc: Exception) -> OnboardingError:
    return OnboardingError(ErrorKind.TRANSIENT, f"ledger {what} failed: {type(exc).__name__}")


class TableLedger(LedgerBase):
    """The ledger in an Azure Table (Azurite locally), rows keyed by requestId."""

    def __init__(self, table: TableClient, *, fallback: LedgerBase | None = None) -> None:
        self._table = table
        self._created = False
        self._fallback = fallback
        self._degraded = False

    async def aclose(self) -> None:
        """Close the table client's connections (a worker keeps its ledger for life; scripts and tests do not)."""
        await self._table.close()

    async def _ensure_table(self) -> None:
        if self._created:
            return
        try:
            with contextlib.suppress(ResourceExistsError):
                await self._table.create_table()
        except ServiceRequestError:
            if self._fallback is None:
                raise
            # The first contact found no Table service at all (none at that address, or no table endpoint):
            # a misconfiguration, not an outage. Keep working on the fallback, loudly; Partner Center's
            # MS-RequestId idempotency still guards the creates.
            log.error("Ledger storage %s is unreachable: using an in-memory ledger for this worker", self._table.url)
            self._degraded = True
        self._created = True

    @staticmethod
    def _entry(entity: Any) -> LedgerEntry:
        values = {k: entity.get(k) for k in _COLUMNS if entity.get(k) is not None}
        return LedgerEntry(request_id=entity["RowKey"], etag=entity.metadata.get("etag"), **values)

    @staticmethod
    def _entity(entry: LedgerEntry) -> dict[str, Any]:
        entity: dict[str, Any] = {"PartitionKey": PARTITION, "RowKey": entry.request_id}
        entity.update({k: getattr(entry, k) for k in _COLUMNS if getattr(entry, k) is not None})
        return entity

    async def _read(self, request_id: str) -> LedgerEntry | None:
        try:
            await self._ensure_table()
            if self._degraded and self._fallback is not None:
                return await self._fallback._read(request_id)
            return self._entry(await self._table.get_entity(PARTITION, request_id))
        except ResourceNotFoundError:
            return None
        except (HttpResponseError, ServiceRequestError) as exc:
            raise _storage_error("read", exc) from None

    async def _insert(self, entry: LedgerEntry) -> LedgerEntry:
        try:
            await self._ensure_table()
            if self._degraded and self._fallback is not None:
                return await self._fallback._insert(entry)
            metadata = await self._table.create_entity(self._entity(entry))
        except ResourceExistsError:
            raise RowExists(entry.request_id) from None
        except (HttpResponseError, ServiceRequestError) as exc:
            raise _storage_error("insert", exc) from None
        return replace(entry, etag=metadata.get("etag"))

    async def _replace(self, entry: LedgerEntry) -> LedgerEntry:
        if self._degraded and self._fallback is not None:
            return await self._fallback._replace(entry)
        try:
            metadata = await self._table.update_entity(
                self._entity(entry),
                mode=UpdateMode.REPLACE,
                etag=entry.etag,
                match_condition=MatchConditions.IfNotModified,
            )
        except (ResourceModifiedError, ResourceNotFoundError):
            raise busy(entry.request_id) from None
        except HttpResponseError as exc:
            if exc.status_code == 412:
                raise busy(entry.request_id) from None
            raise _storage_error("update", exc) from None
        except ServiceRequestError as exc:
            raise _storage_error("update", exc) from None
        return replace(entry, etag=metadata.get("etag"))
