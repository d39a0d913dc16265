"""A fault proxy in front of Azurite's Table endpoint: plain HTTP on loopback, forwarding every request as it came,
that can lose a write's answer after the write committed (or drop the write before it reaches storage), or answer
503 Server Busy without forwarding at all.

Real Table storage can commit an insert or update and lose the answer on the way back (a connection reset, a
load-balancer timeout); the client then sees a connection error for a write that happened. Azurite never does
that, so this proxy does, on demand (issue 13): `POST /_emulator/storage-faults` on the emulator with
{"dropAfterCommit": p, "dropBeforeCommit": q, "unavailable": u, "tables": [names]|null, "times": n|null, "seed": s};
`DELETE` clears it. Only writes (POST, PUT, PATCH, MERGE, DELETE) are dropped; `unavailable` answers reads and
writes alike with 503 ServerBusy, as a partition over its scalability target does (issue 22: the shared budget's
row). `tables` limits every fault to those tables. Each request is counted by table (`storage_requests:{table}`).

The emulator process hosts it (`python -m emulator --table-proxy-to http://127.0.0.1:{azurite's table port}`), so
`Stack.admin` reaches its control and its counters appear in `GET /_emulator/state` like every other counter.
"""

from __future__ import annotations

import math
import random
import re
from dataclasses import dataclass, field
from typing import Any, Literal

import aiohttp
from aiohttp import web
from multidict import CIMultiDict
from yarl import URL

from emulator.faults import drop_connection
from emulator.state import State

WRITE_METHODS = frozenset({"POST", "PUT", "PATCH", "MERGE", "DELETE"})
# RFC 9110 §7.6.1 connection-specific fields, and what each hop sets for itself (host, framing, 100-continue, which
# the proxy's server side has already answered).
_HOP_BY_HOP = frozenset(
    {"connection", "keep-alive", "proxy-connection", "te", "trailer", "transfer-encoding", "upgrade"}
    | {"host", "content-length", "expect"}
)
Drop = Literal["before", "after", "unavailable"]
_TABLE = re.compile(r"^/[^/]+/([^/(?]+)")  # /{account}/{table}(PartitionKey=…) or /{account}/Tables


@dataclass
class StorageFaults:
    """Which writes the proxy drops. `times` bounds the drops of both kinds together (None: no bound)."""

    drop_after_commit: float = 0.0
    drop_before_commit: float = 0.0
    unavailable: float = 0.0
    tables: frozenset[str] | None = None
    times: int | None = None
    seed: int = 0
    fired: int = 0
    proxying: bool = False  # whether this process runs the proxy (else setting faults would do nothing)
    rng: random.Random = field(default_factory=lambda: random.Random(0))

    def configure(self, body: Any) -> None:
        """Replace the whole configuration from the admin body; raises ValueError."""
        if not isinstance(body, dict):
            raise ValueError("the body must be a JSON object")
        known = {"dropAfterCommit", "dropBeforeCommit", "unavailable", "tables", "times", "seed"}
        if unknown := set(body) - known:
            raise ValueError(f"unknown storage-fault keys {sorted(unknown)}; known: {sorted(known)}")
        after, before = _share(body, "dropAfterCommit"), _share(body, "dropBeforeCommit")
        unavailable = _share(body, "unavailable")
        if after + before + unavailable > 1:
            raise ValueError("dropAfterCommit + dropBeforeCommit + unavailable must be at most 1")
        tables = body.get("tables")
        if tables is not None and (not isinstance(tables, list) or not all(isinstance(t, str) for t in tables)):
            raise ValueError("tables must be a list of table names, or null")
        times, seed = body.get("times"), body.get("seed", 0)
        if times is not None and (isinstance(times, bool) or not isinstance(times, int) or times < 0):
            raise ValueError("times must be a whole number >= 0, or null")
        if isinstance(seed, bool) or not isinstance(seed, int):
            raise ValueError("seed must be a whole number")
        self.drop_after_commit, self.drop_before_commit, self.times, self.seed = after, before, times, seed
        self.unavailable = unavailable
        self.tables = None if tables is None else frozenset(tables)
        self.fired = 0
        self.rng = random.Random(seed)

    def clear(self) -> None:
        self.configure({})

    def pick(self, method: str, table: str = "") -> Drop | None:
        """Whether to fail this request, and how: writes dropped, or any request refused as unavailable, at random
        (seeded), on the chosen tables only, at most `times` in all."""
        if (self.times is not None and self.fired >= self.times) or (
            self.tables is not None and table not in self.tables
        ):
            return None
        write = method.upper() in WRITE_METHODS
        drops = self.drop_after_commit + self.drop_before_commit if write else 0.0
        if drops + self.unavailable <= 0:
            return None
        draw = self.rng.random()
        drop: Drop | None = None
        if draw < self.unavailable:
            drop = "unavailable"
        elif draw < self.unavailable + (self.drop_before_commit if write else 0.0):
            drop = "before"
        elif draw < self.unavailable + drops:
            drop = "after"
        if drop is not None:
            self.fired += 1
        return drop

    def as_json(self) -> dict[str, Any]:
        return {
            "dropAfterCommit": self.drop_after_commit,
            "dropBeforeCommit": self.drop_before_commit,
            "unavailable": self.unavailable,
            "tables": None if self.tables is None else sorted(self.tables),
            "times": self.times,
            "seed": self.seed,
            "fired": self.fired,
            "proxying": self.proxying,
        }


def _share(body: dict[str, Any], key: str) -> float:
    value = body.get(key, 0.0)
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value <= 1 or math.isnan(value):
        raise ValueError(f"{key} must be a probability between 0 and 1")
    return float(value)


PROXY_STATE_KEY: web.AppKey[State] = web.AppKey("proxy_state", State)
PROXY_FAULTS_KEY: web.AppKey[StorageFaults] = web.AppKey("proxy_faults", StorageFaults)
UPSTREAM_KEY: web.AppKey[URL] = web.AppKey("upstream", URL)
SESSION_KEY: web.AppKey[aiohttp.ClientSession] = web.AppKey("session", aiohttp.ClientSession)


def _forwardable(headers: Any) -> CIMultiDict[str]:
    return CIMultiDict((k, v) for k, v in headers.items() if k.lower() not in _HOP_BY_HOP)


async def forward(request: web.Request) -> web.StreamResponse:
    """Forward one request to Azurite unchanged (headers, body, encoded path: Shared Key signatures stay valid)."""
    state, faults = request.app[PROXY_STATE_KEY], request.app[PROXY_FAULTS_KEY]
    match = _TABLE.match(request.raw_path)
    table = match.group(1) if match else ""
    drop = faults.pick(request.method, table)
    state.count(f"storage_requests:{table}")
    if request.method.upper() in WRITE_METHODS:
        state.count("storage_writes")
    body = await request.read()
    if drop == "unavailable":
        state.count("storage_unavailable")
        error = {"odata.error": {"code": "ServerBusy", "message": {"lang": "en-US", "value": "The server is busy."}}}
        return web.json_response(error, status=503, headers={"x-ms-error-code": "ServerBusy"})
    if drop == "before":
        state.count("storage_drops_before_commit")
        return drop_connection(request)
    url = URL(str(request.app[UPSTREAM_KEY]).rstrip("/") + request.raw_path, encoded=True)
    try:
        async with request.app[SESSION_KEY].request(
            request.method,
            url,
            headers=_forwardable(request.headers),
            data=body or None,
            skip_auto_headers={"Content-Type", "Accept-Encoding", "User-Agent"},  # send only what the client sent
            allow_redirects=False,
        ) as answer:
            payload = await answer.read()
            status, headers = answer.status, _forwardable(answer.headers)
    except aiohttp.ClientError as exc:
        return web.Response(status=502, text=f"table proxy: Azurite did not answer ({type(exc).__name__})")
    if drop == "after":  # Azurite committed and answered; the client never hears of it
        state.count("storage_drops_after_commit")
        return drop_connection(request)
    return web.Response(status=status, body=payload, headers=headers)


def build_table_proxy(upstream: str, state: State, faults: StorageFaults) -> web.Application:
    """The proxy app: forwards to `upstream` (Azurite's table endpoint, scheme://host:port), dropping per `faults`."""
    app = web.Application(client_max_size=64 * 1024 * 1024)  # a batch may carry 4 MiB; never refuse what Azurite takes
    app[PROXY_STATE_KEY], app[PROXY_FAULTS_KEY], app[UPSTREAM_KEY] = state, faults, URL(upstream)
    faults.proxying = True

    async def session(app: web.Application) -> Any:
        connector = aiohttp.TCPConnector(limit=512)  # the host keeps up to 48 invocations, each with a write
        timeout = aiohttp.ClientTimeout(total=60)
        async with aiohttp.ClientSession(connector=connector, timeout=timeout, auto_decompress=False) as client:
            app[SESSION_KEY] = client
            yield

    app.cleanup_ctx.append(session)
    app.router.add_route("*", "/{tail:.*}", forward)
    return app
