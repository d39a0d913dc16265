"""A queue-triggered app that, like function_app, keeps an HTTP client open for the worker's life."""

from __future__ import annotations

import aiohttp
import azure.functions as func

app = func.FunctionApp()
_sessions: list[aiohttp.ClientSession] = []


@app.queue_trigger(arg_name="msg", queue_name="%HOLDING_QUEUE%", connection="CrmQueue")
async def hold_a_session(msg: func.QueueMessage) -> None:
    if not _sessions:
        _sessions.append(aiohttp.ClientSession())  # never closed: the worker's process ends with it open
