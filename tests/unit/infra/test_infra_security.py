"""infra/ isolation, checked as text (no Bicep compiler here): admin passwords and the App+User token in vaults of
their own, each with only the role the function needs there, and each vault's audit log in Log Analytics; blob
roles on the containers the host uses, never account-wide; and an option that takes storage, the vaults and the topic
off the public network."""

from __future__ import annotations

import json
import re
from pathlib import Path

from tests.unit.infra.bicep_text import (
    INFRA,
    MAIN,
    RBAC,
    app_setting_values,
    bicep_grant_fields,
    custom_roles,
    main_list,
    main_var,
    modules,
    outputs,
)

SECRET_ACTION = "Microsoft.KeyVault/vaults/secrets/{}/action"
# Data actions that reveal a secret's value or its list, or destroy or export it.
READS = re.compile(r"getSecret|readMetadata|/read$|\*")
DESTROYS = re.compile(r"delete|purge|backup|restore|recover|\*")


def vault_modules() -> dict[str, str]:
    """main.bicep's vaults: module name → its `name:` expression."""
    return {name: m.params["name"] for name, m in modules().items() if m.path == "app/key-vault.bicep"}


def vault_roles(vault: str) -> list[str]:
    """The roles rbac.bicep gives the function on one of its vaults ('passwords', 'appUserToken')."""
    return [
        fields["role"].strip("'")
        for kind, fields in bicep_grant_fields()
        if kind == "vault" and fields.get("vault") == f"'{vault}'" and fields["principal"] == "'function'"
    ]


def test_admin_passwords_and_the_app_user_token_are_in_separate_vaults() -> None:
    vaults = vault_modules()
    assert len(vaults) == 2 and len(set(vaults.values())) == 2, vaults
    app = modules()["functionApp"].params
    password_vault = app["adminCredentialsVaultUri"].removesuffix(".outputs.uri")
    token_vault = app["appUserTokenVaultUri"].removesuffix(".outputs.uri")
    assert {password_vault, token_vault} == set(vaults)
    settings = app_setting_values()
    assert settings["ADMIN_CREDENTIALS_VAULT_URL"] == "adminCredentialsVaultUri"
    assert (
        "'${appUserTokenVaultUri}secrets/${appUserTokenSecretName}'" in settings["PARTNER_CENTER_USER_TOKEN_SECRET_URL"]
    )
    assert app["appUserTokenSecretName"] == "appUserTokenSecretName"
    assert main_var("appUserTokenSecretName") == "partner-center-app-user"
    # What azd writes to the environment, named for each vault (ops.consent reads the secret URL from it).
    out = outputs()
    assert out["ADMIN_CREDENTIALS_VAULT_URL"] == f"{password_vault}.outputs.uri"
    assert out["PARTNER_CENTER_USER_TOKEN_VAULT_URL"] == f"{token_vault}.outputs.uri"
    assert (
        out["PARTNER_CENTER_USER_TOKEN_SECRET_URL"]
        == f"appUserEnabled ? '${{{token_vault}.outputs.uri}}secrets/${{appUserTokenSecretName}}' : ''"
    )
    assert {out["ADMIN_CREDENTIALS_VAULT_NAME"], out["PARTNER_CENTER_USER_TOKEN_VAULT_NAME"]} == {
        f"{vault}.outputs.name" for vault in vaults
    }
    rbac = modules()["rbac"].params
    assert (rbac["passwordVaultName"], rbac["tokenVaultName"]) == (
        f"{password_vault}.outputs.name",
        f"{token_vault}.outputs.name",
    )


def test_the_function_can_set_admin_passwords_but_never_read_them() -> None:
    roles = vault_roles("passwords")
    assert roles, "the function needs a role on the password vault"
    custom = custom_roles()
    for role in roles:
        assert role in custom, f"{role}: every built-in Key Vault secret role reads, or cannot set"
        _, actions = custom[role]
        assert actions == [SECRET_ACTION.format("setSecret")]
        assert not [action for action in actions if READS.search(action) or DESTROYS.search(action)]


def test_the_function_keeps_the_refresh_token_but_cannot_destroy_or_export_it() -> None:
    roles = vault_roles("appUserToken")
    assert len(roles) == 1, "the function needs one role on the token vault"
    _, actions = custom_roles()[roles[0]]
    # Read it, write each rotation, list versions (metadata only) and disable the superseded ones (issue 21 §7).
    assert sorted(actions) == sorted(
        SECRET_ACTION.format(a) for a in ("getSecret", "setSecret", "readMetadata", "update")
    )
    assert not [action for action in actions if DESTROYS.search(action)]


def test_custom_roles_are_deterministic_and_assignable_only_in_the_resource_group() -> None:
    text = RBAC.read_text()
    assert "resource customRoleDefinitions 'Microsoft.Authorization/roleDefinitions@" in text
    block = text[text.index("resource customRoleDefinitions 'Microsoft.Authorization/roleDefinitions@") :]
    block = block[: block.index("\n]\n")]
    assert "for role in items(customRoles):" in block
    assert "name: customRoleIds[role.key]" in block
    assert (
        "var customRoleIds = toObject(items(customRoles), role => role.key, role => guid(resourceGroup().id, role.key))"
        in text
    )
    assert "assignableScopes: [resourceGroup().id]" in block
    # Display names are tenant-unique: each carries this resource group's name and a hash of its id.
    assert "roleName: '${role.value.roleName} (${resourceGroup().name} ${uniqueString(resourceGroup().id)})'" in block
    assert "actions: []" in block, "data actions only: no control-plane rights"
    assert "dependsOn: [customRoleDefinitions]" in text


def test_both_vaults_send_their_audit_events_to_log_analytics() -> None:
    vault = (INFRA / "app" / "key-vault.bicep").read_text()
    assert "resource audit 'Microsoft.Insights/diagnosticSettings@2021-05-01-preview' = {" in vault
    block = vault[vault.index("resource audit 'Microsoft.Insights/diagnosticSettings@") :]
    block = block[: block.index("\n}\n")]
    assert "scope: vault" in block
    assert "workspaceId: logAnalyticsWorkspaceId" in block
    # Key Vault's audit category (every data-plane call); 'Dedicated' lands it in AZKVAuditLogs.
    assert "logs: [{ category: 'AuditEvent', enabled: true }]" in block
    assert "logAnalyticsDestinationType: 'Dedicated'" in block
    assert "param logAnalyticsWorkspaceId string\n" in vault, "required: no vault without its audit log"
    for name in vault_modules():
        assert modules()[name].params["logAnalyticsWorkspaceId"] == "monitoring.outputs.logAnalyticsWorkspaceId"
    assert "output logAnalyticsWorkspaceId string = workspace.id" in (INFRA / "app" / "monitoring.bicep").read_text()


def test_no_blob_role_is_granted_account_wide() -> None:
    account = [fields["role"] for kind, fields in bicep_grant_fields() if kind == "account"]
    assert account, "the account-wide Table grant is still expected (the host's diagnostic tables)"
    assert not [role for role in account if "Blob" in role], account


def test_blob_roles_are_scoped_to_the_containers_bicep_creates() -> None:
    grants = [fields for kind, fields in bicep_grant_fields() if kind == "container"]
    granted = {fields["container"] for fields in grants}
    assert granted == {"deploymentContainerName", "'azure-webjobs-hosts'", "'azure-webjobs-secrets'"}
    # Contributor: read, write (leases), delete; not Owner, which adds every other blob data action.
    assert {(fields["principal"], fields["role"]) for fields in grants} == {
        ("'function'", "'storageBlobDataContributor'")
    }
    assert "storageBlobDataContributor: 'ba92f5b4-2d11-453d-a403-e96b0029c9fe'" in RBAC.read_text()
    # A role scoped to a container cannot create it: every granted container is declared in storage.bicep.
    storage = modules()["storage"].params
    assert storage["containerNames"] == "concat([deploymentContainerName], hostContainerNames)"
    assert main_list("hostContainerNames") == ["azure-webjobs-hosts", "azure-webjobs-secrets"]
    assert modules()["rbac"].params["deploymentContainerName"] == "deploymentContainerName"
    assert modules()["functionApp"].params["deploymentContainerName"] == "deploymentContainerName"
    text = RBAC.read_text()
    assert "scope: containers[i]" in text and "parent: blobService\n    name: grant.container" in text


RESTRICT = "restrictPublicNetworkAccess"
# The modules whose public endpoint the option closes, and whether they also carry a firewall default.
RESTRICTED = {"storage": True, "eventGrid": False, "passwordVault": True, "tokenVault": True}


def evaluate(expression: str, restricted: bool) -> str:
    """A Bicep value of the form `'x'` or `restrictPublicNetworkAccess ? 'x' : 'y'`, for one value of the option."""
    if match := re.fullmatch(rf"{RESTRICT} \? '(\w+)' : '(\w+)'", expression.strip()):
        return match[1] if restricted else match[2]
    [literal] = re.fullmatch(r"'(\w+)'", expression.strip()).groups()  # type: ignore[union-attr]
    return literal


def network_values(path: Path, key: str, restricted: bool) -> list[str]:
    """Every `key:` value (publicNetworkAccess, defaultAction) of a module, with the option set or not."""
    return [evaluate(value, restricted) for value in re.findall(rf"\b{key}: ([^,}}\n]+)", path.read_text())]


def test_public_network_access_can_be_restricted_and_is_open_by_default() -> None:
    assert f"param {RESTRICT} bool = false\n" in MAIN.read_text()
    parameters = json.loads((INFRA / "main.parameters.json").read_text())["parameters"]
    assert parameters[RESTRICT]["value"] == "${RESTRICT_PUBLIC_NETWORK_ACCESS=false}"
    for name, firewall in RESTRICTED.items():
        module = modules()[name]
        assert module.params.get(RESTRICT) == RESTRICT, f"main.bicep must pass {RESTRICT} to {name}"
        path = INFRA / module.path
        assert f"param {RESTRICT} bool = false\n" in path.read_text(), path.name
        assert network_values(path, "publicNetworkAccess", restricted=True) == ["Disabled"], path.name
        assert network_values(path, "publicNetworkAccess", restricted=False) == ["Enabled"], path.name
        if firewall:
            assert network_values(path, "defaultAction", restricted=True) == ["Deny"], path.name
            assert network_values(path, "defaultAction", restricted=False) == ["Allow"], path.name
    # The function app stays public (Dataverse and Salesforce call it) and joins the VNet to reach the rest.
    app = modules()["functionApp"]
    assert "publicNetworkAccess" not in (INFRA / app.path).read_text()
    assert app.params["virtualNetworkSubnetId"] == f"{RESTRICT} ? network.outputs.appSubnetId : ''"
    assert (
        "virtualNetworkSubnetId: empty(virtualNetworkSubnetId) ? null : virtualNetworkSubnetId"
        in (INFRA / app.path).read_text()
    )


def test_restricted_services_are_reached_through_private_endpoints() -> None:
    network = modules().get("network")
    assert network is not None and network.condition == RESTRICT, "a VNet only when the option is on"
    assert (network.path, network.params["storageAccountId"], network.params["topicId"]) == (
        "app/network.bicep",
        "storage.outputs.id",
        "eventGrid.outputs.id",
    )
    assert (network.params["passwordVaultId"], network.params["tokenVaultId"]) == (
        "passwordVault.outputs.id",
        "tokenVault.outputs.id",
    )
    text = (INFRA / network.path).read_text()
    endpoints = re.findall(r"\{ name: '([\w-]+)', target: (\w+), group: '(\w+)' \}", text)
    assert sorted((target, group) for _, target, group in endpoints) == sorted(
        [
            ("storageAccountId", "blob"),
            ("storageAccountId", "queue"),
            ("storageAccountId", "table"),
            ("passwordVaultId", "vault"),
            ("tokenVaultId", "vault"),
            ("topicId", "topic"),
        ]
    )
    zones = dict(re.findall(r"^  (\w+): '(privatelink.*)'$", text, re.MULTILINE))
    assert set(zones) == {group for _, _, group in endpoints}, "a private DNS zone for every endpoint's group"
    assert zones["vault"] == "privatelink${replace(environment().suffixes.keyvaultDns, '.vault.', '.vaultcore.')}"
    assert zones["topic"] == "privatelink.eventgrid.azure.net"
    assert "groupIds: [endpoint.group]" in text and "zones[endpoint.group]" in text
    assert "virtualNetwork: { id: vnet.id }" in text and "registrationEnabled: false" in text
    # Flex Consumption's VNet integration: a subnet delegated to Microsoft.App/environments, with a way out.
    assert "serviceName: 'Microsoft.App/environments'" in text
    assert (
        "output appSubnetId string = resourceId('Microsoft.Network/virtualNetworks/subnets', vnet.name, 'app')" in text
    )
    abbreviations = json.loads((INFRA / "abbreviations.json").read_text())
    assert set(re.findall(r"abbrs\.(\w+)", MAIN.read_text())) <= set(abbreviations)
