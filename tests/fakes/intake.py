"""The intake over fakes, and how its tests post a request and read an answer."""

from __future__ import annotations

import json
from typing import Any

from handlers.intake.crm.mapping import load_field_map
from handlers.intake.crm.senders import CrmSenders
from handlers.intake.dependencies import IntakeDependencies
from handlers.intake.enqueue import accept_request
from handlers.intake.http_bodies import Answer
from handlers.onboarding.dependencies import Dependencies
from tests.fakes import dependencies, message
from tests.fakes.outbound import FakeQueue
from tests.fakes.storage import FakeIntakeRecords

JSON = "application/json"


BASE = "https://app.example/api"


# The organizations of the CRM samples (samples/crm/), the ones the tests' intake accepts.
SAMPLE_SENDERS = CrmSenders.of(["c2e4a6b8-1d3f-4a5b-9c7d-0e2f4a6b8c0d"], ["00D5g0000CspOnbAAA"])


def intake(pipeline: Dependencies | None = None) -> IntakeDependencies:
    """The intake over fakes, sharing the ledger of `pipeline` (through which a test may run its messages); it
    accepts the sample organizations' records."""
    pipeline = pipeline or dependencies()
    records = FakeIntakeRecords()
    return IntakeDependencies(
        pipeline.ledger,
        pipeline.config,
        FakeQueue(),
        records,
        load_field_map(),
        senders=SAMPLE_SENDERS,
        pending=records,
        publisher=pipeline.publisher,
    )


def sent(deps: IntakeDependencies) -> list[dict[str, Any]]:
    assert isinstance(deps.queue, FakeQueue)
    return [json.loads(body) for body in deps.queue.sent]


def body_of(answer: Answer) -> Any:
    return json.loads(answer.body)


async def post(deps: IntakeDependencies, data: dict[str, Any]) -> Answer:
    return await accept_request(message(data), JSON, BASE, deps)
