"""The function bindings: the requests queue and its poison queue, each handing bytes to the pipeline; a daily timer
that applies the ledger's retention.

The Python worker sets each invocation's OpenTelemetry context from the host's trace (PYTHON_ENABLE_OPENTELEMETRY),
so the pipeline's spans join it with no `context` argument: the functions take the message alone.
"""

from __future__ import annotations

import azure.functions as func

from handlers.pipeline import Dependencies, handle_message
from handlers.poison import handle_poison
from handlers.retention import purge_expired

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


@bp.function_name("purge_ledger")
@bp.timer_trigger(arg_name="timer", schedule="0 17 3 * * *", run_on_startup=False)
async def purge_ledger(timer: func.TimerRequest) -> None:
    """Daily at 03:17 UTC: delete ledger rows decided more than ONBOARDING_LEDGER_RETENTION_DAYS ago."""
    await purge_expired(get_dependencies())


@bp.function_name("report_exhausted_request")
@bp.queue_trigger(arg_name="msg", queue_name="%CUSTOMER_REQUESTS_QUEUE%-poison", connection="CrmQueue")
async def report_exhausted_request(msg: func.QueueMessage) -> None:
    """A request that failed every delivery → a `failed` event (retries_exhausted); the message is parked in
    `{queue}-exhausted`, from where `python -m ops.replay_poison` sends it back after an outage."""
    await handle_poison(msg.get_body(), get_dependencies())
