"""infra/ consistency, checked without a Bicep compiler (none can be installed here): settings, secrets, roles,
module wiring. Each check reads the templates as text."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from handlers.observability import telemetry
from handlers.settings import Settings
from tests.unit.infra.bicep_text import app_setting_values, modules

ROOT = Path(__file__).resolve().parents[3]
INFRA = ROOT / "infra"
BICEP = sorted(INFRA.rglob("*.bicep"))

# Settings the code reads that a deployment deliberately does not set, and why.
NOT_DEPLOYED = {
    "PARTNER_CENTER_CLIENT_SECRET": "secretless deployment: the federated credential is used",
    "PARTNER_CENTER_CLIENT_CERTIFICATE_PATH": "secretless deployment: the federated credential is used",
    "EVENTS_TOPIC_KEY": "the topic has local auth disabled: Entra tokens are used",
    "PARTNER_CENTER_API_URL": "override for emulators and special endpoints; the cloud decides",
    "PARTNER_CENTER_AUTHORITY_HOST": "override for emulators; the cloud decides",
    "PARTNER_CENTER_TIMEOUT_SECONDS": "tuning knob with a sound default",
    "ADDRESS_VALIDATION_ENABLED": "on by default; an operator may turn it off",
    "ADMIN_CREDENTIALS_EXPIRY_DAYS": "30 days by default",
    "ONBOARDING_LEDGER_RETENTION_DAYS": "90 days by default",
    "ONBOARDING_UNDECIDED_RETENTION_DAYS": "30 days by default",
    "ONBOARDING_INTAKE_RETENTION_DAYS": "90 days by default",
    "PARKED_MESSAGE_TTL_DAYS": "30 days by default",
    "AzureWebJobsStorage": "connection-string form; deployed identity-based (__accountName)",
    "CrmQueue": "connection-string form; deployed identity-based (__queueServiceUri)",
    "AzureWebJobsStorage__tableServiceUri": "derived from __accountName",
    "CRM_FIELD_MAP": "the shipped default map unless an integrator replaces it",
}
# App settings read by the Functions host, the Python worker or its exporter rather than by this code.
HOST_SETTINGS = {
    "AzureWebJobsStorage__credential",
    "PYTHON_APPLICATIONINSIGHTS_ENABLE_TELEMETRY",
    "APPLICATIONINSIGHTS_AUTHENTICATION_STRING",
}
# Settings read through os.environ (not Settings) by handlers/.
ENVIRON_SETTINGS = {"APPLICATIONINSIGHTS_CONNECTION_STRING"}


def app_settings() -> set[str]:
    return set(app_setting_values())


def binding_connections() -> set[str]:
    text = (ROOT / "handlers" / "triggers.py").read_text()
    return set(re.findall(r'connection="([^"]+)"', text))


def test_every_setting_the_code_reads_is_deployed_or_deliberately_optional() -> None:
    deployed = app_settings()
    read = set(Settings.model_fields) | ENVIRON_SETTINGS
    missing = {name for name in read if name not in deployed and name not in NOT_DEPLOYED}
    assert missing == set()
    assert set(NOT_DEPLOYED) <= read, "NOT_DEPLOYED names a setting nobody reads"


def test_every_deployed_setting_is_read() -> None:
    read = set(Settings.model_fields) | ENVIRON_SETTINGS | HOST_SETTINGS
    unread = {name for name in app_settings() if name not in read and name.split("__")[0] not in binding_connections()}
    assert unread == set()


# The Python worker's own names (Azure/azure-functions-python-worker, workers/azure_functions_worker/constants.py;
# dispatcher.py `_handle__worker_init_request`). PYTHON_APPLICATIONINSIGHTS_ENABLE_TELEMETRY makes the worker call
# configure_azure_monitor() and set up the trace propagator; PYTHON_ENABLE_OPENTELEMETRY alone only marks
# OpenTelemetry available, and every async invocation then calls `.extract` on the unset propagator and fails.
WORKER_EXPORTS = "PYTHON_APPLICATIONINSIGHTS_ENABLE_TELEMETRY"
WORKER_OTEL_ONLY = "PYTHON_ENABLE_OPENTELEMETRY"
WORKER_LOGGER_NAME = "PYTHON_APPLICATIONINSIGHTS_LOGGER_NAME"  # default "": the root logger, every library


def test_the_worker_is_the_one_telemetry_exporter() -> None:
    settings = app_setting_values()
    assert (telemetry.WORKER_TELEMETRY_SETTING, telemetry.WORKER_LOGGER_NAME_SETTING) == (
        WORKER_EXPORTS,
        WORKER_LOGGER_NAME,
    )
    assert settings.get(WORKER_EXPORTS) == "'true'"
    assert WORKER_OTEL_ONLY not in settings or settings[WORKER_OTEL_ONLY] == settings[WORKER_EXPORTS]
    assert WORKER_LOGGER_NAME not in settings, "the worker must export the root logger: every library's records"
    assert settings["APPLICATIONINSIGHTS_CONNECTION_STRING"] == "applicationInsightsConnectionString"
    # The exporter turns this into a ManagedIdentityCredential (export/_base.py, _get_authentication_credential).
    assert settings["APPLICATIONINSIGHTS_AUTHENTICATION_STRING"] == "'ClientId=${identityClientId};Authorization=AAD'"
    assert json.loads((ROOT / "host.json").read_text())["telemetryMode"] == "OpenTelemetry"
    for path in (ROOT / "handlers").rglob("*.py"):  # the app never configures a second exporter
        assert not re.search(r"^\s*(from|import) azure\.monitor", path.read_text(), re.MULTILINE), path.name


def test_the_queue_binding_connection_is_deployed_identity_based() -> None:
    deployed = app_settings()
    for connection in binding_connections():
        assert {f"{connection}__queueServiceUri", f"{connection}__credential", f"{connection}__clientId"} <= deployed


def test_the_budget_is_the_whole_apps_and_never_divided_by_an_instance_count() -> None:
    # Contract rule 8 and §4: every instance and function shares one budget through the storage account.
    app = (INFRA / "app" / "function-app.bicep").read_text()
    assert "PARTNER_CENTER_MAX_REQUESTS_PER_MINUTE: string(partnerCenterMaxRequestsPerMinute)" in app
    main = (INFRA / "main.bicep").read_text()
    assert re.search(r"^param partnerCenterMaxRequestsPerMinute int = 500$", main, re.MULTILINE)
    assert "partnerCenterMaxRequestsPerMinute: partnerCenterMaxRequestsPerMinute" in main
    parameters = json.loads((INFRA / "main.parameters.json").read_text())["parameters"]
    assert parameters["partnerCenterMaxRequestsPerMinute"]["value"] == "${PARTNER_CENTER_MAX_REQUESTS_PER_MINUTE=500}"
    for path in BICEP:  # no setting anywhere derives from an instance count
        assert not re.search(r"/\s*\(?\s*maximumInstanceCount", path.read_text()), path.name


def test_maximum_instance_count_defaults_to_a_value_flex_accepts_in_every_region() -> None:
    # The Flex Consumption plan's lowest maximum instance count is 40; lower values are a preview in a few regions
    # (Azure/azure-functions-host#10523), so 40 is the default and 1 stays allowed for those.
    main = (INFRA / "main.bicep").read_text()
    declared = re.search(
        r"@minValue\((\d+)\)\n@maxValue\((\d+)\)\n@description\([^\n]*\)\nparam maximumInstanceCount int = (\d+)", main
    )
    assert declared and declared.groups() == ("1", "1000", "40")
    parameters = json.loads((INFRA / "main.parameters.json").read_text())["parameters"]
    assert parameters["maximumInstanceCount"]["value"] == "${MAXIMUM_INSTANCE_COUNT=40}"


SECRET_PATTERNS = [
    r"AccountKey=",
    r"SharedAccessSignature=",
    r"listKeys\(",
    r"(?i)password\s*:",
    r"(?i)client_?secret",
    r"EVENTS_TOPIC_KEY",
    r"(?=[A-Za-z0-9+/]*\d)(?=[A-Za-z0-9+/]*[a-z])(?=[A-Za-z0-9+/]*[A-Z])[A-Za-z0-9+/]{40,}={0,2}",  # a base64 key
]


@pytest.mark.parametrize("path", sorted(INFRA.rglob("*.*")), ids=lambda p: str(p.relative_to(INFRA)))
def test_no_secret_literal_in_infra(path: Path) -> None:
    text = path.read_text()
    for pattern in SECRET_PATTERNS:
        assert not re.search(pattern, text), f"{pattern} in {path.name}"


def test_secret_scan_would_catch_a_key() -> None:
    for planted in ("AccountKey=abc", "key: 'Qm9ndXNLZXlGb3JUZXN0aW5nT25seTAxMjM0NTY3ODlhYmNkZWY9'"):
        assert any(re.search(p, planted) for p in SECRET_PATTERNS), planted


def _params(path: Path) -> tuple[set[str], set[str]]:
    """All params of a module, and those without a default."""
    declared = re.findall(r"^param (\w+) [\w.]+( =)?", path.read_text(), re.MULTILINE)
    return {name for name, _ in declared}, {name for name, default in declared if not default}


def test_modules_receive_every_required_param_and_only_declared_ones() -> None:
    main = (INFRA / "main.bicep").read_text()
    calls = modules()
    assert len(calls) == main.count("\nmodule "), "every module call is read, conditional ones included"
    for module in calls.values():
        path = INFRA / module.path
        assert path.exists(), module.path
        declared, required = _params(path)
        assert required <= set(module.params), f"{path.name} misses {required - set(module.params)}"
        assert set(module.params) <= declared, f"{path.name} does not declare {set(module.params) - declared}"


def test_loaded_files_exist() -> None:
    for path in BICEP:
        for relative in re.findall(r"load(?:Text|Json)Content\('([^']+)'\)", path.read_text()):
            assert (path.parent / relative).exists(), f"{path.name}: {relative}"


def test_every_saved_query_is_deployed() -> None:
    monitoring = (INFRA / "app" / "monitoring.bicep").read_text()
    for query in (INFRA / "queries").glob("*.kql"):
        assert f"../queries/{query.name}" in monitoring


def test_every_alert_the_code_raises_has_an_alert_rule() -> None:
    # An `alert` dimension on a log record means "page the operator": a rule must filter on each one the code sets.
    sources = [path.read_text() for path in (ROOT / "handlers").rglob("*.py")]
    constants = re.compile(r'^[A-Z_]*ALERT = "([a-z_]+)"', flags=re.MULTILINE)
    raised = {value for text in sources for value in constants.findall(text)}
    raised |= {value for text in sources for value in re.findall(r'"alert": "([a-z_]+)"', text)}  # written inline
    assert {"app_user_consent_required", "poison_unreported", "possible_orphan_tenant"} <= raised
    monitoring = (INFRA / "app" / "monitoring.bicep").read_text()
    rules = set(re.findall(r'customDimensions\.alert\) == "([a-z_]+)"', monitoring))
    assert raised == rules


def test_the_deployment_is_secretless_and_least_exposed() -> None:
    storage = (INFRA / "app" / "storage.bicep").read_text()
    assert "allowSharedKeyAccess: false" in storage
    assert "disableLocalAuth: true" in (INFRA / "app" / "event-grid.bicep").read_text()
    assert "DisableLocalAuth: true" in (INFRA / "app" / "monitoring.bicep").read_text()
    vault = (INFRA / "app" / "key-vault.bicep").read_text()
    assert "enableRbacAuthorization: true" in vault
    assert "PARTNER_CENTER_FEDERATED_CLIENT_ID: identityClientId" in (INFRA / "app" / "function-app.bicep").read_text()
