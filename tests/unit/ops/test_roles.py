"""The roles the operator commands check before they act (ops/roles.py): each is a role rbac.bicep grants the deploying
user at that scope, the role allows what the command does (built-in role definitions as Microsoft's reference lists
them; the custom ones as rbac.bicep defines them), a narrower role is found missing and named, and the report says
how to get it."""

from __future__ import annotations

import argparse

import pytest

from ops.arm import Entry, PermissionsUnreadable
from ops.roles import Need, Where, account_of, check, granted, held, needs, report, vault_of
from ops.roles import Permission as P
from tests.unit.infra.bicep_text import bicep_grants, custom_roles

COMMANDS = ("send", "status", "replay_poison", "backfill", "consent", "doctor")
Q = "Microsoft.Storage/storageAccounts/queueServices/queues"
T = "Microsoft.Storage/storageAccounts/tableServices/tables"
# Built-in role definitions (MicrosoftDocs/azure-docs, articles/role-based-access-control/built-in-roles/storage.md).
BUILT_IN: dict[str, Entry] = {
    "Storage Queue Data Contributor": {
        "actions": [f"{Q}/delete", f"{Q}/read", f"{Q}/write"],
        "dataActions": [f"{Q}/messages/{a}" for a in ("delete", "read", "write", "process/action")],
    },
    "Storage Queue Data Message Sender": {"actions": [], "dataActions": [f"{Q}/messages/add/action"]},
    "Storage Queue Data Reader": {"actions": [f"{Q}/read"], "dataActions": [f"{Q}/messages/read"]},
    "Storage Queue Data Message Processor": {
        "actions": [],
        "dataActions": [f"{Q}/messages/read", f"{Q}/messages/process/action"],
    },
    "Storage Table Data Contributor": {
        "actions": [f"{T}/read", f"{T}/write", f"{T}/delete"],
        "dataActions": [f"{T}/entities/{a}" for a in ("read", "write", "delete", "add/action", "update/action")],
    },
    "Storage Table Data Reader": {"actions": [f"{T}/read"], "dataActions": [f"{T}/entities/read"]},
}


def definition(role: str) -> Entry:
    """A role's permissions as Resource Manager answers them for one assignment of it."""
    custom = {name: actions for name, actions in custom_roles().values()}
    found = BUILT_IN.get(role) or {"actions": [], "dataActions": custom[role]}
    return {"actions": found["actions"], "notActions": [], "dataActions": found["dataActions"], "notDataActions": []}


def every_need() -> list[Need]:
    return needs("doctor", "customer-requests", "onboardingledger", "onboardingintake")


@pytest.mark.parametrize("command", COMMANDS)
def test_each_role_a_command_checks_is_granted_to_the_deploying_user_at_that_scope(command: str) -> None:
    wanted = needs(command, "customer-requests", "onboardingledger", "onboardingintake")
    assert wanted
    for need in wanted:
        assert ("deploying user", need.role, need.scope) in bicep_grants(), need


@pytest.mark.parametrize("need", every_need(), ids=lambda n: f"{n.scope}: {n.purpose}")
def test_the_role_named_allows_what_the_command_does(need: Need) -> None:
    assert held(need, [definition(need.role)])


def test_the_doctor_checks_every_grant_of_the_deploying_user() -> None:
    checked = {("deploying user", need.role, need.scope) for need in every_need()}
    assert checked == {grant for grant in bicep_grants() if grant[0] == "deploying user"}


@pytest.mark.parametrize(
    ("command", "role", "missing"),
    [
        ("send", "Storage Queue Data Reader", "send requests"),  # peek and count, no send
        (
            "status",
            "Storage Queue Data Message Sender",
            "count the requests waiting",
        ),  # Get Queue Metadata: queues/read
        ("backfill", "Storage Table Data Reader", "record what it enqueues"),
        ("replay_poison", "Storage Queue Data Reader", "take the messages from customer-requests-exhausted"),
    ],
)
def test_a_narrower_role_is_found_missing(command: str, role: str, missing: str) -> None:
    wanted = needs(command, "customer-requests", "onboardingledger", "onboardingintake")
    assert missing in [need.purpose for need in wanted if not held(need, [definition(role)])]


def test_wildcards_grant_and_exclusions_take_away() -> None:
    send = P(f"{Q}/messages/add/action")
    assert granted(send, [{"actions": [], "notActions": [], "dataActions": [f"{Q}/messages/*"], "notDataActions": []}])
    assert granted(send, [{"actions": [], "notActions": [], "dataActions": ["*"], "notDataActions": []}])
    assert granted(
        send, [{"actions": [], "notActions": [], "dataActions": [send.action.upper()], "notDataActions": []}]
    )
    excluded = {"actions": [], "notActions": [], "dataActions": ["*"], "notDataActions": [f"{Q}/messages/*"]}
    assert not granted(send, [excluded])
    # An action is not a data action: Owner's "*" on actions gives no data.
    assert not granted(send, [{"actions": ["*"], "notActions": [], "dataActions": [], "notDataActions": []}])


def test_resource_ids_and_names_as_azure_spells_them(monkeypatch: pytest.MonkeyPatch) -> None:
    where = Where("sub-1", "rg-csp", "stabc", "kvtok-abc")
    [send] = needs("send", "customer-requests", "l", "i")
    [consent] = needs("consent", "", "", "")
    group = "/subscriptions/sub-1/resourceGroups/rg-csp/providers"
    assert where.resource_id(send) == (
        f"{group}/Microsoft.Storage/storageAccounts/stabc/queueServices/default/queues/customer-requests"
    )
    assert where.resource_id(consent) == f"{group}/Microsoft.KeyVault/vaults/kvtok-abc"
    assert account_of("https://stabc.queue.core.windows.net") == "stabc"
    assert account_of("https://127.0.0.1:10001/devstoreaccount1") == "devstoreaccount1"
    monkeypatch.delenv("PARTNER_CENTER_USER_TOKEN_VAULT_NAME", raising=False)
    assert vault_of("https://kvtok-abc.vault.azure.net/secrets/partner-center-app-user") == "kvtok-abc"
    monkeypatch.setenv("PARTNER_CENTER_USER_TOKEN_VAULT_NAME", "kv-named")
    assert vault_of(None) == "kv-named"


class Manager:
    """Resource Manager's answers, by resource id (a refusal raises as ops.arm does)."""

    def __init__(self, by_role: dict[str, str], *, refuse: bool = False) -> None:
        self.by_role, self.refuse = by_role, refuse  # resource name → role held there
        self.asked: list[str] = []

    def permissions(self, resource_id: str) -> list[Entry]:
        self.asked.append(resource_id)
        if self.refuse:
            raise PermissionsUnreadable("could not sign in to Azure Resource Manager: run `az login`")
        name = resource_id.rsplit("/", 1)[1]
        return [definition(role) for n, role in self.by_role.items() if n == name]


def test_the_report_names_the_missing_role_and_how_to_get_it() -> None:
    wanted = needs("backfill", "customer-requests", "onboardingledger", "onboardingintake")
    manager = Manager({"customer-requests": "Storage Queue Data Message Sender", "onboardingledger": "Storage Table "
                       "Data Reader", "onboardingintake": "Storage Table Data Reader"})  # fmt: skip
    lines, verdict, missing_roles = check(wanted, Where("s", "rg", "stabc"), manager)  # type: ignore[arg-type]
    assert verdict == 1
    assert (
        "  ok       Storage Queue Data Message Sender on the `customer-requests` queue: send the backfill's requests"
        in lines
    )
    missing = lines.index(
        "  MISSING  Storage Table Data Contributor on the `onboardingintake` table: record what it enqueues"
    )
    assert (
        lines[missing + 1].strip().startswith("`azd provision` grants it to AZURE_PRINCIPAL_ID, or: az role assignment")
    )
    assert '--role "Storage Table Data Contributor" --scope /subscriptions/s/resourceGroups/rg/' in lines[missing + 1]
    assert len(manager.asked) == 3, "one question per resource"
    assert missing_roles == ["Storage Table Data Contributor on the `onboardingintake` table"]


def test_without_a_subscription_or_an_answer_the_roles_are_not_checked_and_that_is_said() -> None:
    wanted = needs("consent", "", "", "")
    lines, verdict, _ = check(wanted, None, Manager({}))  # type: ignore[arg-type]
    assert verdict == 2 and "AZURE_SUBSCRIPTION_ID" in lines[0] and "azd env get-values" in lines[0]
    lines, verdict, _ = check(wanted, Where("s", "rg", None, "kv"), Manager({}, refuse=True))  # type: ignore[arg-type]
    assert (
        verdict == 2 and lines[-1] == "roles: not checked: could not sign in to Azure Resource Manager: run `az login`"
    )


def test_storage_by_connection_string_needs_no_role(capsys: pytest.CaptureFixture[str]) -> None:
    class KeyStorage:
        connection_string = "UseDevelopmentStorage=true"

    args = argparse.Namespace(subscription=None, resource_group=None, management_url=None)
    assert report(needs("status", "q", "l", "i"), args, storage=KeyStorage()) == 0  # type: ignore[arg-type]
    assert "no storage role applies" in capsys.readouterr().out
