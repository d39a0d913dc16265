"""Serve the app's HTTP-triggered functions as the Functions host does, on loopback.

What the real host does, and this one therefore does too (Azure/azure-functions-host, src/WebJobs.Script.WebHost):
- Routes live under `extensions.http.routePrefix` of host.json (default `api`); a function's `route` is an ASP.NET
  route template (`customer-requests/{requestId}`), its `methods` a constraint: a path or method no function takes
  is 404. Literal segments win over parameters (ASP.NET Core routing precedence), so `customer-requests/validate`
  is never taken for a `{requestId}`.
- Keys (Security/Authentication/Keys/AuthenticationLevelHandler.cs): the key comes from the `x-functions-key`
  header, else the `code` query parameter (the header wins). A `function`-level function accepts one of its own
  function keys, a host key or the master key; `admin` only the master key; `anonymous` anything.
- A request that is not authorized gets 401 with an empty body (Middleware/FunctionInvocationMiddleware.cs returns
  `UnauthorizedResult` before the function runs); an exception escaping the function gets 500.
- Bodies up to FUNCTIONS_REQUEST_BODY_SIZE_LIMIT bytes (default 100 MB) reach the function; larger ones get 413.

Keys are read from a JSON file (`{"masterKey": "...", "functionKeys": {"default": "..."}, "functions": {name:
{keyName: value}}}`) that `devhost.stack.Stack` writes under `.local/` at start; they are never logged (nor is a
request's query string, which may carry one).
"""

from __future__ import annotations

import asyncio
import hmac
import inspect
import json
import logging
import os
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import azure.functions as func
from aiohttp import web

from devhost.indexing import app_functions

log = logging.getLogger("devhost")
DEFAULT_BODY_LIMIT = 104_857_600


@dataclass(frozen=True)
class HttpOptions:
    """Where and how to serve HTTP triggers."""

    port: int
    keys_file: Path
    route_prefix: str = "api"
    function_timeout: float = 300.0


@dataclass(frozen=True)
class HttpFunction:
    """One indexed HTTP-triggered function, its route compiled."""

    name: str
    route: str
    methods: frozenset[str]
    auth_level: str
    user_function: Callable[..., Any]
    arg_name: str
    pattern: re.Pattern[str] = field(compare=False)
    literals: int = 0


def route_prefix(host_json: Path) -> str:
    """host.json's extensions.http.routePrefix (default `api`; empty means no prefix)."""
    data = json.loads(host_json.read_text(encoding="utf-8"))
    prefix = ((data.get("extensions") or {}).get("http") or {}).get("routePrefix", "api")
    return str(prefix).strip("/")


def compile_route(template: str) -> tuple[re.Pattern[str], int]:
    """An ASP.NET route template as a regex over the path after the prefix, and its count of literal segments.
    `{name}`, `{name?}` (optional), `{*name}` (catch-all) and constraints (`{id:int}`, ignored) are understood."""
    parts: list[str] = []
    literals = 0
    for segment in template.strip("/").split("/"):
        match = re.fullmatch(r"\{(\*)?([A-Za-z_][A-Za-z0-9_]*)(?::[^}?]*)?(\?)?\}", segment)
        if match is None:
            parts.append("/" + re.escape(segment))
            literals += 1
        elif match.group(1):
            parts.append(f"(?:/(?P<{match.group(2)}>.*))?")
        elif match.group(3):
            parts.append(f"(?:/(?P<{match.group(2)}>[^/]+))?")
        else:
            parts.append(f"/(?P<{match.group(2)}>[^/]+)")
    return re.compile("^" + "".join(parts) + "/?$", re.IGNORECASE), literals


def index_http_functions(module_name: str) -> list[HttpFunction]:
    """The app's HTTP-triggered functions from its own index, most specific routes first."""
    functions = []
    for function in app_functions(module_name):
        triggers = [b for b in function.get_bindings() if b.type == "httpTrigger"]
        if not triggers:
            continue
        spec = json.loads(function.get_function_json())["bindings"][0]
        route = spec.get("route") or function.get_function_name()
        pattern, literals = compile_route(route)
        functions.append(
            HttpFunction(
                name=function.get_function_name(),
                route=route,
                methods=frozenset(m.upper() for m in spec.get("methods") or []),
                auth_level=str(spec.get("authLevel") or "function").lower(),
                user_function=function.get_user_function(),
                arg_name=spec["name"],
                pattern=pattern,
                literals=literals,
            )
        )
    return sorted(functions, key=lambda f: -f.literals)


@dataclass(frozen=True)
class FunctionKeys:
    """The app's keys: master, host keys, and keys per function."""

    master: str
    host: dict[str, str]
    functions: dict[str, dict[str, str]]

    @classmethod
    def load(cls, path: Path) -> FunctionKeys:
        data = json.loads(path.read_text(encoding="utf-8"))
        return cls(str(data["masterKey"]), dict(data.get("functionKeys") or {}), dict(data.get("functions") or {}))

    def authorizes(self, function: HttpFunction, key: str | None) -> bool:
        """Whether `key` may call `function` at its auth level."""
        if function.auth_level == "anonymous":
            return True
        if not key:
            return False
        allowed = [self.master]
        if function.auth_level == "function":
            allowed += [*self.host.values(), *self.functions.get(function.name, {}).values()]
        return any(hmac.compare_digest(key.encode(), value.encode()) for value in allowed)


def _key(request: web.Request) -> str | None:
    if "x-functions-key" in request.headers:  # the header wins, even empty (AuthenticationLevelHandler)
        return request.headers["x-functions-key"]
    return request.query.get("code")


def _response(result: Any) -> web.Response:
    if not isinstance(result, func.HttpResponse):
        return web.Response(status=204 if result is None else 200, text=None if result is None else str(result))
    headers = dict(result.headers)
    if not any(k.lower() == "content-type" for k in headers) and result.mimetype:
        headers["Content-Type"] = f"{result.mimetype}; charset={result.charset or 'utf-8'}"
    return web.Response(status=result.status_code, body=result.get_body(), headers=headers)


class HttpHost:
    """Routes each request to its function, checks its key, and runs it."""

    def __init__(self, functions: list[HttpFunction], keys: FunctionKeys, options: HttpOptions) -> None:
        self.functions = functions
        self.keys = keys
        self.options = options

    def match(self, path: str, method: str) -> tuple[HttpFunction, dict[str, str]] | None:
        """The function for a path (after the prefix) and method, and its route parameters."""
        for function in self.functions:
            found = function.pattern.match(path)
            if found and (not function.methods or method in function.methods):
                return function, {k: v for k, v in found.groupdict().items() if v is not None}
        return None

    async def handle(self, request: web.Request) -> web.Response:
        prefix = f"/{self.options.route_prefix}" if self.options.route_prefix else ""
        path = request.path
        if prefix and not (path == prefix or path.startswith(prefix + "/")):
            return web.Response(status=404)
        found = self.match(path[len(prefix) :] or "/", request.method.upper())
        if found is None:
            return web.Response(status=404)
        function, route_params = found
        if not self.keys.authorizes(function, _key(request)):
            log.info("%s %s → 401 (no valid function key)", request.method, request.path)
            return web.Response(status=401)
        body = await request.read()
        argument = func.HttpRequest(
            method=request.method.upper(),
            url=str(request.url),
            headers=dict(request.headers),
            params=dict(request.query),
            route_params=route_params,
            body=body,
        )
        try:
            result = function.user_function(**{function.arg_name: argument})
            if inspect.isawaitable(result):
                result = await asyncio.wait_for(result, timeout=self.options.function_timeout)
        except Exception as exc:
            log.warning("%s failed: %s", function.name, type(exc).__name__)
            return web.Response(status=500)
        response = _response(result)
        log.info("%s %s → %s (%s)", request.method, request.path, response.status, function.name)
        return response


async def serve_http(module_name: str, options: HttpOptions, stop: asyncio.Event) -> None:
    """Serve the app's HTTP functions on 127.0.0.1:`options.port` until `stop` is set."""
    functions = index_http_functions(module_name)
    for function in functions:
        methods = ",".join(sorted(function.methods)) or "any"
        log.info("Found function %s (HTTP %s /%s/%s)", function.name, methods, options.route_prefix, function.route)
    host = HttpHost(functions, FunctionKeys.load(options.keys_file), options)
    limit = int(os.environ.get("FUNCTIONS_REQUEST_BODY_SIZE_LIMIT", DEFAULT_BODY_LIMIT))
    app = web.Application(client_max_size=limit)
    app.router.add_route("*", "/{tail:.*}", host.handle)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", options.port)
    await site.start()
    log.info("Serving HTTP functions on http://127.0.0.1:%s/%s", options.port, options.route_prefix)
    try:
        await stop.wait()
    finally:
        await runner.cleanup()
