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
