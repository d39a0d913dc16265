"""The local host's benchmark mode on Azurite: exactly N executions in flight, every message run and deleted once."""

from __future__ import annotations

import asyncio
import os
import secrets
import signal
import subprocess
import sys
import time
from typing import Any

import pytest
from azure.storage.queue import QueueServiceClient

from devhost.host import QueueFunction, QueueListener
from devhost.hostjson import QueueOptions
from devhost.stack import ROOT, Stack

pytestmark = pytest.mark.integration


async def run_capped(stack: Stack, messages: int, stop_after: int) -> tuple[list[str], int, int]:
    """Run `messages` through a host capped at 3 in flight; stop after `stop_after` have run. Returns the bodies
    run, the peak in flight, and how many messages are visible in the queue afterwards."""
    name = f"capped-{secrets.token_hex(4)}"
    queue = stack.queue(name)
    for i in range(messages):
        queue.send_message(f"m{i}")
    running: set[str] = set()
    seen: list[str] = []
    peak = 0
    stop = asyncio.Event()

    async def function(msg: Any) -> None:
        nonlocal peak
        body = msg.get_body().decode()
        running.add(body)
        peak = max(peak, len(running))
        await asyncio.sleep(0.05)
        running.discard(body)
        seen.append(body)
        if len(seen) >= stop_after:
            stop.set()

    listener = QueueListener(
        QueueFunction("capped", name, "CrmQueue", function, "msg"),
        QueueOptions(message_encoding="none", batch_size=4, max_polling_interval=0.1),
        stack.env,
        lease_seconds=30,
        max_concurrency=3,
    )
    await asyncio.wait_for(listener.run(stop), timeout=30)
    return seen, peak, len(queue.peek_messages(max_messages=32))


async def test_a_capped_host_keeps_exactly_n_in_flight_and_runs_each_message_once(stack: Stack) -> None:
    seen, peak, visible = await run_capped(stack, 12, stop_after=12)
    assert sorted(seen) == sorted(f"m{i}" for i in range(12))  # each once
    assert peak == 3  # never more than the cap, and the cap reached
    assert visible == 0  # all deleted


async def test_messages_received_ahead_but_never_started_go_back_to_the_queue_on_stop(stack: Stack) -> None:
    seen, _, visible = await run_capped(stack, 12, stop_after=4)
    assert len(set(seen)) == len(seen) >= 4
    assert visible == 12 - len(seen)  # not held invisible for the 30 s lease


def test_a_stopped_host_exits_cleanly_without_reporting_the_clients_the_app_holds(stack: Stack) -> None:
    name = f"holding-{secrets.token_hex(4)}"
    queue = stack.queue(name)
    queue.send_message("hello")
    env = {**os.environ, **stack.env, "HOLDING_QUEUE": name, "PYTHONUNBUFFERED": "1"}
    host = subprocess.Popen(
        [sys.executable, "-m", "devhost", "--app", "tests.integration.app_holding_a_session",
         "--max-polling-interval", "0.1"],
        cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 30
        while queue.peek_messages() and time.monotonic() < deadline:  # run, then deleted
            time.sleep(0.1)
        assert not queue.peek_messages(), "the host ran the message"
    finally:
        host.send_signal(signal.SIGTERM)
        output, _ = host.communicate(timeout=30)
    assert host.returncode == 0, output
    assert "Unclosed" not in output and "ERROR" not in output, output


async def run_failing(stack: Stack, name: str, *, lease_seconds: int, max_dequeue_count: int = 5) -> list[int]:
    """One message on `name`, a function that always fails, a host whose releases would make it visible at once;
    runs until the first delivery has failed. Returns the dequeue counts the function saw."""
    seen: list[int] = []
    stop = asyncio.Event()

    async def failing(msg: Any) -> None:
        seen.append(msg.dequeue_count)
        stop.set()
        raise RuntimeError("the Partner Center outage outlasted every delivery")

    listener = QueueListener(
        QueueFunction("failing", name, "CrmQueue", failing, "msg"),
        QueueOptions(message_encoding="none", max_dequeue_count=max_dequeue_count, max_polling_interval=0.1),
        stack.env,
        lease_seconds=lease_seconds,
    )
    await asyncio.wait_for(listener.run(stop), timeout=30)
    return seen


async def test_a_failed_message_is_released_at_once_from_a_queue_with_a_poison_queue(stack: Stack) -> None:
    name = f"requests-{secrets.token_hex(4)}"
    stack.queue(name).send_message("hello")
    assert await run_failing(stack, name, lease_seconds=30) == [1]
    assert len(stack.queue(name).peek_messages()) == 1  # visibilityTimeout 0: back at once, not after the lease


async def test_a_poison_queue_has_no_poison_queue_and_a_failed_message_stays_invisible_until_its_lease_ends(
    stack: Stack,
) -> None:
    # QueueListenerFactory.CreatePoisonQueueReference gives a "-poison" queue none; QueueProcessor then does not
    # release a failed message (azure-sdk-for-net, Microsoft.Azure.WebJobs.Extensions.Storage.Queues).
    name = f"requests-{secrets.token_hex(4)}-poison"
    queue = stack.queue(name)
    queue.send_message("hello")
    assert await run_failing(stack, name, lease_seconds=3, max_dequeue_count=1) == [1]
    assert queue.peek_messages() == []  # not released, although visibilityTimeout is 0
    service = QueueServiceClient.from_connection_string(stack.env["CrmQueue"])
    assert [q.name for q in service.list_queues(name_starts_with=name)] == [name]  # no "-poison-poison"
    await asyncio.sleep(3.5)  # the 3 s lease, from the receive
    [message] = queue.peek_messages()  # back when the lease ended, still there: its time-to-live decides
    assert message.dequeue_count == 1


async def test_a_message_past_max_dequeue_count_on_a_poison_queue_is_not_run(stack: Stack) -> None:
    name = f"requests-{secrets.token_hex(4)}-poison"
    queue = stack.queue(name)
    queue.send_message("hello")
    [first] = queue.receive_messages(visibility_timeout=1)  # delivery 1: as if an instance died running it
    assert first.dequeue_count == 1
    await asyncio.sleep(1.2)
    ran: list[int] = []

    async def function(msg: Any) -> None:
        ran.append(msg.dequeue_count)

    listener = QueueListener(
        QueueFunction("skipping", name, "CrmQueue", function, "msg"),
        QueueOptions(message_encoding="none", max_dequeue_count=1, max_polling_interval=0.1),
        stack.env,
        lease_seconds=30,
    )
    stop = asyncio.Event()
    asyncio.get_running_loop().call_later(1.5, stop.set)
    await asyncio.wait_for(listener.run(stop), timeout=30)
    assert ran == []  # delivery 2 > maxDequeueCount 1: skipped, not run
    assert queue.peek_messages() == []  # and held invisible, not deleted: no poison queue to move it to
