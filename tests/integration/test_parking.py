"""Parking on Azurite: the `{queue}-exhausted` queue is created by whichever park comes first."""

from __future__ import annotations

import asyncio
import secrets
from datetime import timedelta

import pytest
from azure.storage.queue import QueueClient as SyncQueueClient
from azure.storage.queue.aio import QueueClient

from devhost.stack import Stack
from handlers.adapters.parking import QueueParking

pytestmark = pytest.mark.integration


async def test_concurrent_first_parks_on_a_missing_queue_all_land(stack: Stack) -> None:
    # Several poison invocations park at once into a queue nobody has created yet: each finds it missing and
    # creates it, and all but one of those creates answer "already exists" — which is no failure of theirs.
    name = f"parked{secrets.token_hex(4)}"
    async with QueueClient.from_connection_string(stack.env["CrmQueue"], name) as queue:
        parking = QueueParking(queue)
        await asyncio.gather(*(parking.park(f"request {i}".encode()) for i in range(6)))
    check = SyncQueueClient.from_connection_string(stack.env["CrmQueue"], name)
    texts = sorted(m.content for m in check.peek_messages(max_messages=32))
    assert texts == [f"request {i}" for i in range(6)]


async def test_a_parked_request_never_expires(stack: Stack) -> None:
    # The queue's default time-to-live (7 days) would drop a request nobody replayed in time, silently.
    name = f"parked{secrets.token_hex(4)}"
    async with QueueClient.from_connection_string(stack.env["CrmQueue"], name) as queue:
        await QueueParking(queue).park(b'{"requestId": "crm-never-expires"}')
    check = SyncQueueClient.from_connection_string(stack.env["CrmQueue"], name)
    [parked] = check.peek_messages()
    assert parked.expires_on is not None and parked.inserted_on is not None
    assert parked.expires_on - parked.inserted_on > timedelta(days=365 * 100)
