"""The HTTP functions (contract §6): intake, status, validation, and the Dataverse and Salesforce routes.

Function-key authorization (`x-functions-key` header or `code` query parameter), one function-level key per route
family (docs/security.md); each body hands the request's bytes to a plain function and turns its Answer into the
HTTP response. No exception reaches the host: `answered` turns one into a logged 503 or 500.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

import azure.functions as func

from handlers.observability.logs import log_context

if TYPE_CHECKING:  # the intake's libraries load on the first call, so indexing the app stays fast
    from handlers.intake.dependencies import IntakeDependencies
    from handlers.intake.http_bodies import Answer

bp = func.Blueprint()  # type: ignore[no-untyped-call]
KEY = func.AuthLevel.FUNCTION


def intake() -> IntakeDependencies:
    """The worker's intake dependencies, built on first use (indexing stays fast)."""
    from handlers.bootstrap import get_intake

    return get_intake()


def respond(answer: Answer) -> func.HttpResponse:
    """An Answer as the Functions library's response."""
    return func.HttpResponse(answer.body, status_code=answer.status, headers={
        **answer.headers, "Content-Type": answer.content_type})  # fmt: skip


async def answered(function: str, work: Callable[[], Awaitable[Answer]], *, soap: bool = False) -> func.HttpResponse:
    """One HTTP invocation: its Answer as the response; an exception never reaches the host (which would log its text
    and raw traceback): intake.safety_net answers it. Every record of it names the function, Partner Center's
    calls too (the workbook's 429s per function)."""
    try:
        with log_context(function=function):
            return respond(await work())
    except Exception as exc:
        from handlers.intake.safety_net import failure_answer

        return respond(failure_answer(function, exc, soap=soap))


def api_base(req: func.HttpRequest, route: str) -> str:
    """The request's URL up to the route prefix (`https://app/api`), for the status URLs it answers with."""
    path = req.url.split("?", 1)[0].rstrip("/")
    return path[: -len(route) - 1] if path.endswith(f"/{route}") else ""


@bp.function_name("accept_customer_request")
@bp.route(route="customer-requests", methods=["POST"], auth_level=KEY)
async def accept_customer_request(req: func.HttpRequest) -> func.HttpResponse:
    """A §1 request → 400 with its errors, or 202 once enqueued (once per requestId and content)."""
    from handlers.intake.enqueue import accept_request

    base = api_base(req, "customer-requests")
    return await answered("accept_customer_request", lambda: accept_request(
        req.get_body(), req.headers.get("content-type"), base, intake()))  # fmt: skip


@bp.function_name("validate_customer_request")
@bp.route(route="customer-requests/validate", methods=["POST"], auth_level=KEY)
async def validate_customer_request(req: func.HttpRequest) -> func.HttpResponse:
    """The whole pre-flight, with no create and no event."""
    from handlers.bootstrap import get_dependencies
    from handlers.intake.validation import validate_request

    return await answered("validate_customer_request", lambda: validate_request(
        req.get_body(), req.headers.get("content-type"), get_dependencies()))  # fmt: skip


@bp.function_name("get_customer_request")
@bp.route(route="customer-requests/{requestId}", methods=["GET"], auth_level=KEY)
async def get_customer_request(req: func.HttpRequest) -> func.HttpResponse:
    """The ledger's state of a request and its stored outcome event."""
    from handlers.intake.status import request_status

    request_id = req.route_params.get("requestId", "")
    return await answered("get_customer_request", lambda: request_status(request_id, intake()))


@bp.function_name("accept_dataverse_webhook")
@bp.route(route="crm/dataverse", methods=["POST"], auth_level=KEY)
async def accept_dataverse_webhook(req: func.HttpRequest) -> func.HttpResponse:
    """A Dataverse `account` Create/Update webhook → one request."""
    from handlers.intake.crm.dataverse_route import accept_dataverse

    headers = {k.lower(): v for k, v in req.headers.items()}
    base = api_base(req, "crm/dataverse")
    return await answered("accept_dataverse_webhook", lambda: accept_dataverse(req.get_body(), headers, base, intake()))


@bp.function_name("accept_salesforce_message")
@bp.route(route="crm/salesforce", methods=["POST"], auth_level=KEY)
async def accept_salesforce_message(req: func.HttpRequest) -> func.HttpResponse:
    """A Salesforce outbound message → one request per notification, then the SOAP Ack."""
    from handlers.intake.crm.routes import accept_salesforce

    return await answered("accept_salesforce_message", lambda: accept_salesforce(
        req.get_body(), req.headers.get("content-type"), intake()), soap=True)  # fmt: skip
