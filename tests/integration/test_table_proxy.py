"""The table fault proxy on the real stack: Azurite behind it, the azure-data-tables async client in front, reached
through the stack's own connection string (issue 13, item 5)."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Iterator

import pytest
from azure.core import MatchConditions
from azure.core.exceptions import (
    HttpResponseError,
    ResourceModifiedError,
    ServiceRequestError,
    ServiceResponseError,
)
from azure.data.tables import UpdateMode
from azure.data.tables.aio import TableClient

from devhost.stack import Stack
from tests.leak_scan import stop_after_scan

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def proxied_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    stack = Stack(log_dir=tmp_path_factory.mktemp("table-proxy"), table_proxy=True).start(host=False)
    yield stack
    stop_after_scan(stack)


@pytest.fixture
async def table(proxied_stack: Stack) -> AsyncIterator[TableClient]:
    proxied_stack.admin("POST", "reset")
    name = f"proxy{uuid.uuid4().hex[:12]}"
    async with TableClient.from_connection_string(proxied_stack.env["AzureWebJobsStorage"], name) as client:
        await client.create_table()
        yield client


def counters(stack: Stack) -> dict[str, int]:
    return dict(stack.admin("GET", "state")["counters"])


def test_tables_go_through_the_proxy_and_queues_and_blobs_straight_to_azurite(proxied_stack: Stack) -> None:
    storage = proxied_stack.env["AzureWebJobsStorage"]
    assert f"TableEndpoint=http://127.0.0.1:{proxied_stack.ports['table_proxy']}/" in storage
    assert f"QueueEndpoint=http://127.0.0.1:{proxied_stack.ports['queue']}/" in storage
    assert f"BlobEndpoint=http://127.0.0.1:{proxied_stack.ports['blob']}/" in storage
    assert proxied_stack.ports["table_proxy"] != proxied_stack.ports["table"]


async def test_an_insert_whose_answer_is_lost_fails_at_the_client_but_the_row_committed(
    proxied_stack: Stack, table: TableClient
) -> None:
    proxied_stack.admin("POST", "storage-faults", {"dropAfterCommit": 1, "times": 1})
    with pytest.raises((ServiceRequestError, ServiceResponseError)) as lost:
        await table.create_entity({"PartitionKey": "req-1", "RowKey": "", "State": "creating"})
    # azure-core's aiohttp transport maps a connection closed after the request was sent (aiohttp's
    # ServerDisconnectedError, a ClientConnectionError) to ServiceRequestError, the class its retry policy reads as
    # "the server did not receive it" (azure/core/pipeline/transport/_aiohttp.py, azure-core 1.41.0): the product
    # cannot take either class as proof that nothing was written.
    assert not isinstance(lost.value, HttpResponseError), type(lost.value)
    row = await table.get_entity("req-1", "")
    assert row["State"] == "creating", "the write committed although the client saw it fail"
    assert counters(proxied_stack)["storage_drops_after_commit"] == 1


async def test_an_update_whose_answer_is_lost_is_retried_by_the_sdk_into_a_412_on_its_own_write(
    proxied_stack: Stack, table: TableClient
) -> None:
    await table.create_entity({"PartitionKey": "req-2", "RowKey": "", "State": "received"})
    row = await table.get_entity("req-2", "")
    proxied_stack.admin("POST", "storage-faults", {"dropAfterCommit": 1, "times": 1})
    # azure-core's RetryPolicy retries a connection error on HEAD, GET, PUT, DELETE, OPTIONS, TRACE, never on POST or
    # PATCH (_method_whitelist in azure/core/pipeline/policies/_retry.py, 1.41.0): the PUT goes out again with the
    # If-Match its first attempt already made stale.
    with pytest.raises(ResourceModifiedError):
        await table.update_entity(
            {"PartitionKey": "req-2", "RowKey": "", "State": "creating"},
            mode=UpdateMode.REPLACE,
            etag=row.metadata["etag"],
            match_condition=MatchConditions.IfNotModified,
        )
    assert (await table.get_entity("req-2", ""))["State"] == "creating", "the first attempt committed"
    assert counters(proxied_stack)["storage_drops_after_commit"] == 1


async def test_a_write_dropped_before_commit_leaves_no_row(proxied_stack: Stack, table: TableClient) -> None:
    proxied_stack.admin("POST", "storage-faults", {"dropBeforeCommit": 1, "times": 1})
    with pytest.raises((ServiceRequestError, ServiceResponseError)):
        await table.create_entity({"PartitionKey": "req-3", "RowKey": "", "State": "creating"})
    assert [e async for e in table.list_entities()] == []
    assert counters(proxied_stack)["storage_drops_before_commit"] == 1


async def test_reads_and_writes_pass_unchanged_without_faults(proxied_stack: Stack, table: TableClient) -> None:
    entity = {"PartitionKey": "req-4", "RowKey": "", "State": "créé ✓", "Attempts": 2}
    await table.create_entity(entity)
    await table.upsert_entity({**entity, "Attempts": 3}, mode=UpdateMode.MERGE)
    row = await table.get_entity("req-4", "")
    assert (row["State"], row["Attempts"]) == ("créé ✓", 3)
    await table.delete_entity("req-4", "")
    assert [e async for e in table.query_entities("PartitionKey eq 'req-4'")] == []
    seen = counters(proxied_stack)
    assert seen["storage_writes"] >= 3 and "storage_drops_after_commit" not in seen
