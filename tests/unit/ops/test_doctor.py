"""The doctor's reading of settings and its verdicts (issue 24, item 6), without a stack: the app's own settings
(`az functionapp config appsettings list -o json`), an azd environment file or local.settings.json; a setting the
function would refuse named, never quoted; the deployment's federated credential inferred from an azd environment;
and the last line naming every thing to do."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ops.doctor import checks
from ops.doctor.settings import check, gather, read_file

APP = {
    "PARTNER_CENTER_TENANT_ID": "t",
    "PARTNER_CENTER_CLIENT_ID": "c",
    "PARTNER_CENTER_FEDERATED_CLIENT_ID": "mi",
    "EVENTS_TOPIC_ENDPOINT": "https://evgt.westeurope-1.eventgrid.azure.net/api/events",
    "PARTNER_CENTER_USER_TOKEN_SECRET_URL": "",
}


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in (*APP, "AZURE_CLIENT_ID", "PARTNER_CENTER_CLIENT_SECRET", "PARTNER_CENTER_CLIENT_CERTIFICATE_PATH"):
        monkeypatch.delenv(name, raising=False)


def test_the_apps_settings_as_the_cli_lists_them(tmp_path: Path) -> None:
    listed = tmp_path / "app.json"
    listed.write_text(json.dumps([{"name": k, "value": v, "slotSetting": False} for k, v in APP.items()]))
    values, where = gather(listed)
    settings, problems = check(values)
    assert problems == [] and settings is not None and str(listed) in where
    assert settings.credential_kind == "federated" and settings.PARTNER_CENTER_USER_TOKEN_SECRET_URL is None


def test_an_azd_environment_names_the_identity_and_the_deployment_makes_it_the_credential(tmp_path: Path) -> None:
    env = tmp_path / ".env"
    lines = [f'{k}="{v}"' for k, v in APP.items() if k != "PARTNER_CENTER_FEDERATED_CLIENT_ID"]
    env.write_text("\n".join([*lines, 'AZURE_CLIENT_ID="22222222-aaaa"', 'AZURE_ENV_NAME="csp-prod"']) + "\n")
    assert read_file(env)["AZURE_ENV_NAME"] == "csp-prod"
    settings, problems = check(gather(env)[0])
    assert problems == [] and settings is not None
    assert settings.PARTNER_CENTER_FEDERATED_CLIENT_ID == "22222222-aaaa"


def test_local_settings_json_and_a_refused_setting_named_not_quoted(tmp_path: Path) -> None:
    local = tmp_path / "local.settings.json"
    values = {**APP, "PARTNER_CENTER_CLIENT_SECRET": "s3cr3t-value", "ONBOARDING_LEDGER_RETENTION_DAYS": "-4"}
    local.write_text(json.dumps({"IsEncrypted": False, "Values": values}))
    settings, problems = check(gather(local)[0])
    assert settings is None and problems == ["ONBOARDING_LEDGER_RETENTION_DAYS: Input should be greater than 0"]
    values["ONBOARDING_LEDGER_RETENTION_DAYS"] = "180"  # then the model's own rules: one credential
    local.write_text(json.dumps({"IsEncrypted": False, "Values": values}))
    settings, problems = check(gather(local)[0])
    assert settings is None and len(problems) == 1 and "exactly one Partner Center credential" in problems[0]
    assert "s3cr3t-value" not in " ".join(problems)


def test_a_file_that_holds_no_settings_is_refused(tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("nothing to see here\n")
    with pytest.raises(ValueError, match="neither JSON app settings nor KEY=value lines"):
        read_file(tmp_path / "notes.txt")


def test_the_last_line_names_every_thing_to_do() -> None:
    findings = [
        checks.Finding("queue", checks.OK, "customer-requests: 0 message(s)"),
        checks.Finding("table", checks.MISSING, "onboardingintake: no such table: run `azd provision`"),
        checks.Finding("partner ctr", checks.NOTE, "the app signs in with its managed identity"),
    ]
    text, status = checks.summary(findings, ["Key Vault Secret Setter (custom) on the App+User token vault"], 1)
    assert status == 1
    assert text == (
        "2 thing(s) to do: table: onboardingintake; role: Key Vault Secret Setter (custom) on the App+User token vault"
    )
    assert checks.summary(findings[:1], [], 2) == ("nothing missing (roles not checked)", 0)
    assert checks.Finding("vault", checks.OK, "reachable").line() == "vault        ok       reachable"


def test_with_app_user_off_and_a_federated_credential_nothing_is_asked_of_partner_center() -> None:
    settings, _ = check({**APP})
    assert settings is not None
    assert checks.partner_center(settings).verdict == checks.NOTE
    assert checks.app_user(settings).text.startswith("off")
