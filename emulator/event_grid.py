"""An Event Grid topic with the CloudEvents 1.0 input schema that records what it receives."""

from __future__ import annotations

import hmac
import json

from aiohttp import web

from emulator.partner_center import STATE_KEY
from emulator.state import EVENT_GRID_AUDIENCE

_REQUIRED = ("specversion", "id", "source", "type")


def _eg_error(status: int, code: str, message: str) -> web.Response:
    return web.json_response({"error": {"code": code, "message": message}}, status=status)


async def publish(request: web.Request) -> web.Response:
    state = request.app[STATE_KEY]
    key = request.headers.get("aeg-sas-key")
    if key is not None:
        if state.topic_key is None or not hmac.compare_digest(key, state.topic_key):
            return _eg_error(401, "Unauthorized", "The request authorization key is not authorized.")
    elif not state.token_valid(request.headers.get("Authorization"), EVENT_GRID_AUDIENCE):
        return _eg_error(401, "Unauthorized", "The request has no valid aeg-sas-key or bearer token.")
    if not request.content_type.startswith("application/cloudevents-batch+json"):
        return _eg_error(400, "BadRequest", "Content-Type must be application/cloudevents-batch+json.")
    try:
        events = json.loads(await request.read())
    except (json.JSONDecodeError, UnicodeDecodeError):
        return _eg_error(400, "BadRequest", "The body is not JSON.")
    if not isinstance(events, list) or not events:
        return _eg_error(400, "BadRequest", "The body must be a non-empty JSON array of CloudEvents.")
    for event in events:
        if not isinstance(event, dict) or any(not event.get(k) for k in _REQUIRED) or event["specversion"] != "1.0":
            return _eg_error(400, "BadRequest", "Each event needs specversion 1.0, id, source and type.")
    state.events.extend(events)
    state.count("events_received", len(events))
    return web.Response(status=200)
