"""The intake under concurrency and failure: identical requests racing send one message; a send that fails, or a
sender that dies, loses nothing."""

from __future__ import annotations

import asyncio
import json
from dataclasses import replace

import ops.backfill.run as backfill_run
from handlers.domain.failures import ErrorKind, OnboardingError
from handlers.domain.intake_record import IntakeRecord
from handlers.domain.partner_center_body import request_hash
from handlers.domain.request import CustomerRequest
from handlers.intake.dependencies import IntakeDependencies
from handlers.intake.enqueue import enqueue_once
from ops.backfill.rows import Row
from tests.fakes import FakeQueue, sample
from tests.fakes.intake import intake, post


class SlowQueue(FakeQueue):
    """A queue whose sends take a while (the others wait meanwhile), failing while `down`."""

    def __init__(self) -> None:
        super().__init__()
        self.down = False

    async def send(self, body: bytes) -> None:
        await asyncio.sleep(0.02)
        if self.down:
            raise OnboardingError(ErrorKind.TRANSIENT, "queue unavailable")
        await super().send(body)


def slow(deps: IntakeDependencies) -> tuple[IntakeDependencies, SlowQueue]:
    queue = SlowQueue()
    return replace(deps, queue=queue), queue


async def test_identical_requests_racing_send_one_message_and_all_get_202() -> None:
    deps, queue = slow(intake())
    answers = await asyncio.gather(*(post(deps, sample()) for _ in range(20)))
    assert {a.status for a in answers} == {202}
    assert [json.loads(m)["requestId"] for m in queue.sent] == ["crm-se-0001"]


async def test_a_failed_send_frees_the_row_so_a_racing_caller_or_the_resend_sends_it() -> None:
    deps, queue = slow(intake())
    queue.down = True
    first = await post(deps, sample())
    assert first.status == 503 and queue.sent == []
    queue.down = False
    assert (await post(deps, sample())).status == 202  # the CRM's resend
    assert len(queue.sent) == 1


async def test_a_row_left_sending_by_a_caller_that_died_is_taken_over_once_stale() -> None:
    deps, queue = slow(intake())
    request = CustomerRequest.model_validate(sample())
    content = request_hash(request, deps.config)
    died = IntakeRecord(
        request.requestId,
        request.requestId,
        content,
        deps.clock() - deps.config.timing.intake_takeover_after - 1,
        sending=True,
    )
    await deps.records.insert(died)
    assert await enqueue_once(request, deps) is True
    assert len(queue.sent) == 1 and (await deps.records.get(request.requestId)).sending is False  # type: ignore[union-attr]


async def test_a_caller_waits_for_a_live_send_only_so_long_then_asks_for_a_resend() -> None:
    waited: list[float] = []

    async def sleep(seconds: float) -> None:
        waited.append(seconds)

    deps, queue = slow(intake())
    deps = replace(deps, sleep=sleep)
    request = CustomerRequest.model_validate(sample())
    content = request_hash(request, deps.config)
    await deps.records.insert(IntakeRecord(request.requestId, request.requestId, content, deps.clock(), sending=True))
    answer = await post(deps, sample())
    assert answer.status == 503 and queue.sent == [] and 1.0 <= sum(waited) <= 3.0


async def test_a_resumed_backfill_sends_a_row_an_interrupted_run_left_sending_once_it_is_stale() -> None:
    # The interrupted run took the row and died before its message went out: the resumed run waits, then sends.
    deps, queue = slow(intake())
    # a caller waits 0.1 s for another's send, and a row is stale after 0.5 s
    timing = replace(deps.config.timing, intake_wait=0.1, intake_takeover_after=0.5)
    deps = replace(deps, config=replace(deps.config, timing=timing))
    request = CustomerRequest.model_validate(sample())
    content = request_hash(request, deps.config)
    await deps.records.insert(IntakeRecord(request.requestId, request.requestId, content, deps.clock(), sending=True))
    statuses = await backfill_run.enqueue([Row(1, request=request, request_id=request.requestId)], deps)
    assert statuses == {1: "sent"} and len(queue.sent) == 1
