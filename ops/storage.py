"""How the operator commands reach the function's storage account: a connection string (Azurite locally) or, for
the deployed account (shared keys off), its URL and Entra credentials (DefaultAzureCredential: `az login`,
`azd auth login`, environment variables, a managed identity).

Options and their defaults, in order: `--connection-string`, `--account-url`; else the app settings
`CrmQueue` (a connection string; `.local/stack.env` sets it for the local stack), then
`CrmQueue__queueServiceUri` (the deployed app's setting).
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
    parser.add_argument("--queue", default=os.environ.get("CUSTOMER_REQUESTS_QUEUE", QUEUE_DEFAULT))


def service_url(account_url: str, service: str) -> str:
    """The account's URL for `service` ("queue", "table"); raises ValueError for a URL that names no account."""
    match = _SERVICE_HOST.match(account_url.strip())
    if not match:
        raise ValueError(
            f"not a storage account URL: {account_url} (expected https://<account>.queue.core.windows.net)"
        )
    return f"{match.group(1)}.{service}.{match.group(2)}"


@dataclass
class Storage:
    """One storage account, by connection string or by URL with a token credential."""

    connection_string: str | None = None
    account_url: str | None = None
    credential: Any = None

    def queue(self, name: str) -> QueueClient:
        if self.connection_string:
            return QueueClient.from_connection_string(self.connection_string, name)
        assert self.account_url is not None
        return QueueClient(service_url(self.account_url, "queue"), name, credential=self.credential)

    def table(self, name: str) -> TableClient:
        if self.connection_string:
            return TableClient.from_connection_string(self.connection_string, table_name=name)
        assert self.account_url is not None
        return TableClient(service_url(self.account_url, "table"), table_name=name, credential=self.credential)

    @property
    def where(self) -> str:
        """The account, for messages: its URL, never the connection string (it holds the key)."""
        if self.account_url:
            return service_url(self.account_url, "queue")
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
    if connection:
        return Storage(connection_string=connection)
    if not url:
        parser.error("no storage account: pass --account-url (Entra sign-in) or --connection-string, or set CrmQueue")
    try:
        service_url(url, "queue")
    except ValueError as exc:
        parser.error(str(exc))
    from azure.identity import DefaultAzureCredential  # only where Entra is used

    return Storage(account_url=url, credential=DefaultAzureCredential())


def explained(exc: AzureError) -> str:
    """One sentence on what went wrong and what to do, for an operator (no response bodies, no tokens)."""
    status = exc.status_code if isinstance(exc, HttpResponseError) else None
    if isinstance(exc, ClientAuthenticationError) and status is None:
        return "could not sign in to Entra: run `az login` (or `azd auth login`) as a user with the operator roles"
    if status == 403:
        return (
            "the storage account refused this identity (403): it needs the operator roles of docs/security.md's "
            "Security section (given by azd up to AZURE_PRINCIPAL_ID); a new assignment takes a few minutes"
        )
    if isinstance(exc, ServiceRequestError):
        return f"the storage account cannot be reached: {type(exc).__name__}"
    code = getattr(exc, "error_code", None)  # the service's text: shown, as whatever answered may have written it
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
