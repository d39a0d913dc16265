"""How the operator commands reach the function's storage account: a connection string (Azurite locally) or, for
the deployed account (shared keys off), its URL and Entra credentials (DefaultAzureCredential: `az login`,
`azd auth login`, environment variables, a managed identity).

Options and their defaults, in order: `--connection-string`, `--account-url` (with `--table-url` where the account
URL does not give the table endpoint); else the app settings `CrmQueue` (a connection string; `.local/stack.env`
sets it for the local stack), then `CrmQueue__queueServiceUri` (the deployed app's setting), then azd's output
`CUSTOMER_REQUESTS_QUEUE_URL` without the queue's name (after `eval "$(azd env get-values)"`).
"""

from __future__ import annotations

import argparse
import os
import re
import sys
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from azure.core.exceptions import AzureError, ClientAuthenticationError, HttpResponseError, ServiceRequestError
from azure.data.tables import TableClient
from azure.storage.queue import QueueClient

from ops.terminal import shown

QUEUE_DEFAULT = "customer-requests"
LEDGER_DEFAULT = "onboardingledger"
INTAKE_DEFAULT = "onboardingintake"
_SERVICE_HOST = re.compile(r"^(https://[^./]+)\.(?:blob|queue|table|dfs)\.([^/]+)/?$")


def add_storage_arguments(parser: argparse.ArgumentParser) -> None:
    """The connection options every operator command takes."""
    where = parser.add_mutually_exclusive_group()
    where.add_argument("--connection-string", help="a storage connection string (default: $CrmQueue)")
    where.add_argument(
        "--account-url",
        help="the account's queue (or table) URL, signed in with Entra: https://<account>.queue.core.windows.net "
        "(default: $CrmQueue__queueServiceUri)",
    )
    parser.add_argument(
        "--table-url",
        default=os.environ.get("AzureWebJobsStorage__tableServiceUri"),  # noqa: SIM112 — the app setting's name
        help="the table endpoint, where --account-url does not give it (Azurite's, on its own port)",
    )
    parser.add_argument("--queue", default=os.environ.get("CUSTOMER_REQUESTS_QUEUE", QUEUE_DEFAULT))


def service_url(account_url: str, service: str) -> str:
    """The account's URL for `service` ("queue", "table"); raises ValueError for a URL that names no account."""
    match = _SERVICE_HOST.match(account_url.strip())
    if not match:
        raise ValueError(
            f"not a storage account URL: {account_url} (expected https://<account>.queue.core.windows.net)"
        )
    return f"{match.group(1)}.{service}.{match.group(2)}"


def endpoints(account_url: str, table_url: str | None = None) -> tuple[str, str]:
    """The queue and table endpoints: derived from an Azure account URL (`table_url` wins when given), or, for any
    other https URL (Azurite's https://127.0.0.1:10001/devstoreaccount1), that URL and `table_url`, which is then
    required. Raises ValueError; plain http is refused (Entra tokens travel only over TLS)."""
    url = account_url.strip().rstrip("/")
    if _SERVICE_HOST.match(url):
        return service_url(url, "queue"), (table_url or service_url(url, "table")).rstrip("/")
    if not url.startswith("https://"):
        raise ValueError(
            f"not a storage account URL: {account_url} (expected https://<account>.queue.core.windows.net)"
        )
    if not table_url:
        raise ValueError(f"{account_url} names no table endpoint: pass --table-url as well")
    return url, table_url.rstrip("/")


def tls() -> dict[str, Any]:
    """The CA bundle SSL_CERT_FILE names, for the SDK's requests transport (requests reads only REQUESTS_CA_BUNDLE):
    every outbound client of this project trusts SSL_CERT_FILE. Empty: the system's store."""
    bundle = os.environ.get("SSL_CERT_FILE")
    return {"connection_verify": bundle} if bundle else {}


def operator_credential() -> Any:
    """The operator's Entra sign-in (DefaultAzureCredential: environment, managed identity, `az login`, `azd auth
    login`), trusting SSL_CERT_FILE as every client here does."""
    from azure.identity import DefaultAzureCredential  # only where Entra is used

    return DefaultAzureCredential(**tls())


@dataclass
class Storage:
    """One storage account, by connection string or by its endpoints with a token credential."""

    connection_string: str | None = None
    queue_url: str | None = None
    table_url: str | None = None
    credential: Any = None

    def queue(self, name: str) -> QueueClient:
        if self.connection_string:
            return QueueClient.from_connection_string(self.connection_string, name, **tls())
        assert self.queue_url is not None
        return QueueClient(self.queue_url, name, credential=self.credential, **tls())

    def table(self, name: str) -> TableClient:
        if self.connection_string:
            return TableClient.from_connection_string(self.connection_string, table_name=name, **tls())
        assert self.table_url is not None
        return TableClient(self.table_url, table_name=name, credential=self.credential, **tls())

    @property
    def where(self) -> str:
        """The account, for messages: its URL, never the connection string (it holds the key)."""
        if self.queue_url:
            return self.queue_url
        found = re.search(r"QueueEndpoint=([^;]+)", self.connection_string or "")
        account = re.search(r"AccountName=([^;]+)", self.connection_string or "")
        return found.group(1) if found else f"account {account.group(1) if account else '?'}"

    def close(self) -> None:
        if self.credential is not None:
            self.credential.close()


def storage_from(args: argparse.Namespace, parser: argparse.ArgumentParser) -> Storage:
    """The account the options (or the environment) name; exits through `parser.error` when none does."""
    connection = args.connection_string
    url = args.account_url
    if not connection and not url:
        connection = os.environ.get("CrmQueue")  # noqa: SIM112 — the contract's names
        url = None if connection else os.environ.get("CrmQueue__queueServiceUri")  # noqa: SIM112
        deployed = os.environ.get("CUSTOMER_REQUESTS_QUEUE_URL")  # azd's output: the queue's URL
        url = url or (deployed.rstrip("/").rsplit("/", 1)[0] if deployed and not connection else None)
    if connection:
        return Storage(connection_string=connection)
    if not url:
        parser.error("no storage account: pass --account-url (Entra sign-in) or --connection-string, or set CrmQueue")
    try:
        queue_url, table_url = endpoints(url, getattr(args, "table_url", None))
    except ValueError as exc:
        parser.error(str(exc))
    return Storage(queue_url=queue_url, table_url=table_url, credential=operator_credential())


# What a 403's error code means (the Storage REST reference's error codes; azure-cli's reading of them).
_REFUSALS = {
    "AuthorizationPermissionMismatch": (
        "this identity has no role that allows the call (403 AuthorizationPermissionMismatch): run the command with "
        "--dry-run to see which role is missing; azd provision grants the operator roles of docs/security.md to "
        "AZURE_PRINCIPAL_ID, and a new assignment can take up to 30 minutes to apply"
    ),
    "AuthorizationFailure": (
        "the storage account refused the call from this network (403 AuthorizationFailure): with "
        "RESTRICT_PUBLIC_NETWORK_ACCESS on, run the command from inside the VNet"
    ),
    "KeyBasedAuthenticationNotPermitted": (
        "the account has shared keys off (403 KeyBasedAuthenticationNotPermitted): use --account-url and sign in "
        "with Entra instead of a connection string"
    ),
}


def explained(exc: AzureError) -> str:
    """One sentence on what went wrong and what to do, for an operator (no response bodies, no tokens)."""
    status = exc.status_code if isinstance(exc, HttpResponseError) else None
    code = getattr(exc, "error_code", None)  # the service's text: shown, as whatever answered may have written it
    if isinstance(exc, ClientAuthenticationError) and status is None:
        return "could not sign in to Entra: run `az login` (or `azd auth login`) as a user with the operator roles"
    if status == 403:
        other = f"the storage account refused this identity (403{f' {shown(code)}' if code else ''})"
        return _REFUSALS.get(str(code), f"{other}: it needs the operator roles of docs/security.md (see --dry-run)")
    if isinstance(exc, ServiceRequestError):
        return f"the storage account cannot be reached: {type(exc).__name__}"
    return f"storage answered {status or type(exc).__name__}{f' ({shown(code)})' if code else ''}"


def run(command: str, storage: Storage, work: Callable[[Storage], int]) -> int:
    """Run an operator command's work against storage: an Azure error becomes one sentence on stderr (exit 1), and
    the clients are closed either way."""
    try:
        return work(storage)
    except AzureError as exc:
        print(f"{command}: {explained(exc)}", file=sys.stderr)
        return 1
    finally:
        storage.close()
