"""One function-level key per HTTP route family (issue 21): the azd hook creates them, the Bicep outputs name them,
and the local stack hands out the same families, one key per function (devhost.keys)."""

from __future__ import annotations

import re
from pathlib import Path

from devhost.indexing import app_functions
from devhost.keys import ROUTE_FAMILIES

ROOT = Path(__file__).resolve().parents[3]
HOOK = ROOT / "infra" / "hooks" / "function-keys.sh"


def http_functions() -> set[str]:
    return {f.get_function_name() for f in app_functions("function_app") if "route" in f.get_function_json()}


def test_every_http_function_has_a_route_family_of_its_own() -> None:
    assert set(ROUTE_FAMILIES.values()) == http_functions()
    assert len(set(ROUTE_FAMILIES.values())) == len(ROUTE_FAMILIES)  # one function per family, one key each


def test_the_azd_hook_creates_each_familys_key_and_only_where_missing() -> None:
    hook = HOOK.read_text()
    assert set(re.findall(r"(\w+):(\w+)", hook.split("for pair in", 1)[1].split("; do", 1)[0])) == set(
        ROUTE_FAMILIES.items()
    )
    assert "keys set" in hook and "--key-value" not in hook  # the host generates each value
    assert "keys list" in hook.split("keys set")[0]  # looked for first: a redeploy keeps the CRM's key
    azure_yaml = (ROOT / "azure.yaml").read_text()
    assert "postdeploy:" in azure_yaml and "./infra/hooks/function-keys.sh" in azure_yaml


def test_the_bicep_outputs_name_each_familys_function_and_key_never_a_key_value() -> None:
    main = (ROOT / "infra" / "main.bicep").read_text()
    routes = main.split("output HTTP_ROUTES object = {", 1)[1].split("\n}\n", 1)[0]
    for family, function in ROUTE_FAMILIES.items():
        assert f"{family}: {{ function: '{function}', key: '{family}'" in routes
    assert "listKeys" not in main
