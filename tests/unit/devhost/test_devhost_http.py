"""The local host's HTTP routing and keys, as the Functions host applies them."""

from __future__ import annotations

from pathlib import Path

import pytest

from devhost.http import FunctionKeys, HttpHost, HttpOptions, compile_route, index_http_functions, route_prefix

ROOT = Path(__file__).resolve().parents[3]


@pytest.fixture(scope="module")
def host() -> HttpHost:
    keys = FunctionKeys("master", {"default": "host-key"}, {"get_customer_request": {"mine": "function-key"}})
    return HttpHost(index_http_functions("function_app"), keys, HttpOptions(0, Path("unused")))


@pytest.mark.parametrize(
    ("path", "method", "function", "params"),
    [("/customer-requests", "POST", "accept_customer_request", {}),
     ("/customer-requests/validate", "POST", "validate_customer_request", {}),
     ("/customer-requests/validate", "GET", "get_customer_request", {"requestId": "validate"}),
     ("/Customer-Requests/crm-1:a.b", "GET", "get_customer_request", {"requestId": "crm-1:a.b"}),
     ("/crm/salesforce/", "POST", "accept_salesforce_message", {}),
     ("/customer-requests", "GET", None, None), ("/customer-requests/a/b", "GET", None, None),
     ("/crm/hubspot", "POST", None, None)],
)  # fmt: skip
def test_routes_match_as_the_host_matches_them(
    host: HttpHost, path: str, method: str, function: str | None, params: dict[str, str] | None
) -> None:
    found = host.match(path, method)
    assert (found[0].name, found[1]) == (function, params) if found else function is None


def test_route_templates() -> None:
    pattern, literals = compile_route("items/{id:int}/{rest?}")
    assert literals == 1
    assert pattern.match("/items/7")
    assert pattern.match("/items/7/x")["rest"] == "x"  # type: ignore[index]
    catch_all, _ = compile_route("files/{*path}")
    assert catch_all.match("/files/a/b/c")["path"] == "a/b/c"  # type: ignore[index]


def test_keys_by_auth_level(host: HttpHost) -> None:
    status = next(f for f in host.functions if f.name == "get_customer_request")
    intake = next(f for f in host.functions if f.name == "accept_customer_request")
    keys = host.keys
    assert keys.authorizes(status, "function-key") and keys.authorizes(status, "host-key")
    assert keys.authorizes(status, "master")
    assert not keys.authorizes(intake, "function-key")  # another function's key
    assert not keys.authorizes(status, None) and not keys.authorizes(status, "") and not keys.authorizes(status, "x")
    admin = type(status)(**{**status.__dict__, "auth_level": "admin"})
    assert keys.authorizes(admin, "master") and not keys.authorizes(admin, "host-key")
    anonymous = type(status)(**{**status.__dict__, "auth_level": "anonymous"})
    assert keys.authorizes(anonymous, None)


def test_the_route_prefix_comes_from_host_json(tmp_path: Path) -> None:
    assert route_prefix(ROOT / "host.json") == "api"
    (tmp_path / "host.json").write_text('{"version": "2.0"}')
    assert route_prefix(tmp_path / "host.json") == "api"
    (tmp_path / "host.json").write_text('{"extensions": {"http": {"routePrefix": ""}}}')
    assert route_prefix(tmp_path / "host.json") == ""


def test_the_header_wins_over_the_code_parameter_even_when_empty() -> None:
    from aiohttp.test_utils import make_mocked_request

    from devhost.http import _key

    assert _key(make_mocked_request("GET", "/api/x?code=q", headers={"x-functions-key": "h"})) == "h"
    assert _key(make_mocked_request("GET", "/api/x?code=q", headers={"x-functions-key": ""})) == ""
    assert _key(make_mocked_request("GET", "/api/x?code=q")) == "q"
