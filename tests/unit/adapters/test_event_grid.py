"""EventGridPublisher over httpx.MockTransport: the wire form of contract §2 and failure handling."""

from __future__ import annotations

import json

import httpx
import pytest
from pydantic import SecretStr

from handlers.adapters.event_grid import EventGridPublisher
from handlers.domain.failures import ErrorKind, OnboardingError
from tests.fakes import retry_policy

EVENT = {"specversion": "1.0", "id": "1", "source": "/s", "type": "t", "data": {"requestId": "ü"}}


async def no_wait(seconds: float) -> None:
    return None


def publisher(*statuses: int) -> tuple[EventGridPublisher, list[httpx.Request]]:
    seen: list[httpx.Request] = []
    answers = list(statuses)

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(answers.pop(0) if len(answers) > 1 else answers[0])

    http = httpx.AsyncClient(transport=httpx.MockTransport(handler))
    sink = EventGridPublisher(
        http,
        "https://topic.test/api/events",
        key=SecretStr("sas-key-1"),
        tokens=None,
        retry_policy=retry_policy(max_attempts=3, sleep=no_wait),
    )
    return sink, seen


async def test_a_batch_is_posted_as_cloudevents_json() -> None:
    sink, seen = publisher(200)
    await sink.publish([EVENT])
    [request] = seen
    assert request.headers["Content-Type"] == "application/cloudevents-batch+json; charset=utf-8"
    assert request.headers["aeg-sas-key"] == "sas-key-1"
    assert json.loads(request.content.decode("utf-8")) == [EVENT]


async def test_server_errors_are_retried_then_raised_as_transient() -> None:
    sink, seen = publisher(500)
    with pytest.raises(OnboardingError) as raised:
        await sink.publish([EVENT])
    assert raised.value.kind is ErrorKind.TRANSIENT and len(seen) == 3


async def test_a_blip_is_survived() -> None:
    sink, seen = publisher(503, 200)
    await sink.publish([EVENT])
    assert len(seen) == 2


async def test_a_refused_key_raises_without_retrying_and_without_the_key() -> None:
    sink, seen = publisher(401)
    with pytest.raises(OnboardingError) as raised:
        await sink.publish([EVENT])
    assert raised.value.kind is ErrorKind.AUTH and len(seen) == 1
    assert "sas-key-1" not in str(raised.value)


def test_it_needs_a_key_or_tokens() -> None:
    with pytest.raises(ValueError, match="EVENTS_TOPIC_KEY"):
        EventGridPublisher(httpx.AsyncClient(), "https://x", key=None, tokens=None, retry_policy=retry_policy())
