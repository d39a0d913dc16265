"""The shared Partner Center budget's one row in an Azure Table of the app's storage account (the BudgetRows port):
every instance reads it and writes it conditionally on its ETag. No policy here: the arithmetic is
handlers.domain.budget, the leasing handlers.onboarding.budget."""

from __future__ import annotations

import dataclasses
import json
from typing import Any

from handlers.adapters.tables import OwnedTable
from handlers.domain.budget import BudgetRow

PARTITION = "partner-center"
ROW = "budget"
_TIMES = ("tat", "validation_tat", "validation_until", "held_until", "hold_seconds", "slowed_at", "deferred_until")


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
        entity = await self._get(PARTITION, ROW, "budget read")
        return None if entity is None else _row(entity)

    async def insert(self, row: BudgetRow) -> BudgetRow:
        return dataclasses.replace(row, etag=(await self._insert(_entity(row), "budget insert")).get("etag"))

    async def replace(self, row: BudgetRow) -> BudgetRow:
        return dataclasses.replace(row, etag=(await self._replace(_entity(row), row.etag, "budget update")).get("etag"))
