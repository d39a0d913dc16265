"""A function app like function_app on the real stack, except that Partner Center answers every create with a
malformed 201 carrying a planted admin password: the customer's domain prefix `malformed{n}…` picks shape n of
tests.fakes.malformed_answers.SHAPES. Everything else (Entra, pre-flight, Event Grid, ledger, parking) is real."""

from __future__ import annotations

import asyncio
import json

import azure.functions as func
import httpx

from handlers.adapters.http import build_http_client
from handlers.bootstrap import build_dependencies
from handlers.onboarding.dependencies import Dependencies
from handlers.onboarding.pipeline import handle_message
from handlers.onboarding.poison import handle_poison
from handlers.settings import get_settings
from handlers.triggers import run_invocation
from tests.fakes.malformed_answers import SHAPES

app = func.FunctionApp()
_built: dict[asyncio.AbstractEventLoop, Dependencies] = {}


def _malformed_create(request: httpx.Request) -> httpx.Response | None:
    if request.method != "POST" or request.url.path != "/v1/customers":
        return None
    domain = json.loads(request.content)["companyProfile"]["domain"]
    shape = int(domain.removeprefix("malformed")[0])
    return httpx.Response(201, json=list(SHAPES.values())[shape][0])


def dependencies() -> Dependencies:
    loop = asyncio.get_running_loop()
    if loop not in _built:
        settings = get_settings()
        real = build_http_client(settings.PARTNER_CENTER_TIMEOUT_SECONDS)

        async def route(request: httpx.Request) -> httpx.Response:
            return _malformed_create(request) or await real.send(request)

        http = httpx.AsyncClient(transport=httpx.MockTransport(route), timeout=real.timeout)
        _built[loop] = build_dependencies(settings, http=http)
    return _built[loop]


@app.queue_trigger(arg_name="msg", queue_name="%CUSTOMER_REQUESTS_QUEUE%", connection="CrmQueue")
async def onboard_customer(msg: func.QueueMessage) -> None:
    await run_invocation("onboard_customer", handle_message, msg.get_body(), dependencies)


@app.queue_trigger(arg_name="msg", queue_name="%CUSTOMER_REQUESTS_QUEUE%-poison", connection="CrmQueue")
async def report_exhausted_request(msg: func.QueueMessage) -> None:
    await run_invocation("report_exhausted_request", handle_poison, msg.get_body(), dependencies)
