"""Which roles each operator command needs, and whether the signed-in operator holds them: asked of Azure Resource
Manager before the command acts (its --dry-run), so a missing role is named rather than met as a 403 halfway.

Each need is a permission on one resource, as the Storage REST reference lists it ("Authorize with Microsoft Entra
ID", Permissions for calling data operations: Put Message takes messages/add/action or messages/write, Get Queue
Metadata queues/read, and so on) or Key Vault's data action, with the role the deployment grants the deploying user
for it (infra/app/rbac.bicep; docs/security.md's role table; tests/unit/ops/test_roles.py keeps the three in step).
The check matches the permission against the caller's effective permissions (ops.arm), wildcards and exclusions
included. It writes nothing.
"""

from __future__ import annotations

import argparse
import os
import re
from dataclasses import dataclass, replace
from urllib.parse import urlsplit

from ops.arm import Entry, PermissionsUnreadable, ResourceManager
from ops.storage import Storage, operator_credential

Q = "Microsoft.Storage/storageAccounts/queueServices/queues"
T = "Microsoft.Storage/storageAccounts/tableServices/tables"


@dataclass(frozen=True)
class Permission:
    action: str
    data: bool = True  # a data action; else an action (Get Queue Metadata is authorised by the action queues/read)


Alternatives = tuple[tuple[Permission, ...], ...]  # any one of these sets, all of a set
SEND: Alternatives = ((Permission(f"{Q}/messages/add/action"),), (Permission(f"{Q}/messages/write"),))
COUNT: Alternatives = ((Permission(f"{Q}/read", data=False),),)
PEEK: Alternatives = ((Permission(f"{Q}/messages/read"),),)
TAKE: Alternatives = (
    (Permission(f"{Q}/messages/process/action"),),
    (Permission(f"{Q}/messages/read"), Permission(f"{Q}/messages/delete")),
)
READ_ROWS: Alternatives = ((Permission(f"{T}/entities/read"),),)
WRITE_ROWS: Alternatives = (
    (Permission(f"{T}/entities/write"),),
    (Permission(f"{T}/entities/add/action"), Permission(f"{T}/entities/update/action")),
)
SET_SECRET: Alternatives = ((Permission("Microsoft.KeyVault/vaults/secrets/setSecret/action"),),)

SENDER, READER, CONTRIBUTOR = (f"Storage Queue Data {r}" for r in ("Message Sender", "Reader", "Contributor"))
TABLE_READER, TABLE_CONTRIBUTOR = "Storage Table Data Reader", "Storage Table Data Contributor"
SECRET_SETTER = "Key Vault Secret Setter (custom)"  # noqa: S105 — a role's name


@dataclass(frozen=True)
class Need:
    """One permission a command needs on one resource, and the role the deployment grants the deploying user for it."""

    purpose: str
    kind: str  # queue, table, vault
    name: str  # the queue's or table's name; for the vault, "token"
    permissions: Alternatives
    role: str
    command: str = ""  # the command that needs it (needs() fills it in)

    @property
    def scope(self) -> str:
        """The scope as docs/security.md's role table spells it."""
        return "App+User token vault" if self.kind == "vault" else f"`{self.name}` {self.kind}"


def needs(command: str, queue: str, ledger: str, intake: str) -> list[Need]:
    """What `command` (send, status, replay_poison, backfill, consent; doctor: all) needs of the deploying user."""
    poison, parked = f"{queue}-poison", f"{queue}-exhausted"
    by_command = {
        "send": [Need("send requests", "queue", queue, SEND, SENDER)],
        "status": [
            Need("count the requests waiting", "queue", queue, COUNT, READER),
            Need("count the poisoned requests", "queue", poison, COUNT, CONTRIBUTOR),
            Need("count the parked requests", "queue", parked, COUNT, CONTRIBUTOR),
            Need("read the ledger", "table", ledger, READ_ROWS, TABLE_READER),
        ],
        "replay_poison": [
            Need("check the requests queue is there", "queue", queue, COUNT, READER),
            Need("send the replayed requests back", "queue", queue, SEND, SENDER),
            *(
                need
                for source in (parked, poison)
                for need in (
                    Need(f"count and show what waits in {source}", "queue", source, COUNT, CONTRIBUTOR),
                    Need(f"show what waits in {source}", "queue", source, PEEK, CONTRIBUTOR),
                    Need(f"take the messages from {source}", "queue", source, TAKE, CONTRIBUTOR),
                )
            ),
        ],
        "backfill": [
            Need("send the backfill's requests", "queue", queue, SEND, SENDER),
            Need("read what was enqueued before (resume)", "table", intake, READ_ROWS, TABLE_CONTRIBUTOR),
            Need("record what it enqueues", "table", intake, WRITE_ROWS, TABLE_CONTRIBUTOR),
            Need("follow the outcomes in the ledger", "table", ledger, READ_ROWS, TABLE_READER),
        ],
        "consent": [Need("store the App+User sign-in", "vault", "token", SET_SECRET, SECRET_SETTER)],
    }
    named = {name: [replace(need, command=name) for need in each] for name, each in by_command.items()}
    if command == "doctor":
        return [need for each in named.values() for need in each]
    return named[command]


NOT_WHERE = (
    'roles: not checked: pass --subscription and --resource-group, or run `eval "$(azd env get-values)"` first '
    "(they are AZURE_SUBSCRIPTION_ID and AZURE_RESOURCE_GROUP)"
)


@dataclass(frozen=True)
class Where:
    """The resources' ids: the subscription and resource group azd deployed to, the account, the token vault."""

    subscription: str
    resource_group: str
    storage_account: str | None = None
    token_vault: str | None = None

    def resource_id(self, need: Need) -> str | None:
        """The Azure resource id of a need's scope; None when its account or vault is unknown."""
        group = f"/subscriptions/{self.subscription}/resourceGroups/{self.resource_group}/providers"
        if need.kind == "vault":
            return f"{group}/Microsoft.KeyVault/vaults/{self.token_vault}" if self.token_vault else None
        if self.storage_account is None:
            return None
        service = "queueServices/default/queues" if need.kind == "queue" else "tableServices/default/tables"
        return f"{group}/Microsoft.Storage/storageAccounts/{self.storage_account}/{service}/{need.name}"


def account_of(queue_url: str) -> str:
    """The storage account a queue endpoint names: its host's first label, or (Azurite) the path's first segment."""
    parts = urlsplit(queue_url)
    host = parts.hostname or ""
    if re.fullmatch(r"[\d.]+|localhost|\[[0-9a-f:]+\]", host):
        return parts.path.strip("/").split("/")[0]
    return host.split(".")[0]


def vault_of(secret_url: str | None) -> str | None:
    """The token vault's name: PARTNER_CENTER_USER_TOKEN_VAULT_NAME (an azd output), else the secret URL's host."""
    named = os.environ.get("PARTNER_CENTER_USER_TOKEN_VAULT_NAME")
    if named or not secret_url:
        return named or None
    return (urlsplit(secret_url).hostname or "").split(".")[0] or None


def _matches(pattern: str, action: str) -> bool:
    regex = ".*".join(re.escape(part) for part in pattern.split("*"))
    return re.fullmatch(regex, action, re.IGNORECASE) is not None


def granted(permission: Permission, entries: list[Entry]) -> bool:
    """Whether one of the caller's entries allows `permission` (and does not exclude it)."""
    allow, deny = ("dataActions", "notDataActions") if permission.data else ("actions", "notActions")
    return any(
        any(_matches(p, permission.action) for p in entry[allow])
        and not any(_matches(p, permission.action) for p in entry[deny])
        for entry in entries
    )


def held(need: Need, entries: list[Entry]) -> bool:
    """Whether the entries allow one of the need's alternatives in full."""
    return any(all(granted(p, entries) for p in alternative) for alternative in need.permissions)


def add_role_arguments(parser: argparse.ArgumentParser) -> None:
    """Where the role check looks: the subscription and resource group azd deployed to (its environment's values)."""
    env = os.environ
    parser.add_argument(
        "--subscription", default=env.get("AZURE_SUBSCRIPTION_ID"), help="default: $AZURE_SUBSCRIPTION_ID"
    )
    parser.add_argument(
        "--resource-group", default=env.get("AZURE_RESOURCE_GROUP"), help="default: $AZURE_RESOURCE_GROUP"
    )
    parser.add_argument(
        "--management-url", help="Azure Resource Manager (default: $AZURE_RESOURCE_MANAGER_URL, else public)"
    )


def check(wanted: list[Need], where: Where | None, manager: ResourceManager | None) -> tuple[list[str], int, list[str]]:
    """The report's lines, one per role and scope with what it serves; the verdict: 0 every role held, 1 one missing,
    2 they could not be checked; and the roles missing, as "<role> on the <scope>"."""
    if where is None or manager is None:
        return [NOT_WHERE], 2, []
    lines, verdict, missing_roles = [f"roles, as Azure Resource Manager reports them in {where.resource_group}:"], 0, []
    grants: dict[tuple[str, str], list[Need]] = {}
    for need in wanted:
        grants.setdefault((need.role, need.scope), []).append(need)
    for (role, scope), group in grants.items():
        resource_id = where.resource_id(group[0])
        if resource_id is None:
            lines.append(f"  unknown  {role} on the {scope}: which {group[0].kind}? not named")
            verdict = max(verdict, 2)
            continue
        try:
            entries = manager.permissions(resource_id)
        except PermissionsUnreadable as exc:
            return [*lines, f"roles: not checked: {exc}"], 2, []
        missing = [need for need in group if not held(need, entries)]
        if not missing:
            lines.append(f"  ok       {role} on the {scope}: {_serves(group)}")
        else:
            lines += [
                f"  MISSING  {role} on the {scope}: {_serves(missing)}",
                f"           {_grant(group[0], resource_id)}",
            ]
            missing_roles.append(f"{role} on the {scope}")
            verdict = 1
    return lines, verdict, missing_roles


def _serves(group: list[Need]) -> str:
    """What a role is for: the purposes, for one command; the commands, for several (the doctor's list)."""
    commands = list(dict.fromkeys(need.command for need in group))
    if len(commands) > 1:
        return "for " + ", ".join(f"ops.{command}" for command in commands)
    return "; ".join(dict.fromkeys(need.purpose for need in group))


def _grant(need: Need, resource_id: str) -> str:
    """What gives the role: azd provision does, for AZURE_PRINCIPAL_ID; or an owner, by hand."""
    if need.role.endswith("(custom)"):
        return ("`azd provision` grants it to AZURE_PRINCIPAL_ID (the role is defined in the resource group; "
                "infra/README.md, Roles)")  # fmt: skip
    return (f"`azd provision` grants it to AZURE_PRINCIPAL_ID, or: az role assignment create --assignee <you> "
            f'--role "{need.role}" --scope {resource_id}')  # fmt: skip


def report(wanted: list[Need], args: argparse.Namespace, *, storage: Storage | None = None,
           secret_url: str | None = None, missing: list[str] | None = None) -> int:  # fmt: skip
    """Check the roles `wanted` and print what is held and what is missing (and how to get it; the missing ones also
    into `missing`); returns 0, 1 (a role missing) or 2 (not checked). Storage reached with a connection string
    needs no role: its key opens it all."""
    if storage is not None and storage.connection_string:
        wanted = [need for need in wanted if need.kind == "vault"]
        print("roles: storage is reached with a connection string (the account key): no storage role applies")
        if not wanted:
            return 0
    where = None
    if args.subscription and args.resource_group:
        account = account_of(storage.queue_url) if storage is not None and storage.queue_url else None
        where = Where(args.subscription, args.resource_group, account, vault_of(secret_url))
    own = storage is None or storage.credential is None
    credential = operator_credential() if own else storage.credential  # type: ignore[union-attr]
    try:
        lines, verdict, missing_roles = check(wanted, where, ResourceManager(credential, args.management_url))
    finally:
        if own:
            credential.close()
    print("\n".join(lines))
    if missing is not None:
        missing += missing_roles
    return verdict
