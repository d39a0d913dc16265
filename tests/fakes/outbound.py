"""Outbound fakes: an event sink, a queue and a parking queue that record what they were given."""

from __future__ import annotations

from typing import Any

from handlers.domain.failures import ErrorKind, OnboardingError


class FakeEventSink:
    """Records published batches; raises `fail_with` when set."""

    def __init__(self) -> None:
        self.batches: list[list[dict[str, Any]]] = []
        self.fail_with: Exception | None = None

    async def publish(self, events: list[dict[str, Any]]) -> None:
        if self.fail_with is not None:
            raise self.fail_with
        self.batches.append(events)

    @property
    def events(self) -> list[dict[str, Any]]:
        return [event for batch in self.batches for event in batch]


class FakeQueue:
    """Records the message bodies sent to a queue, and the delayed copies (body, delay) deferred to it; `down` makes
    both fail as the queue service would."""

    def __init__(self) -> None:
        self.sent: list[bytes] = []
        self.deferred: list[tuple[bytes, float]] = []
        self.down = False

    async def send(self, body: bytes) -> None:
        self.sent.append(body)

    async def defer(self, body: bytes, delay: float) -> None:
        if self.down:
            raise OnboardingError(ErrorKind.TRANSIENT, "sending to customer-requests failed: HttpResponseError")
        self.deferred.append((body, delay))


class FakeParking:
    """Records parked message bodies."""

    def __init__(self) -> None:
        self.parked: list[bytes] = []

    async def park(self, body: bytes) -> None:
        self.parked.append(body)


def created_ids(sink: FakeEventSink) -> set[str]:
    return {e["data"]["requestId"] for e in sink.events if e["type"].endswith(".created")}


def failed_ids(sink: FakeEventSink) -> set[str]:
    return {e["data"]["requestId"] for e in sink.events if e["type"].endswith(".failed")}
