"""Notices in an Azure Table: one entity per (topic, slot) in partition `notice-{topic}` of the ledger's table, so
every instance sees the first one (the Notices port)."""

from __future__ import annotations

import contextlib

from azure.core.exceptions import AzureError, ResourceExistsError

from handlers.adapters.storage_errors import storage_failure
from handlers.adapters.tables import OwnedTable


class NoticeTable(OwnedTable):
    """Notices beside the ledger's partition: an insert succeeds once per (topic, slot)."""

    async def first_notice(self, topic: str, slot: str) -> bool:
        """True for the first recorder of this notice only; raises OnboardingError(TRANSIENT)."""
        await self._ensure_table()
        try:
            await self._table.create_entity({"PartitionKey": f"notice-{topic}", "RowKey": slot})
        except ResourceExistsError:
            return False
        except AzureError as exc:
            raise storage_failure("notice insert", exc) from None
        return True

    async def forget_notice(self, topic: str, slot: str) -> None:
        """Remove a notice (its event could not be published); never raises."""
        with contextlib.suppress(AzureError):
            await self._table.delete_entity(f"notice-{topic}", slot)
