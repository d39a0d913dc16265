"""Drive the app's queue-triggered functions from Storage queues, as the Functions host does."""

from __future__ import annotations

import asyncio
import base64
import binascii
import contextlib
import inspect
import logging
import os
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from azure.core.exceptions import ResourceExistsError
from azure.functions.queue import QueueMessage as FunctionQueueMessage
from azure.storage.queue import QueueMessage as StorageMessage
from azure.storage.queue.aio import QueueClient

from devhost.console import report_failed_invocation
from devhost.hostjson import QueueOptions
from devhost.http import HttpOptions, serve_http
from devhost.indexing import app_functions, resolve_app_settings
from devhost.timers import index_timers, run_timer

log = logging.getLogger("devhost")
RECEIVE_VISIBILITY = 600.0
POISON_SUFFIX = "-poison"


@dataclass(frozen=True)
class QueueFunction:
    """One indexed queue-triggered function."""

    name: str
    queue_name: str
    connection: str
    user_function: Callable[..., Any]
    arg_name: str


def index_functions(indexed: Sequence[Any], env: dict[str, str]) -> list[QueueFunction]:
    """The app's queue-triggered functions, from the app's own index."""
    functions = []
    for function in indexed:
        triggers = [b for b in function.get_bindings() if b.type == "queueTrigger"]
        if not triggers:
            if any(b.type in ("timerTrigger", "httpTrigger") for b in function.get_bindings()):
                continue  # devhost/timers.py and devhost/http.py run those
            raise ValueError(f"{function.get_function_name()}: the local host runs queue, timer and HTTP triggers only")
        binding = triggers[0].get_dict_repr()
        functions.append(
            QueueFunction(
                name=function.get_function_name(),
                queue_name=resolve_app_settings(binding["queueName"], env),
                connection=binding["connection"],
                user_function=function.get_user_function(),
                arg_name=binding["name"],
            )
        )
    return functions


def _queue_client(connection: str, queue_name: str, env: dict[str, str]) -> QueueClient:
    if connection in env:
        # Read proxies from the environment only when one is set: otherwise the SDK re-reads it, and ~/.netrc, per call.
        proxied = any(v for k, v in env.items() if k.lower() in ("https_proxy", "http_proxy", "all_proxy"))
        return QueueClient.from_connection_string(env[connection], queue_name, use_env_settings=proxied)
    if f"{connection}__queueServiceUri" in env:
        raise ValueError(f"{connection}: identity-based connections need Azure; use a connection string locally")
    raise KeyError(f"app setting {connection} (the queue connection) is not set")


class QueueListener:
    """Polls one queue and runs its function per message: concurrency up to batchSize + newBatchThreshold,
    failed messages return after visibilityTimeout, and go to `{queue}-poison` after maxDequeueCount.

    As the real host (azure-sdk-for-net, Microsoft.Azure.WebJobs.Extensions.Storage.Queues:
    QueueListenerFactory.CreatePoisonQueueReference, QueueProcessor): a queue whose name ends in "-poison" has no
    poison queue, and a failed message there is not released: it stays invisible until its lease ends.
    """

    def __init__(
        self,
        function: QueueFunction,
        options: QueueOptions,
        env: dict[str, str],
        lease_seconds: float,
        max_concurrency: int | None = None,
    ):
        self.max_concurrency = max_concurrency
        self.function = function
        self.options = options
        self.queue = _queue_client(function.connection, function.queue_name, env)
        self.poison: QueueClient | None = None
        if not function.queue_name.endswith(POISON_SUFFIX):
            self.poison = _queue_client(function.connection, f"{function.queue_name}{POISON_SUFFIX}", env)
        self.lease_seconds = lease_seconds
        self.in_flight: set[asyncio.Task[None]] = set()

    async def run(self, stop: asyncio.Event) -> None:
        clients = [client for client in (self.queue, self.poison) if client is not None]
        for client in clients:
            with contextlib.suppress(ResourceExistsError):
                await client.create_queue()
        if self.max_concurrency is None:
            await self._run_batches(stop)
        else:
            await self._run_capped(stop, self.max_concurrency)
        if self.in_flight:
            await asyncio.wait(self.in_flight)
        for client in clients:
            await client.close()

    async def _run_batches(self, stop: asyncio.Event) -> None:
        """As the host does: fetch a batch whenever in-flight work drops to newBatchThreshold."""
        delay = 0.05
        while not stop.is_set():
            if len(self.in_flight) > self.options.new_batch_threshold:
                await asyncio.wait(self.in_flight, return_when=asyncio.FIRST_COMPLETED)
                continue
            messages = await self._receive(self.options.batch_size)
            for message in messages:
                self._start(message)
            if messages:
                delay = 0.05
                continue
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=delay)
            delay = min(delay * 2, self.options.max_polling_interval)

    async def _run_capped(self, stop: asyncio.Event, limit: int) -> None:
        """Benchmarks: exactly `limit` executions in flight. The next messages are received while those run (up to
        a batch ahead), so a finished execution's slot is refilled at once, as the host's background fetch does."""
        ahead = min(self.options.batch_size, limit)
        ready: deque[StorageMessage] = deque()
        fetch: asyncio.Task[list[StorageMessage]] | None = None
        stopped = asyncio.ensure_future(stop.wait())
        delay = 0.0
        while not stop.is_set():
            while ready and len(self.in_flight) < limit:
                self._start(ready.popleft())
            room = limit + ahead - len(self.in_flight) - len(ready)
            if fetch is None and room >= max(1, ahead // 2):
                fetch = asyncio.create_task(self._receive(room, after=delay))
            await asyncio.wait(
                {*self.in_flight, stopped, *([fetch] if fetch else [])}, return_when=asyncio.FIRST_COMPLETED
            )
            if fetch is not None and fetch.done():
                messages = fetch.result()
                fetch = None
                ready.extend(messages)
                delay = 0.0 if messages else min(max(delay * 2, 0.05), self.options.max_polling_interval)
        if fetch is not None:
            fetch.cancel()
        for message in ready:  # received but never started: back to the queue at once
            await self.queue.update_message(message, visibility_timeout=0)

    async def _receive(self, count: int, *, after: float = 0.0) -> list[StorageMessage]:
        if after:
            await asyncio.sleep(after)
        wanted = min(count, 32)  # the service's maximum per request
        try:
            return [
                m
                async for m in self.queue.receive_messages(
                    messages_per_page=wanted, max_messages=wanted, visibility_timeout=int(self.lease_seconds)
                )
            ]
        except Exception as exc:
            log.warning("%s: receiving failed: %s", self.function.name, exc)
            return []

    def _start(self, message: StorageMessage) -> None:
        task = asyncio.create_task(self._deliver(message))
        self.in_flight.add(task)
        task.add_done_callback(self.in_flight.discard)

    async def _deliver(self, message: StorageMessage) -> None:
        """As QueueProcessor.BeginProcessingMessageAsync: a message delivered more than maxDequeueCount times (an
        instance died while running it) is not run; it moves to the poison queue, or stays invisible without one."""
        if (message.dequeue_count or 0) <= self.options.max_dequeue_count:
            await self._process(message)
        elif self.poison is not None:
            await self._move_to_poison(message)
        else:
            log.warning("%s: message %s skipped (delivery %s, no poison queue)", self.function.name, message.id,
                        message.dequeue_count)  # fmt: skip

    def _body(self, message: StorageMessage) -> bytes:
        content = message.content if isinstance(message.content, str) else str(message.content)
        if self.options.message_encoding == "base64":
            return base64.b64decode(content, validate=True)
        return content.encode("utf-8")

    async def _process(self, message: StorageMessage) -> None:
        name = self.function.name
        try:
            body = self._body(message)
            argument = FunctionQueueMessage(  # the class the Python worker builds
                id=message.id,
                body=body,
                dequeue_count=message.dequeue_count,
                expiration_time=message.expires_on,
                insertion_time=message.inserted_on,
                time_next_visible=message.next_visible_on,
                pop_receipt=message.pop_receipt,
            )
            result = self.function.user_function(**{self.function.arg_name: argument})
            if inspect.isawaitable(result):
                await asyncio.wait_for(result, timeout=self.options.function_timeout)
        except (TimeoutError, Exception, binascii.Error) as exc:
            report_failed_invocation(name, message.id, message.dequeue_count, exc)  # to stderr, as the host does
            await self._after_failure(message)
            return
        await self.queue.delete_message(message)

    async def _after_failure(self, message: StorageMessage) -> None:
        if self.poison is None:
            # Not released, "to prevent a fast infinite loop" (QueueProcessor.CompleteProcessingMessageAsync).
            log.error("%s: message %s stays invisible until its lease ends (no poison queue)", self.function.name,
                      message.id)  # fmt: skip
        elif (message.dequeue_count or 0) >= self.options.max_dequeue_count:
            await self._move_to_poison(message)
        else:
            await self.queue.update_message(message, visibility_timeout=int(self.options.visibility_timeout))

    async def _move_to_poison(self, message: StorageMessage) -> None:
        assert self.poison is not None
        log.error("%s: message %s moved to %s", self.function.name, message.id, self.poison.queue_name)
        await self.poison.send_message(message.content)
        await self.queue.delete_message(message)


async def run_host(
    module_name: str,
    options: QueueOptions,
    stop: asyncio.Event,
    *,
    lease_seconds: float | None = None,
    max_concurrency: int | None = None,
    http: HttpOptions | None = None,
) -> list[QueueListener]:
    """Index the app and run a listener per queue function (and serve its HTTP functions) until `stop` is set."""
    env = dict(os.environ)
    indexed = app_functions(module_name)
    functions = index_functions(indexed, env)
    for function in functions:
        log.info("Found function %s (queue %s, connection %s)", function.name, function.queue_name, function.connection)
    # The real host receives with a 10-minute visibility and renews it while the function runs
    # (azure-sdk-for-net, Microsoft.Azure.WebJobs.Extensions.Storage.Queues, QueueListener: `_visibilityTimeout =
    # TimeSpan.FromMinutes(10)`, "the invisibility will be updated on a timer periodically"). This host does not
    # renew, so it receives with the longer of that and functionTimeout.
    lease = lease_seconds if lease_seconds is not None else max(RECEIVE_VISIBILITY, options.function_timeout)
    listeners = [QueueListener(f, options, env, lease, max_concurrency) for f in functions]

    timers = index_timers(indexed, env)
    for timer in timers:
        log.info("Found function %s (timer %s)", timer.name, timer.schedule)
    await asyncio.gather(
        *(listener.run(stop) for listener in listeners),
        *(run_timer(timer, stop, function_timeout=options.function_timeout) for timer in timers),
        *([serve_http(module_name, http, stop)] if http is not None else []),
    )
    return listeners
