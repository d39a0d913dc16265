"""Parking: a copy of each exhausted request in `{queue}-exhausted`, from where an operator replays it."""

from __future__ import annotations

from azure.core.exceptions import HttpResponseError, ResourceNotFoundError, ServiceRequestError
from azure.storage.queue.aio import QueueClient

from handlers.failures import ErrorKind, OnboardingError


class QueueParking:
    """Sends message texts, as they were, to the parking queue (created on first use where it is missing)."""

    def __init__(self, queue: QueueClient) -> None:
        self._queue = queue

    async def park(self, body: bytes) -> None:
        """Park one message; raises OnboardingError(TRANSIENT), so the poison message is retried."""
        text = body.decode("utf-8", errors="replace")
        try:
            try:
                await self._queue.send_message(text)
            except ResourceNotFoundError:
                await self._queue.create_queue()
                await self._queue.send_message(text)
        except (HttpResponseError, ServiceRequestError) as exc:
            raise OnboardingError(ErrorKind.TRANSIENT, f"parking the request failed: {type(exc).__name__}") from None
