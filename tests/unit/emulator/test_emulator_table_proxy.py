"""The table fault proxy, in front of a recording stand-in for Azurite: requests pass unchanged, and a write is
dropped before it reaches storage or after storage committed it, as told (issue 13, item 5)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from emulator.app import STORAGE_FAULTS_KEY, build_app
from emulator.state import State
from emulator.table_proxy import StorageFaults, build_table_proxy

ENTITY_PATH = "/devstoreaccount1/ledger(PartitionKey='req%20one',RowKey='')"


@dataclass
class Seen:
    method: str
    raw_path: str
    headers: dict[str, str]
    body: bytes


@dataclass
class Upstream:
    """Stands in for Azurite: records each request it receives and answers like an insert."""

    seen: list[Seen] = field(default_factory=list)

    async def handle(self, request: web.Request) -> web.Response:
        self.seen.append(Seen(request.method, request.raw_path, dict(request.headers), await request.read()))
        return web.json_response({"ok": True}, status=201, headers={"ETag": "W/\"datetime'1'\"", "x-ms-version": "x"})


@dataclass
class Rig:
    upstream: Upstream
    state: State
    faults: StorageFaults
    client: TestClient[Any, Any]  # talks to the proxy
    admin: TestClient[Any, Any]  # talks to the emulator


@pytest.fixture
async def rig() -> AsyncIterator[Rig]:
    upstream = Upstream()
    azurite = web.Application()
    azurite.router.add_route("*", "/{tail:.*}", upstream.handle)
    state = State(tenant_id="t", client_id="c", client_secret="s" * 16, topic_key=None)
    emulator = build_app(state)
    async with TestServer(azurite) as azurite_server:
        faults = emulator[STORAGE_FAULTS_KEY]
        proxy = build_table_proxy(str(azurite_server.make_url("/")), state, faults)
        async with TestClient(TestServer(proxy)) as client, TestClient(TestServer(emulator)) as admin:
            yield Rig(upstream, state, faults, client, admin)


async def insert(rig: Rig) -> aiohttp.ClientResponse:
    headers = {"Authorization": "SharedKey devstoreaccount1:c2lnbmF0dXJl", "Content-Type": "application/json"}
    return await rig.client.post(ENTITY_PATH, data=b'{"State": "creating"}', headers=headers)


async def test_requests_reach_storage_unchanged_and_answers_come_back(rig: Rig) -> None:
    headers = {"Authorization": "SharedKey a:b", "If-Match": "*"}
    answer = await rig.client.delete(ENTITY_PATH, headers=headers)
    assert answer.status == 201 and answer.headers["ETag"] == "W/\"datetime'1'\""
    assert answer.headers["x-ms-version"] == "x"
    [seen] = rig.upstream.seen
    assert (seen.method, seen.raw_path, seen.body) == ("DELETE", ENTITY_PATH, b""), "the encoded path as sent"
    assert seen.headers["Authorization"] == "SharedKey a:b" and seen.headers["If-Match"] == "*"
    assert "Content-Type" not in seen.headers, "nothing added that a Shared Key signature would cover"
    assert rig.state.counters == {"storage_writes": 1, "storage_requests:ledger": 1}  # counted by table too


async def test_a_write_dropped_after_commit_reached_storage_but_its_answer_never_comes(rig: Rig) -> None:
    answer = await rig.admin.post("/_emulator/storage-faults", json={"dropAfterCommit": 1, "times": 1})
    assert answer.status == 200
    with pytest.raises(aiohttp.ClientConnectionError):
        await insert(rig)
    assert [s.body for s in rig.upstream.seen] == [b'{"State": "creating"}'], "storage committed it"
    assert rig.upstream.seen[0].headers["Content-Type"] == "application/json"
    assert (await insert(rig)).status == 201, "`times` spent: the next write passes"
    state = await (await rig.admin.get("/_emulator/state")).json()
    assert state["counters"]["storage_drops_after_commit"] == 1
    assert "storage_drops_before_commit" not in state["counters"]
    assert state["storageFaults"]["fired"] == 1


async def test_a_write_dropped_before_commit_never_reaches_storage(rig: Rig) -> None:
    await rig.admin.post("/_emulator/storage-faults", json={"dropBeforeCommit": 1, "times": 2})
    for _ in range(2):
        with pytest.raises(aiohttp.ClientConnectionError):
            await insert(rig)
    assert rig.upstream.seen == []
    assert rig.state.counters["storage_drops_before_commit"] == 2


async def test_reads_are_never_dropped(rig: Rig) -> None:
    await rig.admin.post("/_emulator/storage-faults", json={"dropAfterCommit": 1, "times": None})
    for method in ("GET", "HEAD"):
        assert (await rig.client.request(method, ENTITY_PATH)).status == 201
    assert len(rig.upstream.seen) == 2
    assert rig.faults.fired == 0


async def test_delete_and_reset_stop_the_drops(rig: Rig) -> None:
    for stop in ("DELETE storage-faults", "POST reset"):
        await rig.admin.post("/_emulator/storage-faults", json={"dropAfterCommit": 1, "times": None})
        method, path = stop.split()
        assert (await rig.admin.request(method, f"/_emulator/{path}")).status == 204
        assert (await insert(rig)).status == 201


async def test_a_table_made_unavailable_answers_503_to_reads_and_writes_while_the_others_pass(rig: Rig) -> None:
    answer = await rig.admin.post("/_emulator/storage-faults", json={"unavailable": 1, "tables": ["budget"]})
    assert (await answer.json())["tables"] == ["budget"]
    for method in ("GET", "PUT"):
        refused = await rig.client.request(method, "/devstoreaccount1/budget(PartitionKey='p',RowKey='r')")
        assert refused.status == 503 and refused.headers["x-ms-error-code"] == "ServerBusy"
    assert (await insert(rig)).status == 201  # the ledger's table is untouched
    assert [s.raw_path for s in rig.upstream.seen] == [ENTITY_PATH]
    assert rig.state.counters["storage_unavailable"] == 2
    assert rig.state.counters["storage_requests:budget"] == 2 and rig.state.counters["storage_requests:ledger"] == 1


def test_drops_are_seeded_random_at_the_given_shares() -> None:
    faults = StorageFaults()
    faults.configure({"dropAfterCommit": 0.03, "dropBeforeCommit": 0.01, "seed": 5})
    drops = [faults.pick("PUT") for _ in range(20000)]
    assert 500 < drops.count("after") < 700 and 130 < drops.count("before") < 270
    faults.configure({"dropAfterCommit": 0.03, "dropBeforeCommit": 0.01, "seed": 5})
    assert [faults.pick("PUT") for _ in range(20000)] == drops, "the same seed drops the same writes"
    assert faults.pick("GET") is None


@pytest.mark.parametrize(
    "body",
    [{"dropAfterCommit": 1.5}, {"dropAfterCommit": 0.6, "dropBeforeCommit": 0.6}, {"times": -1}, {"seed": "x"},
     {"drop": 1}, [1], {"unavailable": 0.5, "dropAfterCommit": 0.6}, {"tables": "budget"}],
)  # fmt: skip
def test_a_setting_the_proxy_cannot_take_is_refused(body: Any) -> None:
    with pytest.raises(ValueError, match=r"."):
        StorageFaults().configure(body)


async def test_an_emulator_without_a_table_proxy_says_so() -> None:
    state = State(tenant_id="t", client_id="c", client_secret="s" * 16, topic_key=None)
    async with TestClient(TestServer(build_app(state))) as admin:
        answer = await admin.post("/_emulator/storage-faults", json={"dropAfterCommit": 1})
        assert answer.status == 409 and "table proxy" in (await answer.json())["error"]
