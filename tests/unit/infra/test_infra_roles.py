"""infra/ roles and deployment parameters, checked as text (no Bicep compiler here): what the function and the
deploying user are granted, that the role table of docs/security.md says exactly that, and the parameters azd fills
in."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from tests.unit.infra.bicep_text import INFRA, MAIN, RBAC, ROOT, Grant, bicep_grant_fields, bicep_grants

# The role table that must say what rbac.bicep grants (the docs page operators read; infra/README.md links to it).
ROLE_TABLES = (ROOT / "docs" / "security.md",)


def readme_grants(path: Path) -> set[Grant]:
    """The rows of a README's role table (principal | role | scope | why)."""
    text = path.read_text()
    table = text[text.index("| principal | role | scope | why |") :].split("\n\n")[0]
    rows = [[cell.strip() for cell in line.strip("|").split("|")] for line in table.splitlines()[2:]]
    return {(principal, role, scope) for principal, role, scope, _ in rows}


@pytest.mark.parametrize("path", ROLE_TABLES, ids=lambda p: str(p.relative_to(ROOT)))
def test_the_readme_role_table_is_what_rbac_bicep_grants(path: Path) -> None:
    assert len(bicep_grants()) >= 10
    assert readme_grants(path) == bicep_grants()


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
    "Flex Consumption reads the deployment package": (
        "function",
        "Storage Blob Data Contributor",
        "deployment package container",
    ),
    "the host's leases and timer locks": (
        "function",
        "Storage Blob Data Contributor",
        "`azure-webjobs-hosts` container",
    ),
    "the host's function keys": ("function", "Storage Blob Data Contributor", "`azure-webjobs-secrets` container"),
    "publishing events with Entra": ("function", "EventGrid Data Sender", "Event Grid topic"),
    "writing admin-password secrets": ("function", "Key Vault Secret Setter (custom)", "admin-password vault"),
    "reading, rotating and retiring the App+User refresh token": (
        "function",
        "Key Vault Refresh Token Keeper (custom)",
        "App+User token vault",
    ),
    "telemetry with Entra": ("function", "Monitoring Metrics Publisher", "Application Insights"),
    "ops.send, ops.backfill and a replay send to the requests queue": (
        "deploying user",
        "Storage Queue Data Message Sender",
        "`customer-requests` queue",
    ),
    "ops.status counts the requests queue": (
        "deploying user",
        "Storage Queue Data Reader",
        "`customer-requests` queue",
    ),
    "ops.backfill records what it enqueued": (
        "deploying user",
        "Storage Table Data Contributor",
        "`onboardingintake` table",
    ),
    "ops.consent stores the App+User sign-in": (
        "deploying user",
        "Key Vault Secret Setter (custom)",
        "App+User token vault",
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
    assert not {role for principal, role, _ in bicep_grants() if principal == "function"} & weak


def test_the_users_grants_are_made_only_when_azd_names_a_user() -> None:
    text = RBAC.read_text()
    assert "filter(grants, g => g.principal == 'function' || !empty(userPrincipalId))" in text
    for loop in re.findall(r"for \(?\w+(?:, i)?\)? in (\w+):", text):
        assert loop in {
            "queueGrants",
            "accountGrants",
            "containerGrants",
            "tableGrants",
            "topicGrants",
            "vaultGrants",
            "appInsightsGrants",
            "items(customRoles)",
        }
    assert "queueGrants = granted(allQueueGrants, userPrincipalId)" in text
    assert "tableGrants = granted(allTableGrants, userPrincipalId)" in text
    assert "vaultGrants = granted(allVaultGrants, userPrincipalId)" in text
    assert not re.search(r"var (account|container|topic|appInsights)Grants = \[[^\]]*'user'", text, re.DOTALL)
    # Nobody but the function gets a role on the admin-password vault from this template.
    assert not [
        f
        for kind, f in bicep_grant_fields()
        if kind == "vault" and f["vault"] == "'passwords'" and f["principal"] != "'function'"
    ]


def test_azd_passes_the_deploying_user_and_the_vault_choices() -> None:
    parameters = json.loads((INFRA / "main.parameters.json").read_text())["parameters"]
    assert parameters["principalId"]["value"] == "${AZURE_PRINCIPAL_ID=}"
    assert parameters["keyVaultName"]["value"] == "${KEY_VAULT_NAME=}"
    assert parameters["appUserTokenVaultName"]["value"] == "${APP_USER_TOKEN_VAULT_NAME=}"
    assert parameters["keyVaultPurgeProtection"]["value"] == "${KEY_VAULT_PURGE_PROTECTION=false}"
    main = MAIN.read_text()
    assert "param principalId string = ''" in main and "userPrincipalId: principalId" in main
    assert main.count("purgeProtection: keyVaultPurgeProtection") == 2, "both vaults"


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
