"""KeyVaultSecrets over httpx.MockTransport (issue 21, item 7): a read names its version and when it was written; the
versions listed a page at a time, following Key Vault's nextLink only within the vault; a version disabled with
PATCH; every refusal classified, with Key Vault's error code and never its free text."""

from __future__ import annotations

import json
from collections.abc import Callable

import httpx
import pytest

from handlers.adapters.key_vault import KeyVaultSecrets, SecretVersion
from handlers.domain.failures import ErrorKind, OnboardingError
from tests.fakes import retry_policy

VAULT = "https://kv.vault.azure.net"
V1, V2, V3 = "0a" * 16, "1b" * 16, "2c" * 16


class StaticTokens:
    async def get_token(self) -> str:
        return "kv-token"

    def invalidate(self) -> None:
        pass


async def no_sleep(seconds: float) -> None:
    pass


def vault(handler: Callable[[httpx.Request], httpx.Response], seen: list[httpx.Request]) -> KeyVaultSecrets:
    def recording(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return handler(request)

    http = httpx.AsyncClient(transport=httpx.MockTransport(recording))
    return KeyVaultSecrets(http, VAULT, StaticTokens(), retry_policy=retry_policy(max_attempts=2, sleep=no_sleep))


def item(version: str, *, enabled: bool = True, created: int = 1_700_000_000, **tags: str) -> dict[str, object]:
    return {"id": f"{VAULT}/secrets/rt/{version}", "attributes": {"enabled": enabled, "created": created},
            "tags": tags}  # fmt: skip


def refusal(status: int, code: str, inner: str | None = None) -> httpx.Response:
    error: dict[str, object] = {"code": code, "message": "echo: rt.secret-value client_secret=abc"}
    if inner:
        error["innererror"] = {"code": inner}
    return httpx.Response(status, json={"error": error})


async def test_a_read_names_the_version_and_when_it_was_written() -> None:
    seen: list[httpx.Request] = []
    answer = {**item(V2, created=1_700_000_123, client="public"), "value": "rt.latest"}
    stored = await vault(lambda r: httpx.Response(200, json=answer), seen).get_secret("rt")
    assert stored is not None and stored.value.get_secret_value() == "rt.latest"
    assert (stored.version, stored.created, stored.tags) == (V2, 1_700_000_123, {"client": "public"})
    unreadable = {**answer, "id": f"{VAULT}/secrets/rt"}  # no version: the rotation check could not be made
    with pytest.raises(OnboardingError) as raised:
        await vault(lambda r: httpx.Response(200, json=unreadable), seen).get_secret("rt")
    assert raised.value.kind is ErrorKind.TRANSIENT


async def test_versions_are_listed_a_page_at_a_time_following_the_next_link() -> None:
    seen: list[httpx.Request] = []
    next_link = f"{VAULT}:443/secrets/rt/versions?api-version=7.4&$skiptoken=eyJhIjoxfQ%3D%3D&maxresults=25"
    pages = {
        "/secrets/rt/versions?api-version=7.4&maxresults=25": {
            "value": [item(V1, enabled=False), item(V2, signIn=V1, signedInAt="1"), {"id": "not/a version"}],
            "nextLink": next_link,
        },
        "/secrets/rt/versions?api-version=7.4&$skiptoken=eyJhIjoxfQ%3D%3D&maxresults=25": {
            "value": [item(V3, created=1_700_000_200)], "nextLink": None,
        },
    }  # fmt: skip
    secrets = vault(lambda r: httpx.Response(200, json=pages[r.url.raw_path.decode()]), seen)
    first = await secrets.secret_versions("rt")
    assert first.versions == (
        SecretVersion(V1, enabled=False, created=1_700_000_000, tags={}),
        SecretVersion(V2, enabled=True, created=1_700_000_000, tags={"signIn": V1, "signedInAt": "1"}),
    ), "an item whose id names no version is left out: nothing can be done with it"
    assert first.next_link == next_link
    second = await secrets.secret_versions("rt", next_link=first.next_link)
    assert second.versions == (SecretVersion(V3, enabled=True, created=1_700_000_200, tags={}),)
    assert second.next_link is None
    assert all(r.method == "GET" and r.headers["Authorization"] == "Bearer kv-token" for r in seen)


@pytest.mark.parametrize(
    "link",
    [
        "https://attacker.example/secrets/rt/versions?api-version=7.4&$skiptoken=x",
        "http://kv.vault.azure.net/secrets/rt/versions?api-version=7.4&$skiptoken=x",
        f"{VAULT}:8443/secrets/rt/versions?api-version=7.4&$skiptoken=x",
        f"{VAULT}/secrets/other/versions?api-version=7.4&$skiptoken=x",
        f"{VAULT}/secrets/rt/{V1}?api-version=7.4",
    ],
)
async def test_a_next_link_outside_the_secrets_versions_is_not_followed(link: str) -> None:
    seen: list[httpx.Request] = []
    with pytest.raises(OnboardingError) as raised:
        await vault(lambda r: httpx.Response(200, json={"value": []}), seen).secret_versions("rt", next_link=link)
    assert raised.value.kind is ErrorKind.TRANSIENT and seen == [], "the vault's token goes nowhere else"


async def test_a_version_is_disabled_with_a_patch_of_its_attributes_only() -> None:
    seen: list[httpx.Request] = []
    await vault(lambda r: httpx.Response(200, json=item(V1, enabled=False)), seen).disable_version("rt", V1)
    [patch] = seen
    assert (patch.method, patch.url.raw_path.decode()) == ("PATCH", f"/secrets/rt/{V1}?api-version=7.4")
    assert json.loads(patch.content) == {"attributes": {"enabled": False}}
    assert patch.headers["Authorization"] == "Bearer kv-token"
    await vault(lambda r: refusal(404, "SecretNotFound"), seen).disable_version("rt", V2)  # gone: nothing to do
    with pytest.raises(ValueError, match="version"):
        await vault(lambda r: httpx.Response(200), seen).disable_version("rt", "../other")


@pytest.mark.parametrize(
    ("answer", "kind", "code"),
    [
        (refusal(403, "Forbidden", "ForbiddenByRbac"), ErrorKind.AUTH, "Forbidden/ForbiddenByRbac"),
        (refusal(429, "Throttled"), ErrorKind.TRANSIENT, "Throttled"),
        (refusal(503, "ServiceUnavailable"), ErrorKind.TRANSIENT, "ServiceUnavailable"),
        (httpx.Response(500, text="<html>oops</html>"), ErrorKind.TRANSIENT, "HTTP 500"),
    ],
)
async def test_refusals_are_classified_and_name_key_vaults_code_not_its_text(
    answer: httpx.Response, kind: ErrorKind, code: str
) -> None:
    calls = [
        lambda s: s.secret_versions("rt"),
        lambda s: s.disable_version("rt", V1),
        lambda s: s.get_secret("rt"),
    ]
    for call in calls:
        seen: list[httpx.Request] = []
        with pytest.raises(OnboardingError) as raised:
            await call(vault(lambda r: answer, seen))
        assert raised.value.kind is kind and code in str(raised.value)
        assert "rt.secret-value" not in str(raised.value) and "client_secret" not in str(raised.value)


async def test_a_disabled_latest_version_is_named_as_such() -> None:
    seen: list[httpx.Request] = []
    with pytest.raises(OnboardingError) as raised:
        await vault(lambda r: refusal(403, "Forbidden", "SecretDisabled"), seen).get_secret("rt")
    assert raised.value.kind is ErrorKind.AUTH and "SecretDisabled" in str(raised.value)


async def test_an_unreadable_listing_is_transient() -> None:
    seen: list[httpx.Request] = []
    for body in ({"value": "x"}, ["x"], {"value": [], "nextLink": 3}):
        with pytest.raises(OnboardingError) as raised:
            await vault(lambda r, b=body: httpx.Response(200, json=b), seen).secret_versions("rt")  # type: ignore[misc]
        assert raised.value.kind is ErrorKind.TRANSIENT
