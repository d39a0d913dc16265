"""One Azure Table an adapter owns: its client, created on first use, closed by scripts and tests."""

from __future__ import annotations

from azure.core.exceptions import AzureError, ResourceExistsError
from azure.data.tables.aio import TableClient

from handlers.adapters.storage_errors import storage_failure


class OwnedTable:
    """Holds a TableClient; `_ensure_table` creates the table once (raises OnboardingError(TRANSIENT))."""

    def __init__(self, table: TableClient) -> None:
        self._table = table
        self._created = False

    async def aclose(self) -> None:
        """Close the table client's connections (a worker keeps its tables for life; scripts and tests do not)."""
        await self._table.close()

    async def _ensure_table(self) -> None:
        if self._created:
            return
        try:
            await self._table.create_table()
        except ResourceExistsError:
            pass
        except AzureError as exc:
            raise storage_failure("table create", exc) from None
        self._created = True
