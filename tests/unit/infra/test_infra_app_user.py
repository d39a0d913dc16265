"""App+User is opt-in (issue 24, item 2), checked as text (no Bicep compiler here): a fresh azd environment with no
App+User variable deploys PARTNER_CENTER_USER_TOKEN_SECRET_URL empty, which the function reads as App+User off: no
token source, so no refresh, no consent alarm, no alert. APP_USER_ENABLED=true deploys the secret's URL."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest

from handlers.bootstrap import build_user_tokens
from handlers.settings import Settings
from tests.unit.infra.bicep_text import INFRA, MAIN, app_setting_values, modules, outputs

PARAMETERS = json.loads((INFRA / "main.parameters.json").read_text())["parameters"]
VAULT_URI = "https://kvtok-abc.vault.azure.net/"


def azd_value(parameter: str, env: dict[str, str]) -> str | None:
    """What azd makes of a parameter file value: `${NAME=default}` substituted from the azd environment (envsubst);
    None when the result is empty (azd then leaves the parameter out and the Bicep default applies)."""
    text = PARAMETERS[parameter]["value"]
    value = re.sub(r"\$\{(\w+)(?:=([^}]*))?\}", lambda m: env.get(m.group(1), m.group(2) or ""), text)
    return value or None


def deployed_secret_url(env: dict[str, str]) -> str:
    """PARTNER_CENTER_USER_TOKEN_SECRET_URL as function-app.bicep sets it, for the azd environment `env`."""
    given = azd_value("appUserEnabled", env)
    default = re.search(r"^param appUserEnabled bool = (true|false)$", MAIN.read_text(), re.MULTILINE)
    assert default is not None
    enabled = (given or default.group(1)).lower() == "true"
    assert modules()["functionApp"].params["appUserEnabled"] == "appUserEnabled"
    expression = app_setting_values()["PARTNER_CENTER_USER_TOKEN_SECRET_URL"]
    match = re.fullmatch(
        r"appUserEnabled \? '\$\{appUserTokenVaultUri\}secrets/\$\{appUserTokenSecretName\}' : ''", expression
    )
    assert match, expression
    return f"{VAULT_URI}secrets/partner-center-app-user" if enabled else ""


def function_settings(secret_url: str) -> Settings:
    return Settings(
        PARTNER_CENTER_TENANT_ID="t", PARTNER_CENTER_CLIENT_ID="c", PARTNER_CENTER_FEDERATED_CLIENT_ID="mi",
        EVENTS_TOPIC_ENDPOINT="https://topic.example/api/events", PARTNER_CENTER_USER_TOKEN_SECRET_URL=secret_url,
    )  # fmt: skip


def test_app_user_is_an_azd_variable_off_by_default() -> None:
    assert PARAMETERS["appUserEnabled"]["value"] == "${APP_USER_ENABLED=false}"
    assert "param appUserEnabled bool = false" in MAIN.read_text()
    assert "param appUserEnabled bool = false" in (INFRA / "app" / "function-app.bicep").read_text()
    assert outputs()["PARTNER_CENTER_USER_TOKEN_SECRET_URL"].startswith("appUserEnabled ? ")


def test_a_fresh_environment_deploys_app_user_off_and_the_function_builds_no_token_source(
    caplog: pytest.LogCaptureFixture,
) -> None:
    url = deployed_secret_url({})  # `azd env new`: no APP_USER_ENABLED
    assert url == ""
    settings = function_settings(url)
    assert settings.PARTNER_CENTER_USER_TOKEN_SECRET_URL is None
    never: Any = None  # nothing else is touched when App+User is off
    assert build_user_tokens(settings, never, never, never, never) is None
    assert not [r for r in caplog.records if getattr(r, "alert", None)], "no alert of any kind"


def test_turning_it_on_deploys_the_secrets_url() -> None:
    url = deployed_secret_url({"APP_USER_ENABLED": "true"})
    assert url == function_settings(url).PARTNER_CENTER_USER_TOKEN_SECRET_URL
    assert deployed_secret_url({"APP_USER_ENABLED": "false"}) == ""
