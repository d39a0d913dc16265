"""The real stack for integration tests: Azurite, the emulator and the local host, started once."""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from azure.data.tables.aio import TableClient
from azure.storage.queue import QueueClient

from devhost.hostjson import timing_overrides
from devhost.stack import QUEUE, Stack
from tests.leak_scan import stop_after_scan

# Redeliveries a second apart: invocations of 3 s, claims of 3.5 s, rounds of 0.75 s of call time (domain/timing.py).
FAST_RETRIES = timing_overrides(visibility_timeout=1)


_opened_tables: list[TableClient] = []


def open_table(connection: str, name: str, **options: Any) -> TableClient:
    """An async Table client that is closed when the test ends (close_opened_tables): one left open is reported by
    aiohttp, at ERROR on the asyncio logger, whenever it is collected, inside whichever test is running then."""
    client = TableClient.from_connection_string(connection, table_name=name, **options)
    _opened_tables.append(client)
    return client


@pytest.fixture(autouse=True)
async def close_opened_tables() -> AsyncIterator[None]:
    yield
    while _opened_tables:
        await _opened_tables.pop().close()


class Harness:
    """Drives the running stack: enqueue messages, wait for events, inspect the emulator."""

    def __init__(self, stack: Stack) -> None:
        self.stack = stack
        self.queue = stack.queue()
        self.poison = stack.queue(f"{QUEUE}-poison")

    def enqueue(self, body: str | dict[str, Any]) -> None:
        self.queue.send_message(body if isinstance(body, str) else json.dumps(body))

    def wait_for_events(
        self, count: int, *, where: Callable[[dict[str, Any]], bool] = lambda e: True, timeout: float = 60.0
    ) -> list[dict[str, Any]]:
        deadline = time.monotonic() + timeout
        while True:
            events = [e for e in self.stack.events() if where(e)]
            if len(events) >= count or time.monotonic() > deadline:
                return events
            time.sleep(0.2)

    def settle(self, seconds: float = 1.5) -> None:
        """Give redeliveries a chance to (wrongly) do more."""
        time.sleep(seconds)

    def calls(self, endpoint: str) -> list[dict[str, Any]]:
        return [c for c in self.stack.admin("GET", "calls") if c["endpoint"] == endpoint]

    def counters(self) -> dict[str, int]:
        return dict(self.stack.admin("GET", "state")["counters"])

    def queue_length(self, client: QueueClient) -> int:
        return len(client.peek_messages(max_messages=32))

    def wait_for_messages(self, client: QueueClient, count: int, *, timeout: float = 15.0) -> int:
        """The visible messages of a queue once there are `count` of them, or at the deadline."""
        deadline = time.monotonic() + timeout
        while (length := self.queue_length(client)) < count and time.monotonic() < deadline:
            time.sleep(0.2)
        return length


@pytest.fixture(scope="session")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    log_dir: Path = tmp_path_factory.mktemp("stack-logs")
    stack = Stack(
        log_dir=log_dir,
        host_args=["--max-polling-interval", "0.2", "--lease-seconds", "30"],
        extra_env={**FAST_RETRIES, "PARTNER_CENTER_MAX_REQUESTS_PER_MINUTE": "12000"},
        app_user=True,
    )
    stack.start()
    yield stack
    stop_after_scan(stack)


@pytest.fixture
def harness(stack: Stack) -> Harness:
    stack.admin("POST", "reset")
    return Harness(stack)
