"""The HTTP functions (contract §6): intake, status, validation, and the Dataverse and Salesforce routes.

Function-key authorization (`x-functions-key` header or `code` query parameter); each body hands the request's
bytes to a plain function and turns its Answer into the HTTP response.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import azure.functions as func

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
    return respond(await accept_request(req.get_body(), req.headers.get("content-type"), base, intake()))


@bp.function_name("validate_customer_request")
@bp.route(route="customer-requests/validate", methods=["POST"], auth_level=KEY)
async def validate_customer_request(req: func.HttpRequest) -> func.HttpResponse:
    """The whole pre-flight, with no create and no event."""
    from handlers.bootstrap import get_dependencies
    from handlers.intake.validation import validate_request
    from handlers.observability.logs import log_context

    with log_context(function="validate_customer_request"):  # its Partner Center calls, by function (the workbook)
        answer = await validate_request(req.get_body(), req.headers.get("content-type"), get_dependencies())
    return respond(answer)


@bp.function_name("get_customer_request")
@bp.route(route="customer-requests/{requestId}", methods=["GET"], auth_level=KEY)
async def get_customer_request(req: func.HttpRequest) -> func.HttpResponse:
    """The ledger's state of a request and its stored outcome event."""
    from handlers.intake.status import request_status

    return respond(await request_status(req.route_params.get("requestId", ""), intake()))


@bp.function_name("accept_dataverse_webhook")
@bp.route(route="crm/dataverse", methods=["POST"], auth_level=KEY)
async def accept_dataverse_webhook(req: func.HttpRequest) -> func.HttpResponse:
    """A Dataverse `account` Create/Update webhook → one request."""
    from handlers.intake.crm.routes import accept_dataverse

    headers = {k.lower(): v for k, v in req.headers.items()}
    return respond(await accept_dataverse(req.get_body(), headers, api_base(req, "crm/dataverse"), intake()))


@bp.function_name("accept_salesforce_message")
@bp.route(route="crm/salesforce", methods=["POST"], auth_level=KEY)
async def accept_salesforce_message(req: func.HttpRequest) -> func.HttpResponse:
    """A Salesforce outbound message → one request per notification, then the SOAP Ack."""
    from handlers.intake.crm.routes import accept_salesforce

    return respond(await accept_salesforce(req.get_body(), req.headers.get("content-type"), intake()))
