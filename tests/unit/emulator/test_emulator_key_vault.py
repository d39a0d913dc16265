"""The emulator's Key Vault secrets as Key Vault answers them (issue 21, item 7): every PUT a new version; versions
listed without values, 25 a page at most, in an order that is not the order of writing, with a nextLink; a version
disabled with PATCH; a disabled latest version refused with 403 SecretDisabled, not stepped over."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import urlsplit

import pytest
from aiohttp.test_utils import TestClient, TestServer

from emulator.app import build_app
from emulator.state import KEY_VAULT_AUDIENCE, State

API = {"api-version": "7.4"}


class Vault:
    def __init__(self, client: TestClient[Any, Any], state: State) -> None:
        self.client = client
        self.auth = {"Authorization": f"Bearer {state.issue_token(KEY_VAULT_AUDIENCE)[0]}"}

    async def put(self, name: str, value: str) -> dict[str, Any]:
        response = await self.client.put(f"/secrets/{name}", params=API, json={"value": value}, headers=self.auth)
        assert response.status == 200
        return dict(await response.json())

    async def get(self, path: str, **query: str) -> tuple[int, dict[str, Any]]:
        response = await self.client.get(path, params={**API, **query}, headers=self.auth)
        return response.status, await response.json()

    async def disable(self, secret_id: str) -> tuple[int, dict[str, Any]]:
        body = {"attributes": {"enabled": False}}
        response = await self.client.patch(urlsplit(secret_id).path, params=API, json=body, headers=self.auth)
        return response.status, await response.json()

    async def listing(self, name: str) -> tuple[list[dict[str, Any]], int]:
        """Every version, following nextLink as given; and how many pages that took."""
        items: list[dict[str, Any]] = []
        response = await self.client.get(f"/secrets/{name}/versions", params=API, headers=self.auth)
        for pages in range(1, 10):
            assert response.status == 200
            page = await response.json()
            assert len(page["value"]) <= 25
            items += page["value"]
            if not page["nextLink"]:
                return items, pages
            link = urlsplit(page["nextLink"])
            response = await self.client.get(f"{link.path}?{link.query}", headers=self.auth)
        raise AssertionError("the listing does not end")


@pytest.fixture
async def vault() -> AsyncIterator[Vault]:
    state = State(tenant_id="t", client_id="c", client_secret="s" * 16, topic_key=None)
    async with TestClient(TestServer(build_app(state))) as client:
        yield Vault(client, state)


async def test_versions_are_listed_in_pages_without_values_and_not_in_the_order_of_writing(vault: Vault) -> None:
    written = [(await vault.put("rt", f"value-{n}"))["id"] for n in range(30)]
    items, pages = await vault.listing("rt")
    assert pages == 2 and sorted(i["id"] for i in items) == sorted(written)
    assert [i["id"] for i in items] == sorted(written), "Key Vault's order: deterministic, not chronological"
    assert all("value" not in i and i["attributes"]["enabled"] for i in items)
    status, answer = await vault.get("/secrets/rt/versions", maxresults="26")
    assert (status, answer["error"]["code"]) == (400, "BadParameter")
    assert await vault.get("/secrets/none/versions") == (200, {"value": [], "nextLink": None})


async def test_a_disabled_version_is_listed_as_such_and_a_disabled_latest_is_refused(vault: Vault) -> None:
    first, second = await vault.put("rt", "old"), await vault.put("rt", "new")
    status, updated = await vault.disable(first["id"])
    assert status == 200 and updated["attributes"]["enabled"] is False and "value" not in updated
    items, _ = await vault.listing("rt")
    assert {i["id"]: i["attributes"]["enabled"] for i in items} == {first["id"]: False, second["id"]: True}
    status, latest = await vault.get("/secrets/rt")
    assert (status, latest["value"], latest["id"]) == (200, "new", second["id"])
    await vault.disable(second["id"])
    status, refused = await vault.get("/secrets/rt")  # not the older version: Key Vault refuses
    assert status == 403 and refused["error"]["code"] == "Forbidden"
    assert refused["error"]["innererror"]["code"] == "SecretDisabled"
    assert (await vault.disable(first["id"].rsplit("/", 1)[0] + "/0123456789abcdef"))[0] == 404


async def test_every_call_needs_a_key_vault_token(vault: Vault) -> None:
    first = await vault.put("rt", "v")
    vault.auth = {}
    for status, _ in (await vault.get("/secrets/rt/versions"), await vault.disable(first["id"])):
        assert status == 401
