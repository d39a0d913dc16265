"""The operator commands on the deployed account, without a storage account here: endpoints from an account URL
(Azure's, or Azurite's with its own table port), the backfill's intake signed in with the operator's credential
through bootstrap (issue 24, item 1), a table a scoped role cannot create used all the same, and Key Vault tokens of
an azure-identity credential."""

from __future__ import annotations

import argparse
from typing import Any

import pytest
from azure.core.credentials import AccessToken
from azure.core.exceptions import ClientAuthenticationError, HttpResponseError, ResourceExistsError

from handlers.adapters.key_vault import CredentialVaultTokens
from handlers.adapters.tables import OwnedTable
from handlers.api import StorageSettings, build_intake, close
from handlers.domain.failures import ErrorKind, OnboardingError
from ops.storage import add_storage_arguments, endpoints, explained, storage_from

AZURITE = "https://127.0.0.1:10001/devstoreaccount1"


def test_an_azure_account_url_gives_both_endpoints_and_azurite_needs_its_table_url() -> None:
    assert endpoints("https://stabc.queue.core.windows.net/") == (
        "https://stabc.queue.core.windows.net",
        "https://stabc.table.core.windows.net",
    )
    assert endpoints(AZURITE, "https://127.0.0.1:10002/devstoreaccount1/") == (
        AZURITE,
        "https://127.0.0.1:10002/devstoreaccount1",
    )
    with pytest.raises(ValueError, match="--table-url"):
        endpoints(AZURITE)
    with pytest.raises(ValueError, match="not a storage account URL"):
        endpoints("http://127.0.0.1:10001/devstoreaccount1", "http://127.0.0.1:10002/devstoreaccount1")


def test_the_options_build_token_clients_on_both_endpoints(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("CrmQueue", "AzureWebJobsStorage__tableServiceUri", "SSL_CERT_FILE"):
        monkeypatch.delenv(name, raising=False)
    parser = argparse.ArgumentParser()
    add_storage_arguments(parser)
    table_url = "https://127.0.0.1:10002/devstoreaccount1"
    storage = storage_from(parser.parse_args(["--account-url", AZURITE, "--table-url", table_url]), parser)
    try:
        assert storage.queue("customer-requests").url == f"{AZURITE}/customer-requests"
        assert storage.table("onboardingledger").url.startswith(table_url)
        assert storage.where == AZURITE and storage.connection_string is None
    finally:
        storage.close()


class Credential:
    """An async token credential that records the scopes asked of it."""

    def __init__(self) -> None:
        self.scopes: list[str] = []

    async def get_token(self, *scopes: str, **_: Any) -> AccessToken:
        self.scopes += scopes
        return AccessToken("operator-token", 2_000_000_000)

    async def close(self) -> None:
        pass


async def test_the_backfills_intake_uses_the_operators_credential_and_the_endpoints_given() -> None:
    credential = Credential()
    settings = StorageSettings(
        CrmQueue=None, AzureWebJobsStorage=None, CrmQueue__queueServiceUri=AZURITE,
        AzureWebJobsStorage__tableServiceUri="https://127.0.0.1:10002/devstoreaccount1",
        CUSTOMER_REQUESTS_QUEUE="customer-requests",
    )  # fmt: skip
    deps = build_intake(settings, credential=credential)  # type: ignore[arg-type]
    try:
        queue, records, ledger = deps.queue._queue, deps.records._table, deps.ledger.rows._table  # type: ignore[attr-defined]
        assert queue.url == f"{AZURITE}/customer-requests"
        assert records.url.startswith("https://127.0.0.1:10002/devstoreaccount1")
        assert records.table_name == "onboardingintake" and ledger.table_name == "onboardingledger"
        assert queue.credential is credential and records.credential is credential and ledger.credential is credential
    finally:
        await close(deps.ledger.rows, deps.records, deps.queue)


class ScopedTable:
    """A TableClient whose identity holds a role on this one table: creating a table is refused (403)."""

    def __init__(self, code: str) -> None:
        self.code = code
        self.created = 0

    async def create_table(self) -> None:
        self.created += 1
        refused = HttpResponseError("This request is not authorized to perform this operation using this permission.")
        refused.status_code, refused.error_code = 403, self.code  # type: ignore[attr-defined]
        raise refused


async def test_a_table_the_role_cannot_create_is_used_all_the_same() -> None:
    # Issue 24, research C: the operator's Table Data Reader on the ledger cannot create it (403
    # AuthorizationPermissionMismatch); the deployment made it, so the read goes on.
    scoped = ScopedTable("AuthorizationPermissionMismatch")
    table = OwnedTable(scoped)  # type: ignore[arg-type]
    await table._ensure_table()
    await table._ensure_table()
    assert scoped.created == 1
    with pytest.raises(OnboardingError):  # a network refusal is no role question: it is reported
        await OwnedTable(ScopedTable("AuthorizationFailure"))._ensure_table()  # type: ignore[arg-type]

    class Existing(ScopedTable):
        async def create_table(self) -> None:
            raise ResourceExistsError("exists")

    await OwnedTable(Existing(""))._ensure_table()  # type: ignore[arg-type]


async def test_key_vault_tokens_of_a_credential_and_a_failed_sign_in_in_words() -> None:
    credential = Credential()
    tokens = CredentialVaultTokens(credential)  # type: ignore[arg-type]
    assert await tokens.get_token() == "operator-token" and credential.scopes == ["https://vault.azure.net/.default"]

    class NoSignIn(Credential):
        async def get_token(self, *scopes: str, **_: Any) -> AccessToken:
            raise ClientAuthenticationError("DefaultAzureCredential failed to retrieve a token")

    with pytest.raises(OnboardingError) as raised:
        await CredentialVaultTokens(NoSignIn()).get_token()  # type: ignore[arg-type]
    assert raised.value.kind is ErrorKind.AUTH and "az login" in str(raised.value)


@pytest.mark.parametrize(
    ("code", "words"),
    [
        ("AuthorizationPermissionMismatch", "--dry-run"),
        ("AuthorizationFailure", "inside the VNet"),
        ("KeyBasedAuthenticationNotPermitted", "--account-url"),
    ],
)
def test_a_403_says_what_its_code_means(code: str, words: str) -> None:
    refused = HttpResponseError("refused")
    refused.status_code, refused.error_code = 403, code  # type: ignore[attr-defined]
    assert words in explained(refused)
