"""The shared Partner Center budget's one row in an Azure Table of the app's storage account (the BudgetRows port):
every instance reads it and writes it conditionally on its ETag. No policy here: the arithmetic is
handlers.domain.budget, the leasing handlers.onboarding.budget."""

from __future__ import annotations

import json
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
from handlers.domain.budget import BudgetRow
from handlers.domain.ports import RowChanged, RowExists

PARTITION = "partner-center"
ROW = "budget"
_TIMES = ("tat", "validation_tat", "validation_until", "held_until", "hold_seconds", "slowed_at")


def _row(entity: Any) -> BudgetRow:
    """The row as stored; a column nobody can read (written by hand, say) reads as its default, never fails a lease."""
    try:
        instances = {str(k): float(v) for k, v in json.loads(entity.get("instances") or "{}").items()}
    except (ValueError, TypeError, AttributeError):
        instances = {}
    times = {}
    for name in _TIMES:
        try:
            times[name] = float(entity.get(name) or 0.0)
        except (ValueError, TypeError):
            times[name] = 0.0
    return BudgetRow(**times, instances=instances, etag=entity.metadata["etag"])


def _entity(row: BudgetRow) -> dict[str, Any]:
    entity: dict[str, Any] = {"PartitionKey": PARTITION, "RowKey": ROW}
    entity.update({name: float(getattr(row, name)) for name in _TIMES})
    entity["instances"] = json.dumps(dict(row.instances), separators=(",", ":"))
    return entity


class BudgetTable(OwnedTable):
    """The row in its own table (created on first use). Its client should not retry on its own: a lease that
    cannot be had at once is better served by the local fallback than by a wait."""

    async def read(self) -> BudgetRow | None:
        await self._ensure_table()
        try:
            return _row(await self._table.get_entity(PARTITION, ROW))
        except ResourceNotFoundError:
            return None
        except AzureError as exc:
            raise storage_failure("budget read", exc) from None

    async def insert(self, row: BudgetRow) -> BudgetRow:
        await self._ensure_table()
        try:
            metadata = await self._table.create_entity(_entity(row))
        except ResourceExistsError:
            raise RowExists(ROW) from None
        except AzureError as exc:
            raise storage_failure("budget insert", exc) from None
        return _with_etag(row, metadata)

    async def replace(self, row: BudgetRow) -> BudgetRow:
        await self._ensure_table()
        try:
            metadata = await self._table.update_entity(
                _entity(row), mode=UpdateMode.REPLACE, etag=row.etag, match_condition=MatchConditions.IfNotModified
            )
        except (ResourceModifiedError, ResourceNotFoundError):
            raise RowChanged(ROW) from None
        except AzureError as exc:
            if isinstance(exc, HttpResponseError) and exc.status_code == 412:
                raise RowChanged(ROW) from None
            raise storage_failure("budget update", exc) from None
        return _with_etag(row, metadata)


def _with_etag(row: BudgetRow, metadata: Any) -> BudgetRow:
    return replace(row, etag=metadata.get("etag"))
