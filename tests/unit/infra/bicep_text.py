"""Reading infra/'s Bicep as text, for the tests (no Bicep compiler can be installed here): rbac.bicep's grants and
custom roles, main.bicep's variables and module calls."""

from __future__ import annotations

import re
from pathlib import Path
from typing import NamedTuple

ROOT = Path(__file__).resolve().parents[3]
INFRA = ROOT / "infra"
RBAC = INFRA / "app" / "rbac.bicep"
MAIN = INFRA / "main.bicep"

# Built-in role definition ids → names (Azure built-in roles reference).
ROLE_NAMES = {
    "b7e6dc6d-f1e8-4753-8033-0f276bb0955b": "Storage Blob Data Owner",
    "ba92f5b4-2d11-453d-a403-e96b0029c9fe": "Storage Blob Data Contributor",
    "974c5e8b-45b9-4653-ba55-5f855dd0fb88": "Storage Queue Data Contributor",
    "19e7f393-937e-4f77-808e-94535e297925": "Storage Queue Data Reader",
    "8a0f0c08-91a1-4084-bc3d-661d67233fed": "Storage Queue Data Message Processor",
    "c6a89b2d-59bc-44d0-9896-0f6e12d7b80a": "Storage Queue Data Message Sender",
    "0a9a7e1f-b9d0-4cc4-a60d-0319b160aaa3": "Storage Table Data Contributor",
    "76199698-9eea-4c19-bc75-cec21354c6b6": "Storage Table Data Reader",
    "d5a91429-5739-47e2-a06b-3470a27159e7": "EventGrid Data Sender",
    "b86a8fe4-44ce-4948-aee5-eccb2c155cd7": "Key Vault Secrets Officer",
    "4633458b-17de-408a-b874-0445c86b69e6": "Key Vault Secrets User",
    "3913510d-42f4-4e42-8a64-420c390055eb": "Monitoring Metrics Publisher",
}
SCOPES = {
    "account": "storage account",
    "topic": "Event Grid topic",
    "appInsights": "Application Insights",
}
VAULTS = {"passwords": "admin-password vault", "appUserToken": "App+User token vault"}
PRINCIPALS = {"function": "function", "user": "deploying user"}

Grant = tuple[str, str, str]  # principal, role name, scope


def main_var(name: str) -> str:
    [value] = re.findall(rf"^var {name} = '([^']+)'", MAIN.read_text(), re.MULTILINE)
    return value


def main_list(name: str) -> list[str]:
    """A main.bicep variable that is a one-line array of string literals."""
    [body] = re.findall(rf"^var {name} = \[(.*)\]$", MAIN.read_text(), re.MULTILINE)
    return re.findall(r"'([^']*)'", body)


def _scope(kind: str, fields: dict[str, str]) -> str:
    names = {name: main_var(name) for name in ("queueName", "ledgerTableName", "intakeTableName")}
    if kind == "queue":
        expression = fields["queue"].strip("'").replace("${queueName}", names["queueName"])
        return f"`{names.get(expression, expression)}` queue"
    if kind == "table":
        return f"`{names[fields['table']]}` table"
    if kind == "container":
        container = fields["container"]
        if container == "deploymentContainerName":
            return "deployment package container"
        literal = container.strip("'")
        return f"`{literal}` container"
    if kind == "vault":
        return VAULTS.get(fields.get("vault", "").strip("'"), "Key Vault")  # one vault: no name
    return SCOPES[kind]


def custom_roles() -> dict[str, tuple[str, list[str]]]:
    """rbac.bicep's custom roles: key → (display name, dataActions)."""
    text = RBAC.read_text()
    if "var customRoles = {" not in text:
        return {}
    block = text[text.index("var customRoles = {") :]
    block = block[: block.index("\n}\n")]
    roles = {}
    for key, body in re.findall(r"^  (\w+): \{\n(.*?)^  \}$", block, re.MULTILINE | re.DOTALL):
        [name] = re.findall(r"roleName: '([^']+)'", body)
        roles[key] = (f"{name} (custom)", re.findall(r"'(Microsoft\.[^']+)'", body))
    return roles


def role_names() -> dict[str, str]:
    """Every role key rbac.bicep grants by → its name: built-in ones by id, custom ones by their roleName."""
    role_ids = dict(re.findall(r"^  (\w+): '([0-9a-f-]{36})'", RBAC.read_text(), re.MULTILINE))
    return {key: ROLE_NAMES[role_id] for key, role_id in role_ids.items()} | {
        key: name for key, (name, _) in custom_roles().items()
    }


def bicep_grant_fields() -> list[tuple[str, dict[str, str]]]:
    """Every entry of rbac.bicep's grant lists: (kind of scope, its fields, quotes stripped)."""
    text = RBAC.read_text()
    entries = []
    for kind, body in re.findall(r"^var (?:all)?(\w+?)Grants = \[(.*?)\]$", text, re.MULTILINE | re.DOTALL):
        for entry in re.findall(r"\{ (.*) \}", body):  # one per line; `${…}` holds braces
            fields = dict(re.findall(r"(\w+): ('[^']*'|\w+)", entry))
            entries.append((kind[0].lower() + kind[1:], fields))
    return entries


def bicep_grants() -> set[Grant]:
    """Every {principal, role} of rbac.bicep's grant lists, with its scope spelled as the README does."""
    names = role_names()
    return {
        (PRINCIPALS[fields["principal"].strip("'")], names[fields["role"].strip("'")], _scope(kind, fields))
        for kind, fields in bicep_grant_fields()
    }


class Module(NamedTuple):
    """One module call of main.bicep."""

    path: str
    params: dict[str, str]  # name → Bicep expression
    condition: str | None  # `if (…)`, if any


def modules() -> dict[str, Module]:
    """main.bicep's module calls, by symbolic name."""
    found = {}
    pattern = r"^module (\w+) '([^']+)' = (?:if \((\w+)\) )?\{\n(.*?)^\}$"
    for name, path, condition, body in re.findall(pattern, MAIN.read_text(), re.MULTILINE | re.DOTALL):
        params = body[body.index("  params: {") :]
        found[name] = Module(path, dict(re.findall(r"^    (\w+): (.+)$", params, re.MULTILINE)), condition or None)
    return found


def outputs() -> dict[str, str]:
    """main.bicep's outputs: name → Bicep expression."""
    return dict(re.findall(r"^output (\w+) \w+ = (.+)$", MAIN.read_text(), re.MULTILINE))


APP_SETTINGS_MERGE = (
    "properties: union(list(resourceId('Microsoft.Web/sites/config', name, 'appsettings'), '2024-04-01').properties, "
    "extraAppSettings, {"
)


def app_setting_values() -> dict[str, str]:
    """The app settings the template sets (the last object of the merge, which wins): name → its Bicep expression."""
    text = (INFRA / "app" / "function-app.bicep").read_text()
    block = text[text.index("name: 'appsettings'") :]
    block = block[block.index(APP_SETTINGS_MERGE) : block.index("\n    })\n")]
    return dict(re.findall(r"^\s{6}([A-Za-z_][A-Za-z0-9_]*): (.*)$", block, re.MULTILINE))
