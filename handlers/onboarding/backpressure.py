"""Backpressure, not poison: a request whose Partner Center calls the shared budget cannot serve within its invocation
goes back to the queue with a delay, without counting towards the poison queue. Nothing is lost and it stays
exactly once.

Why a fresh copy. The Storage queues extension counts deliveries, not failures. Its QueueProcessor
(Azure/azure-sdk-for-net, sdk/storage/Microsoft.Azure.WebJobs.Extensions.Storage.Common/src/Shared/Queues/
QueueProcessor.cs) deletes a message whose function succeeded (CompleteProcessingMessageAsync → DeleteMessageAsync);
when the function failed it moves the message to the poison queue once `DequeueCount >= MaxDequeueCount`, else
releases it for the fixed `visibilityTimeout` (ReleaseMessageAsync → UpdateMessageAsync); and a message arriving with
`DequeueCount > MaxDequeueCount` goes to the poison queue unrun (BeginProcessingMessageAsync). DequeueCount is the
service's count of deliveries. So failing the invocation to wait would spend one of the request's deliveries each
time, after a delay nobody chose. Instead a deferral puts a fresh copy on the queue — a new message whose
DequeueCount starts again, invisible for the delay (Put Message's visibilitytimeout) — and then lets the
invocation succeed, which deletes the original.

- The claim is freed first (the pipeline frees it on the way out), so the copy's delivery never waits out a lease.
- Copy first, success second. If the process dies between the two, both copies are delivered: the ledger's claim,
  by requestId rather than by message, makes the second a duplicate that publishes the first's outcome again.
- If the copy cannot be sent, the invocation fails as any transient failure does, and the queue redelivers it.
- The delay puts the request after every request sent back before it, each taking its calls' share of the whole
  app's schedule (the shared row counts them: SharedBudget.due_back), so a backlog sent back by many instances
  returns at the pace the budget serves it, not all at once and not too late.
"""

from __future__ import annotations

import logging

from handlers.domain.budget import OutOfBudget
from handlers.domain.request import CustomerRequest, parse_message
from handlers.observability.logs import log_context
from handlers.observability.telemetry import deferrals
from handlers.onboarding.dependencies import Dependencies
from handlers.onboarding.outcomes import Published
from handlers.onboarding.pipeline import handle_message

log = logging.getLogger("csp_onboarding")

MIN_DEFERRAL = 1.0  # seconds: a copy is never visible again at once


async def onboard_or_defer(body: bytes | str, deps: Dependencies) -> Published | None:
    """The queue function's work: the pipeline, or, when the shared budget cannot serve the request in time, a
    delayed copy on the queue and success (None). Raises what handle_message raises otherwise, and OutOfBudget
    itself when no queue is configured to send the copy to."""
    try:
        return await handle_message(body, deps)
    except OutOfBudget as refused:
        if deps.requeue is None:
            raise
        due = await deps.budget.due_back(refused) if deps.budget is not None else (refused.retry_after or 0.0)
        delay = max(due, MIN_DEFERRAL)
        data = body.encode("utf-8", errors="surrogatepass") if isinstance(body, str) else body
        await deps.requeue.defer(data, delay)
        deferrals.add(1)
        parsed = parse_message(data)
        request_id = parsed.requestId if isinstance(parsed, CustomerRequest) else None
        with log_context(requestId=request_id, outcome="deferred"):
            log.warning("Deferred the request for %.0f s: %s", delay, refused.message, extra={"deferredSeconds": delay})
        return None
