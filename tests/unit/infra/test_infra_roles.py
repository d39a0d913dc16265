"""infra/ roles and deployment parameters, checked as text (no Bicep compiler here): what the function and the
deploying user are granted, that the role table of docs/security.md says exactly that, and the parameters azd fills
in."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]
INFRA = ROOT / "infra"
RBAC = INFRA / "app" / "rbac.bicep"
MAIN = INFRA / "main.bicep"

# Built-in role definition ids → names (Azure built-in roles reference).
ROLE_NAMES = {
    "b7e6dc6d-f1e8-4753-8033-0f276bb0955b": "Storage Blob Data Owner",
    "974c5e8b-45b9-4653-ba55-5f855dd0fb88": "Storage Queue Data Contributor",
    "19e7f393-937e-4f77-808e-94535e297925": "Storage Queue Data Reader",
    "8a0f0c08-91a1-4084-bc3d-661d67233fed": "Storage Queue Data Message Processor",
    "c6a89b2d-59bc-44d0-9896-0f6e12d7b80a": "Storage Queue Data Message Sender",
    "0a9a7e1f-b9d0-4cc4-a60d-0319b160aaa3": "Storage Table Data Contributor",
    "76199698-9eea-4c19-bc75-cec21354c6b6": "Storage Table Data Reader",
    "d5a91429-5739-47e2-a06b-3470a27159e7": "EventGrid Data Sender",
    "b86a8fe4-44ce-4948-aee5-eccb2c155cd7": "Key Vault Secrets Officer",
    "3913510d-42f4-4e42-8a64-420c390055eb": "Monitoring Metrics Publisher",
}
SCOPES = {
    "account": "storage account",
    "topic": "Event Grid topic",
    "vault": "Key Vault",
    "appInsights": "Application Insights",
}
PRINCIPALS = {"function": "function", "user": "deploying user"}

Grant = tuple[str, str, str]  # principal, role name, scope


def main_var(name: str) -> str:
    [value] = re.findall(rf"^var {name} = '([^']+)'", MAIN.read_text(), re.MULTILINE)
    return value


def _scope(kind: str, fields: dict[str, str]) -> str:
    names = {"queueName": main_var("queueName"), "ledgerTableName": main_var("ledgerTableName")}
    if kind == "queue":
        expression = fields["queue"].strip("'").replace("${queueName}", names["queueName"])
        return f"`{names.get(expression, expression)}` queue"
    if kind == "table":
        return f"`{names[fields['table']]}` table"
    return SCOPES[kind]


def bicep_grants() -> set[Grant]:
    """Every {principal, role} of rbac.bicep's grant lists, with its scope spelled as the README does."""
    text = RBAC.read_text()
    role_ids = dict(re.findall(r"^  (\w+): '([0-9a-f-]{36})'", text, re.MULTILINE))
    grants = set()
    for kind, body in re.findall(r"^var (?:all)?(\w+?)Grants = \[(.*?)\]$", text, re.MULTILINE | re.DOTALL):
        for entry in re.findall(r"\{ (.*) \}", body):  # one per line; `${…}` holds braces
            fields = dict(re.findall(r"(\w+): ('[^']*'|\w+)", entry))
            role = ROLE_NAMES[role_ids[fields["role"].strip("'")]]
            grants.add((PRINCIPALS[fields["principal"].strip("'")], role, _scope(kind[0].lower() + kind[1:], fields)))
    return grants


def readme_grants() -> set[Grant]:
    """The rows of docs/security.md's role table (principal | role | scope | why)."""
    text = (ROOT / "docs" / "security.md").read_text()
    table = text[text.index("| principal | role | scope | why |") :].split("\n\n")[0]
    rows = [[cell.strip() for cell in line.strip("|").split("|")] for line in table.splitlines()[2:]]
    return {(principal, role, scope) for principal, role, scope, _ in rows}


def test_the_readme_role_table_is_what_rbac_bicep_grants() -> None:
    assert len(bicep_grants()) >= 10
    assert readme_grants() == bicep_grants()


# What the host and the code do → the grant it needs.
NEEDED = {
    "the trigger releases a failed message and renews its visibility (UpdateMessage)": (
        "function",
        "Storage Queue Data Contributor",
        "`customer-requests` queue",
    ),
    "the poison trigger does the same on its queue; the host adds to it": (
        "function",
        "Storage Queue Data Contributor",
        "`customer-requests-poison` queue",
    ),
    "the poison function parks": (
        "function",
        "Storage Queue Data Message Sender",
        "`customer-requests-exhausted` queue",
    ),
    "the host's diagnostic events and the ledger": ("function", "Storage Table Data Contributor", "storage account"),
    "the host's leases and the deployment package": ("function", "Storage Blob Data Owner", "storage account"),
    "publishing events with Entra": ("function", "EventGrid Data Sender", "Event Grid topic"),
    "writing admin-password secrets": ("function", "Key Vault Secrets Officer", "Key Vault"),
    "telemetry with Entra": ("function", "Monitoring Metrics Publisher", "Application Insights"),
    "scripts/send and ops.status on the requests queue": (
        "deploying user",
        "Storage Queue Data Contributor",
        "`customer-requests` queue",
    ),
    "ops.replay_poison moves parked requests": (
        "deploying user",
        "Storage Queue Data Contributor",
        "`customer-requests-exhausted` queue",
    ),
    "ops.status reads the ledger": ("deploying user", "Storage Table Data Reader", "`onboardingledger` table"),
}


@pytest.mark.parametrize("need", sorted(NEEDED))
def test_each_need_is_granted_at_its_scope(need: str) -> None:
    assert NEEDED[need] in bicep_grants()


def test_no_grant_of_the_function_lacks_what_releasing_a_message_needs() -> None:
    # Reader + Message Processor cannot UpdateMessage: a release answered 403 stops the host.
    weak = {"Storage Queue Data Reader", "Storage Queue Data Message Processor"}
    assert not {role for _, role, _ in bicep_grants()} & weak


def test_the_users_grants_are_made_only_when_azd_names_a_user() -> None:
    text = RBAC.read_text()
    assert "filter(grants, g => g.principal == 'function' || !empty(userPrincipalId))" in text
    for loop in re.findall(r"for \(?\w+(?:, i)?\)? in (\w+):", text):
        assert loop in {
            "queueGrants",
            "accountGrants",
            "tableGrants",
            "topicGrants",
            "vaultGrants",
            "appInsightsGrants",
        }
    assert "queueGrants = granted(allQueueGrants, userPrincipalId)" in text
    assert "tableGrants = granted(allTableGrants, userPrincipalId)" in text
    assert not re.search(r"var (account|topic|vault|appInsights)Grants = \[[^\]]*'user'", text, re.DOTALL)


def test_azd_passes_the_deploying_user_and_the_vault_choices() -> None:
    parameters = json.loads((INFRA / "main.parameters.json").read_text())["parameters"]
    assert parameters["principalId"]["value"] == "${AZURE_PRINCIPAL_ID=}"
    assert parameters["keyVaultName"]["value"] == "${KEY_VAULT_NAME=}"
    assert parameters["keyVaultPurgeProtection"]["value"] == "${KEY_VAULT_PURGE_PROTECTION=false}"
    main = MAIN.read_text()
    assert "param principalId string = ''" in main and "userPrincipalId: principalId" in main
    assert "purgeProtection: keyVaultPurgeProtection" in main


def test_purge_protection_is_a_parameter_never_sent_as_false() -> None:
    # The API refuses enablePurgeProtection: false (Azure/azure-rest-api-specs#18106): off means the property unset.
    vault = (INFRA / "app" / "key-vault.bicep").read_text()
    assert "param purgeProtection bool = false" in vault
    assert "enablePurgeProtection: purgeProtection ? true : null" in vault
    assert "keyVaultPurgeProtection" in (ROOT / "docs" / "operating.md").read_text()


def test_location_is_a_flex_consumption_region_with_azd_metadata() -> None:
    main = MAIN.read_text()
    block = main[: main.index("param location string")]
    block = block[block.rindex("@minLength(1)") :]
    allowed = re.findall(r"^  '([a-z0-9]+)'$", block, re.MULTILINE)
    assert {"eastus", "swedencentral", "westeurope", "uksouth", "australiaeast"} <= set(allowed)
    assert "eastus2euap" not in allowed and len(allowed) == len(set(allowed)) >= 20
    assert "@metadata({ azd: { type: 'location' } })" in block


def test_azure_identity_is_pinned() -> None:
    requirements = (ROOT / "requirements.txt").read_text()
    assert re.search(r"^azure-identity==\d+\.\d+\.\d+$", requirements, re.MULTILINE)
