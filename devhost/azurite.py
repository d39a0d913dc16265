"""Azurite, as the stack starts it: in memory, on free loopback ports, over plain HTTP with the account key; or, for
the operator commands' Entra sign-in (`Stack(storage_auth="entra")`), over HTTPS with `--oauth basic`, where it takes
bearer tokens beside the key. Basic OAuth checks a token's issuer (Entra's v1 `https://sts.windows.net/`), audience
(`https://storage.azure.com`) and lifetime, never its signature or a role (Azurite's README, "OAuth Configuration";
its TableTokenAuthenticator): the roles are checked by the commands' --dry-run against the emulator's Resource
Manager instead."""

from __future__ import annotations

import contextlib
from pathlib import Path

import trustme
from azure.core.exceptions import ResourceExistsError
from azure.data.tables import TableClient
from azure.storage.queue import QueueClient

AZURITE = Path(__file__).resolve().parent.parent / "tools" / "azurite" / "node_modules" / ".bin" / "azurite"


def azurite_command(ports: dict[str, int], *, tls_folder: Path | None = None) -> list[str]:
    """The command line; with `tls_folder`, HTTPS and OAuth, the certificate made there (`tls_certificate`)."""
    if not AZURITE.exists():
        raise RuntimeError(f"Azurite is not installed at {AZURITE}: run scripts/setup")
    command = [
        str(AZURITE), "--silent", "--inMemoryPersistence", "--skipApiVersionCheck", "--loose",
        "--blobHost", "127.0.0.1", "--queueHost", "127.0.0.1",
        "--tableHost", "127.0.0.1", "--blobPort", str(ports["blob"]),
        "--queuePort", str(ports["queue"]), "--tablePort", str(ports["table"]),
    ]  # fmt: skip
    if tls_folder is not None:
        certificate, key = tls_certificate(tls_folder)
        command += ["--oauth", "basic", "--cert", str(certificate), "--key", str(key)]
    return command


def tls_certificate(folder: Path) -> tuple[Path, Path]:
    """A certificate for 127.0.0.1 and its key (mode 600), from a fresh CA whose certificate is `azurite-ca.pem`
    there, for the stack's CA bundle."""
    ca = trustme.CA(organization_name="local Azurite")
    issued = ca.issue_cert("127.0.0.1", "localhost")
    paths = folder / "azurite-cert.pem", folder / "azurite-key.pem", folder / "azurite-ca.pem"
    for path, pem in zip(paths, (issued.cert_chain_pems[0], issued.private_key_pem, ca.cert_pem), strict=True):
        path.touch(mode=0o600)
        pem.write_to_path(str(path))
    return paths[0], paths[1]


def connection_string(scheme: str, account_key: str, ports: dict[str, int]) -> str:
    """The account's connection string (the table endpoint is the fault proxy's when the stack runs one)."""
    table = ports.get("table_proxy", ports["table"])
    return (
        f"DefaultEndpointsProtocol={scheme};AccountName=devstoreaccount1;AccountKey={account_key};"
        f"BlobEndpoint={scheme}://127.0.0.1:{ports['blob']}/devstoreaccount1;"
        f"QueueEndpoint={scheme}://127.0.0.1:{ports['queue']}/devstoreaccount1;"
        f"TableEndpoint={scheme}://127.0.0.1:{table}/devstoreaccount1;"
    )


def provision(connection: str, ca_file: Path, queue: str, tables: tuple[str, ...]) -> None:
    """The queues and tables infra/app/storage.bicep makes, for a stack that stands in for a deployment (the
    operator commands are then met by what a deployed account has)."""
    for name in (queue, f"{queue}-poison", f"{queue}-exhausted"):
        with contextlib.suppress(ResourceExistsError):
            QueueClient.from_connection_string(connection, name, connection_verify=str(ca_file)).create_queue()
    for name in tables:
        with contextlib.suppress(ResourceExistsError):
            TableClient.from_connection_string(connection, name, connection_verify=str(ca_file)).create_table()
