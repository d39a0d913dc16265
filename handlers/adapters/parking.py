"""Parking: a copy of each exhausted request in `{queue}-exhausted`, from where an operator replays it.

A parked copy holds the whole request, personal data included, so it expires: PARKED_MESSAGE_TTL_DAYS after it was
parked (30 by default) the queue drops it. That drop is not silent: parking follows the poison function's
`retries_exhausted` event, which pages a person (the poison-queue-not-empty alert), or its `poison_unreported`
alert; past the time-to-live, a resend by the CRM is the way to retry (the event says `retryable`).
"""

from __future__ import annotations

import contextlib
import logging
import math

from azure.core.exceptions import HttpResponseError, ResourceExistsError, ResourceNotFoundError, ServiceRequestError
from azure.storage.queue.aio import QueueClient

from handlers.domain.failures import ErrorKind, OnboardingError

DAY = 86400
MAX_VISIBILITY = 7 * DAY - 3600  # Put Message refuses a visibility timeout over 7 days (or past the message's expiry)
log = logging.getLogger("csp_onboarding")


class QueueSender:
    """Sends message texts, as they were, to one queue (created on first use where it is missing)."""

    def __init__(self, queue: QueueClient) -> None:
        self._queue = queue

    async def aclose(self) -> None:
        """Close the queue client's connections (a worker keeps it for life; scripts and tests do not)."""
        await self._queue.close()

    async def send(
        self, body: bytes, *, time_to_live: int | None = None, visibility_timeout: int | None = None
    ) -> None:
        """Send one message; raises OnboardingError(TRANSIENT)."""
        text = body.decode("utf-8", errors="replace")
        options = {"time_to_live": time_to_live, "visibility_timeout": visibility_timeout}
        try:
            try:
                await self._queue.send_message(text, **options)
            except ResourceNotFoundError:
                # Concurrent first sends all find the queue missing; the SDK reports each create after the first
                # (the service's 204) as ResourceExistsError: the queue is there, which is all that matters.
                with contextlib.suppress(ResourceExistsError):
                    await self._queue.create_queue()
                await self._queue.send_message(text, **options)
        except (HttpResponseError, ServiceRequestError) as exc:
            raise OnboardingError(
                ErrorKind.TRANSIENT, f"sending to {self._queue.queue_name} failed: {type(exc).__name__}"
            ) from None

    async def defer(self, body: bytes, delay: float) -> None:
        """A fresh copy of a message, invisible for `delay` seconds (whole, 1 s to almost 7 days); raises
        OnboardingError(TRANSIENT)."""
        await self.send(body, visibility_timeout=min(max(math.ceil(delay), 1), MAX_VISIBILITY))


class QueueParking(QueueSender):
    """Parks exhausted requests: copies that expire after `time_to_live_days`, each logged for the operator (the
    workbook counts them)."""

    def __init__(self, queue: QueueClient, *, time_to_live_days: int) -> None:
        super().__init__(queue)
        self._time_to_live = time_to_live_days * DAY

    async def park(self, body: bytes) -> None:
        """Park one message; raises OnboardingError(TRANSIENT)."""
        await self.send(body, time_to_live=self._time_to_live)
        log.warning(
            "Parked the request in %s for a replay within %d days", self._queue.queue_name, self._time_to_live // DAY
        )
