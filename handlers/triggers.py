"""The function bindings: the requests queue and its poison queue, each handing bytes to the pipeline.

The Python worker sets each invocation's OpenTelemetry context from the host's trace when it exports telemetry
(PYTHON_APPLICATIONINSIGHTS_ENABLE_TELEMETRY), so the pipeline's spans join it with no `context` argument: the
functions take the message alone.
"""

from __future__ import annotations

import azure.functions as func

from handlers.pipeline import Dependencies, handle_message, handle_poison

bp = func.Blueprint()  # type: ignore[no-untyped-call]


def get_dependencies() -> Dependencies:
    """The worker's adapters, built on first use: their libraries load on the first invocation, so indexing
    the app (what the host does at start) stays fast."""
    from handlers.bootstrap import get_dependencies as built

    return built()


@bp.function_name("onboard_customer")
@bp.queue_trigger(arg_name="msg", queue_name="%CUSTOMER_REQUESTS_QUEUE%", connection="CrmQueue")
async def onboard_customer(msg: func.QueueMessage) -> None:
    """One customer request → one Partner Center customer and one outcome event."""
    await handle_message(msg.get_body(), get_dependencies())


@bp.function_name("report_exhausted_request")
@bp.queue_trigger(arg_name="msg", queue_name="%CUSTOMER_REQUESTS_QUEUE%-poison", connection="CrmQueue")
async def report_exhausted_request(msg: func.QueueMessage) -> None:
    """A request that failed every delivery → a `failed` event (retries_exhausted); the message is parked in
    `{queue}-exhausted`, from where `python -m ops.replay_poison` sends it back after an outage."""
    await handle_poison(msg.get_body(), get_dependencies())
