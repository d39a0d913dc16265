"""Parking: a copy of each exhausted request in `{queue}-exhausted`, from where an operator replays it.

Parked copies never expire (time-to-live -1): the queue's default of 7 days would drop a request nobody replayed
in time, silently.
"""

from __future__ import annotations

import contextlib
import logging

from azure.core.exceptions import HttpResponseError, ResourceExistsError, ResourceNotFoundError, ServiceRequestError
from azure.storage.queue.aio import QueueClient

from handlers.domain.failures import ErrorKind, OnboardingError

NEVER_EXPIRES = -1  # Put Message's messagettl: -1 = the message never expires
log = logging.getLogger("csp_onboarding")


class QueueSender:
    """Sends message texts, as they were, to one queue (created on first use where it is missing)."""

    def __init__(self, queue: QueueClient) -> None:
        self._queue = queue

    async def aclose(self) -> None:
        """Close the queue client's connections (a worker keeps it for life; scripts and tests do not)."""
        await self._queue.close()

    async def send(self, body: bytes, *, time_to_live: int | None = None) -> None:
        """Send one message; raises OnboardingError(TRANSIENT)."""
        text = body.decode("utf-8", errors="replace")
        try:
            try:
                await self._queue.send_message(text, time_to_live=time_to_live)
            except ResourceNotFoundError:
                # Concurrent first sends all find the queue missing; the SDK reports each create after the first
                # (the service's 204) as ResourceExistsError: the queue is there, which is all that matters.
                with contextlib.suppress(ResourceExistsError):
                    await self._queue.create_queue()
                await self._queue.send_message(text, time_to_live=time_to_live)
        except (HttpResponseError, ServiceRequestError) as exc:
            raise OnboardingError(
                ErrorKind.TRANSIENT, f"sending to {self._queue.queue_name} failed: {type(exc).__name__}"
            ) from None


class QueueParking(QueueSender):
    """Parks exhausted requests: copies that never expire, each logged for the operator (the workbook counts them)."""

    async def park(self, body: bytes) -> None:
        """Park one message; raises OnboardingError(TRANSIENT)."""
        await self.send(body, time_to_live=NEVER_EXPIRES)
        log.warning("Parked the request in %s for a replay", self._queue.queue_name)
