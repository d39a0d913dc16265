"""The function bindings: the requests queue and its poison queue, each handing bytes to the pipeline; a daily timer
that applies retention (the ledger's and the intake's rows), and a daily timer that keeps the App+User sign-in alive.

The Python worker sets each invocation's OpenTelemetry context from the host's trace when it exports telemetry
(PYTHON_APPLICATIONINSIGHTS_ENABLE_TELEMETRY), so the pipeline's spans join it with no `context` argument: the
functions take the message alone.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import azure.functions as func

from handlers.domain.failures import OnboardingError
from handlers.observability.logs import log_context, where_raised
from handlers.onboarding.backpressure import onboard_or_defer
from handlers.onboarding.dependencies import Dependencies
from handlers.onboarding.poison import handle_poison
from handlers.onboarding.retention import apply_retention


async def refresh_app_user(_: bytes, deps: Dependencies) -> None:
    """Redeem the App+User refresh token now, if App+User is on; raises OnboardingError."""
    if deps.app_user is not None:
        await deps.app_user.tokens.refresh()


async def purge_ledger_of(_: bytes, deps: Dependencies) -> None:
    """Apply retention: the ledger's rows, decided and undecided, and the intake's; raises OnboardingError."""
    await apply_retention(deps.ledger, deps.intake_records, deps.config)


bp = func.Blueprint()  # type: ignore[no-untyped-call]

Handler = Callable[[bytes, Dependencies], Awaitable[object]]


class InvocationFailed(Exception):
    """An exception that is not an OnboardingError ended an invocation. Its text is withheld (a library's message
    can quote its input: a pydantic error quotes the value it refused); its type and where it was raised are kept."""


def get_dependencies() -> Dependencies:
    """The worker's adapters, built on first use: their libraries load on the first invocation, so indexing
    the app (what the host does at start) stays fast."""
    from handlers.bootstrap import get_dependencies as built

    return built()


async def run_invocation(
    function: str, handler: Handler, body: bytes, dependencies: Callable[[], Dependencies] = get_dependencies
) -> None:
    """Run one invocation of an onboarding entry point, as `run_safely` does."""
    await run_safely(function, lambda: handler(body, dependencies()))


async def run_safely(function: str, work: Callable[[], Awaitable[object]]) -> None:
    """Run one invocation. An exception leaves it only with a message built by this project and without the
    exceptions chained to it: the worker sends the host `{type}: {str(exc)}` and a traceback of the whole chain
    (azure-functions-python-worker, Dispatcher._serialize_exception / utils.tracing.marshall_exception_trace), and
    the host logs both and records them on the invocation's span, outside this worker's log redaction."""
    try:
        with log_context(function=function):  # every record of it, Partner Center's calls too (the workbook)
            await work()
    except OnboardingError as error:
        raise error from None  # its message is ours; what it was raised from stays out of the host's logs
    except Exception as exc:
        raise InvocationFailed(f"{function} failed: {where_raised(exc)}") from None


async def release_kept_versions() -> None:
    """Release the CRM records' kept later versions whose earlier request decided (intake/pending.py)."""
    from handlers.bootstrap import get_intake
    from handlers.intake.pending import release_pending

    deps = get_intake()
    if deps.pending is not None:
        await release_pending(deps, deps.pending)


@bp.function_name("onboard_customer")
@bp.queue_trigger(arg_name="msg", queue_name="%CUSTOMER_REQUESTS_QUEUE%", connection="CrmQueue")
async def onboard_customer(msg: func.QueueMessage) -> None:
    """One customer request → one Partner Center customer and one outcome event (or, when the shared budget cannot
    serve it in time, a delayed copy of it on the queue: onboarding/backpressure.py)."""
    await run_invocation("onboard_customer", onboard_or_defer, msg.get_body())


@bp.function_name("purge_ledger")
@bp.timer_trigger(arg_name="timer", schedule="0 17 3 * * *", run_on_startup=False)
async def purge_ledger(timer: func.TimerRequest) -> None:
    """Daily at 03:17 UTC: retention (onboarding/retention.py): decided ledger rows after
    ONBOARDING_LEDGER_RETENTION_DAYS, undecided ones a week after an alert, intake rows their ledger row outlived."""
    await run_invocation("purge_ledger", purge_ledger_of, b"")


@bp.function_name("refresh_app_user_token")
@bp.timer_trigger(arg_name="timer", schedule="0 41 4 * * *", run_on_startup=False)
async def refresh_app_user_token(timer: func.TimerRequest) -> None:
    """Daily at 04:41 UTC: redeem the App+User refresh token (and keep the rotated one), so it never idles out
    (90 days); a dead sign-in publishes consent.required. Nothing to do when App+User is off."""
    await run_invocation("refresh_app_user_token", refresh_app_user, b"")


@bp.function_name("release_pending_records")
@bp.timer_trigger(arg_name="timer", schedule="*/30 * * * * *", run_on_startup=False)
async def release_pending_records(timer: func.TimerRequest) -> None:
    """Every 30 s: a CRM record's later version, kept while its earlier request was undecided, is sent once that one
    failed and dropped once it created the customer (Dataverse does not send it again)."""
    await run_safely("release_pending_records", release_kept_versions)


@bp.function_name("report_exhausted_request")
@bp.queue_trigger(arg_name="msg", queue_name="%CUSTOMER_REQUESTS_QUEUE%-poison", connection="CrmQueue")
async def report_exhausted_request(msg: func.QueueMessage) -> None:
    """A request that failed every delivery → a `failed` event (retries_exhausted); the message is parked in
    `{queue}-exhausted`, from where `python -m ops.replay_poison` sends it back after an outage."""
    await run_invocation("report_exhausted_request", handle_poison, msg.get_body())
