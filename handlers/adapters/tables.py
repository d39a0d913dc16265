"""One Azure Table an adapter owns: its client, created on first use, closed by scripts and tests; and the reads and
ETag-conditional writes every table adapter makes, each storage answer translated once."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from azure.core import MatchConditions
from azure.core.exceptions import (
    AzureError,
    HttpResponseError,
    ResourceExistsError,
    ResourceModifiedError,
    ResourceNotFoundError,
)
from azure.data.tables import UpdateMode
from azure.data.tables.aio import TableClient

from handlers.adapters.storage_errors import storage_failure
from handlers.domain.ports import RowChanged, RowExists

T = TypeVar("T")
Failure = Callable[[str, AzureError], Exception]  # what a storage failure is raised as (storage_failure by default)


def _provisioned(exc: AzureError) -> bool:
    """A create refused for want of a role (403 AuthorizationPermissionMismatch): an identity whose role is on this
    one table (an operator's Table Data Reader on the ledger) may use the table but not create it, and the
    deployment made it (infra/app/storage.bicep). Go on: a table that is missing after all answers 404 to the call
    itself."""
    return (
        isinstance(exc, HttpResponseError)
        and exc.status_code == 403
        and getattr(exc, "error_code", None) == "AuthorizationPermissionMismatch"
    )


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
            if not _provisioned(exc):
                raise storage_failure("table create", exc) from None
        self._created = True

    async def _get(self, partition: str, key: str, what: str) -> Any | None:
        """The entity, or None; raises OnboardingError(TRANSIENT) naming `what`."""
        await self._ensure_table()
        try:
            return await self._table.get_entity(partition, key)
        except ResourceNotFoundError:
            return None
        except AzureError as exc:
            raise storage_failure(what, exc) from None

    async def _query(
        self, query: str, parameters: dict[str, Any], convert: Callable[[Any], T], *, limit: int, what: str,
        keep: Callable[[T], bool] | None = None, none_without_table: bool = False,
    ) -> list[T]:  # fmt: skip
        """Up to `limit` rows the query finds (in key order), each converted, those `keep` refuses skipped; when
        `none_without_table`, a missing table is no rows. Raises OnboardingError(TRANSIENT) naming `what`."""
        found: list[T] = []
        try:
            async for entity in self._table.query_entities(
                query, parameters=parameters, results_per_page=min(limit, 1000)
            ):
                row = convert(entity)
                if keep is None or keep(row):
                    found.append(row)
                if len(found) >= limit:
                    break
        except AzureError as exc:
            if none_without_table and isinstance(exc, ResourceNotFoundError):
                return found
            raise storage_failure(what, exc) from None
        return found

    async def _insert(self, entity: dict[str, Any], what: str, failure: Failure = storage_failure) -> Any:
        """Insert the entity; its metadata (the new ETag). Raises RowExists, or `failure(what, exc)`."""
        await self._ensure_table()
        try:
            return await self._table.create_entity(entity)
        except ResourceExistsError:
            raise RowExists(entity["RowKey"]) from None
        except AzureError as exc:
            raise failure(what, exc) from None

    async def _replace(
        self, entity: dict[str, Any], etag: str | None, what: str, failure: Failure = storage_failure
    ) -> Any:
        """Replace the entity if its ETag is still `etag`; its metadata. Raises RowChanged, or `failure(what, exc)`."""
        await self._ensure_table()
        try:
            return await self._table.update_entity(
                entity, mode=UpdateMode.REPLACE, etag=etag, match_condition=MatchConditions.IfNotModified
            )
        except (ResourceModifiedError, ResourceNotFoundError):
            raise RowChanged(entity["RowKey"]) from None
        except AzureError as exc:
            if isinstance(exc, HttpResponseError) and exc.status_code == 412:
                raise RowChanged(entity["RowKey"]) from None
            raise failure(what, exc) from None

    async def _delete_unchanged(self, partition: str, key: str, etag: str | None, what: str) -> bool:
        """Delete the row if its ETag is still `etag`: True when it is gone, False when it changed; raises
        OnboardingError(TRANSIENT) naming `what`."""
        try:
            await self._table.delete_entity(partition, key, etag=etag, match_condition=MatchConditions.IfNotModified)
        except (ResourceModifiedError, ResourceNotFoundError):
            return False
        except AzureError as exc:
            if isinstance(exc, HttpResponseError) and exc.status_code == 412:
                return False
            raise storage_failure(what, exc) from None
        return True
