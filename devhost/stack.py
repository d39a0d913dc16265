"""Start the local stack — Azurite, the emulator, the local Functions host — for runs, tests and benchmarks.

Each start makes fresh credentials (storage key, client secret, topic key) that live only in the processes'
environments: nothing secret is written to the repository.
"""

from __future__ import annotations

import base64
import contextlib
import functools
import json
import os
import secrets
import signal
import socket
import ssl
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import trustme
from azure.core.exceptions import ResourceExistsError
from azure.storage.queue import QueueClient

from devhost.azurite import azurite_command, connection_string, provision
from devhost.keys import key_header_file, new_keys, remove_keys, write_keys

ROOT = Path(__file__).resolve().parent.parent
LOCAL = ROOT / ".local"
TENANT_ID = "00000000-0000-4000-8000-00000000c5b0"
CLIENT_ID = "11111111-1111-4111-8111-111111111111"
MANAGED_IDENTITY_CLIENT_ID = "22222222-2222-4222-8222-222222222222"
QUEUE = "customer-requests"
APP_USER_SECRET = "partner-center-app-user"  # noqa: S105 — a secret name, not a value


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _wait_port(port: int, process: subprocess.Popen[Any], what: str, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{what} exited early with code {process.returncode}")
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.1)
    raise RuntimeError(f"{what} did not listen on port {port} within {timeout}s")


@dataclass
class Stack:
    """The running local stack; `env` is the function app's settings (contract §4 names)."""

    log_dir: Path = field(default_factory=lambda: LOCAL / "logs")
    host_args: list[str] = field(default_factory=list)
    extra_env: dict[str, str] = field(default_factory=dict)
    credential: Literal["secret", "certificate", "federated"] = "secret"
    events_auth: Literal["key", "entra"] = "key"
    vault: bool = False
    app_user: bool = False  # App+User on: the refresh token in the emulator's vault, consented at start
    table_proxy: bool = False  # TableEndpoint → the emulator's table fault proxy (queues, blobs: straight to Azurite)
    storage_auth: Literal["key", "entra"] = "key"  # entra: HTTPS, bearer tokens too (devhost/azurite.py)
    processes: dict[str, subprocess.Popen[Any]] = field(default_factory=dict)
    ports: dict[str, int] = field(default_factory=dict)
    env: dict[str, str] = field(default_factory=dict)
    emulator_url: str = ""
    ca_file: Path = LOCAL / "ca-bundle.pem"
    function_key: str = ""  # a host key: calls any HTTP function (x-functions-key header or ?code=)
    route_keys: dict[str, str] = field(default_factory=dict)  # route family → a function key opening its route only

    @property
    def http_url(self) -> str:
        """Base URL of the HTTP functions, route prefix included (`http://127.0.0.1:PORT/api`)."""
        return f"http://127.0.0.1:{self.ports['http']}/api"

    def start(self, *, host: bool = True) -> Stack:
        """Start Azurite and the emulator (and the local host unless host=False); raises RuntimeError."""
        self.log_dir.mkdir(parents=True, exist_ok=True)
        if self.storage_auth == "entra" and self.ca_file == LOCAL / "ca-bundle.pem":
            self.ca_file = self.log_dir / "ca-bundle.pem"  # with Azurite's CA: not the shared bundle of key stacks
        for name in ("azurite", "emulator", "host"):  # this run's logs only; a restarted host appends
            (self.log_dir / f"{name}.log").write_bytes(b"")
        account_key = base64.b64encode(secrets.token_bytes(32)).decode()
        client_secret = secrets.token_urlsafe(24)
        topic_key = secrets.token_urlsafe(24)
        identity_header = secrets.token_urlsafe(16)
        app_certificate = self._app_certificate() if self.credential == "certificate" else None
        self._start_azurite(account_key)
        self._start_emulator(client_secret, topic_key, identity_header, app_certificate)
        storage = connection_string(self.storage_scheme, account_key, self.ports)
        if self.storage_auth == "entra":  # a stand-in for the deployed account: what storage.bicep makes is there
            provision(storage, self.ca_file, QUEUE, ("onboardingledger", "onboardingintake"))
        self.env = {
            "AzureWebJobsStorage": storage,
            "CrmQueue": storage,
            "CUSTOMER_REQUESTS_QUEUE": QUEUE,
            "PARTNER_CENTER_CLOUD": "public",
            "PARTNER_CENTER_API_URL": self.emulator_url,
            "PARTNER_CENTER_AUTHORITY_HOST": self.emulator_url,
            "PARTNER_CENTER_TENANT_ID": TENANT_ID,
            "PARTNER_CENTER_CLIENT_ID": CLIENT_ID,
            "EVENTS_TOPIC_ENDPOINT": f"{self.emulator_url}/api/events",
            "EVENTS_SOURCE": "/csp-onboarding/local",
            # The CRM samples' organizations (samples/crm/): the CRM routes accept no other.
            "DATAVERSE_ORGANIZATION_IDS": "c2e4a6b8-1d3f-4a5b-9c7d-0e2f4a6b8c0d",
            "SALESFORCE_ORGANIZATION_IDS": "00D5g0000CspOnbAAA",
            "SSL_CERT_FILE": str(self.ca_file),
            # The App Service managed-identity protocol, served by the emulator.
            "IDENTITY_ENDPOINT": f"{self.emulator_url}/msi/token",
            "IDENTITY_HEADER": identity_header,
            "AZURE_CLIENT_ID": MANAGED_IDENTITY_CLIENT_ID,
        }
        if self.credential == "secret":
            self.env["PARTNER_CENTER_CLIENT_SECRET"] = client_secret
        elif self.credential == "certificate":
            self.env["PARTNER_CENTER_CLIENT_CERTIFICATE_PATH"] = str(app_certificate)
        else:
            self.env["PARTNER_CENTER_FEDERATED_CLIENT_ID"] = MANAGED_IDENTITY_CLIENT_ID
        if self.events_auth == "key":
            self.env["EVENTS_TOPIC_KEY"] = topic_key
        if self.vault:
            self.env["ADMIN_CREDENTIALS_VAULT_URL"] = self.emulator_url
        if self.app_user:
            self.env["PARTNER_CENTER_USER_TOKEN_SECRET_URL"] = f"{self.emulator_url}/secrets/{APP_USER_SECRET}"
            self.consent()
        self.env.update(self.extra_env)
        if host:
            self.start_host()
        return self

    @property
    def storage_scheme(self) -> str:
        return "https" if self.storage_auth == "entra" else "http"

    @property
    def queue_url(self) -> str:
        """Azurite's queue endpoint (path-style: the account is the path's first segment)."""
        return f"{self.storage_scheme}://127.0.0.1:{self.ports['queue']}/devstoreaccount1"

    @property
    def table_url(self) -> str:
        """Azurite's table endpoint: another port than the queue's, so the operator commands take --table-url."""
        return f"{self.storage_scheme}://127.0.0.1:{self.ports['table']}/devstoreaccount1"

    def _start_azurite(self, account_key: str) -> None:
        self.ports.update(blob=free_port(), queue=free_port(), table=free_port())
        command = azurite_command(self.ports, tls_folder=self.log_dir if self.storage_auth == "entra" else None)
        env = {**os.environ, "AZURITE_ACCOUNTS": f"devstoreaccount1:{account_key}"}
        self.processes["azurite"] = self._spawn("azurite", command, env)
        for name in ("queue", "table"):
            _wait_port(self.ports[name], self.processes["azurite"], "Azurite")

    def _app_certificate(self) -> Path:
        """A fresh key + certificate for the app registration (PEM, mode 600, under .local/, never committed)."""
        path = self.log_dir / "app-credential.pem"
        ca = trustme.CA(organization_name="app registration", key_type=trustme.KeyType.RSA)  # Entra needs RSA
        ca.issue_cert("csp-onboarding-app", key_type=trustme.KeyType.RSA).private_key_and_cert_chain_pem.write_to_path(
            str(path)
        )
        path.chmod(0o600)
        return path

    def _start_emulator(
        self, client_secret: str, topic_key: str, identity_header: str, app_certificate: Path | None
    ) -> None:
        env = {
            **os.environ,
            "EMULATOR_CLIENT_SECRET": client_secret,
            "EMULATOR_TOPIC_KEY": topic_key,
            "EMULATOR_IDENTITY_HEADER": identity_header,
        }
        command = [sys.executable, "-m", "emulator", "--port", "0", "--cert-dir", str(LOCAL / "emulator")]
        if app_certificate is not None:
            command += ["--app-certificate", str(app_certificate)]
        if self.table_proxy:
            command += ["--table-proxy-to", f"http://127.0.0.1:{self.ports['table']}"]
        process = subprocess.Popen(
            command,
            cwd=ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=open(self.log_dir / "emulator.log", "ab"),  # noqa: SIM115 — the child owns it
            text=True,
        )
        self.processes["emulator"] = process
        assert process.stdout is not None
        ready = json.loads(process.stdout.readline() or "{}")
        if "url" not in ready:
            raise RuntimeError("the emulator did not start: see .local/logs/emulator.log")
        self.emulator_url = ready["url"]
        if self.table_proxy:
            self.ports["table_proxy"] = int(ready["tableProxyPort"])
        with open(self.log_dir / "emulator.log", "a", encoding="utf-8") as log:  # its errors follow on stderr
            log.write(f"{time.strftime('%Y-%m-%dT%H:%M:%S')} emulator listening on {self.emulator_url}\n")
        system = ssl.get_default_verify_paths().cafile or "/etc/ssl/certs/ca-certificates.crt"
        bundle = Path(ready["caFile"]).read_text()
        if Path(system).exists():
            bundle = Path(system).read_text() + "\n" + bundle
        if self.storage_auth == "entra":
            bundle += "\n" + (self.log_dir / "azurite-ca.pem").read_text()
        self.ca_file.write_text(bundle)

    def start_host(self) -> None:
        """Start (or restart) the local Functions host with the app settings; returns once it serves HTTP."""
        env = {**os.environ, **self.env}
        keys = self._function_keys()
        command = [sys.executable, "-m", "devhost", *self.host_args]
        command += ["--http-port", str(self.ports["http"]), "--keys-file", str(keys)]
        self.processes["host"] = self._spawn("host", command, env)
        _wait_port(self.ports["http"], self.processes["host"], "the local host", timeout=60)

    def _function_keys(self) -> Path:
        """The host's keys, fresh for this stack, in files under .local/ (devhost.keys)."""
        if "http" not in self.ports:
            self.ports["http"] = free_port()
            self.function_key, self.route_keys = new_keys()
        return write_keys(self.ports["http"], self.function_key, self.route_keys)

    def key_header_file(self, family: str | None = None) -> Path:
        """A key as a header line, for `curl -H @file`: the host key, or one route family's function key."""
        return key_header_file(self.ports["http"], family)

    def kill_host(self) -> None:
        """SIGKILL the local host, as an instance dying mid-call."""
        process = self.processes.pop("host", None)
        if process is not None and process.poll() is None:
            process.send_signal(signal.SIGKILL)
            process.wait()

    def _spawn(self, name: str, command: list[str], env: dict[str, str]) -> subprocess.Popen[Any]:
        log = open(self.log_dir / f"{name}.log", "ab")  # noqa: SIM115 — the child process owns it
        return subprocess.Popen(command, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)

    # --- talking to the stack -------------------------------------------------------------------------------

    def admin(self, method: str, path: str, body: Any = None) -> Any:
        """Call the emulator's /_emulator/ API (the table proxy's `storage-faults` included)."""
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(f"{self.emulator_url}/_emulator/{path}", data=data, method=method)  # noqa: S310
        request.add_header("Content-Type", "application/json")
        with urllib.request.urlopen(request, context=self._admin_tls, timeout=30) as response:  # noqa: S310 — https only
            raw = response.read()
        return json.loads(raw) if raw else None

    @functools.cached_property
    def _admin_tls(self) -> ssl.SSLContext:
        """Trusts the CA bundle, parsed once: tests and benchmarks poll the emulator several times a second."""
        return ssl.create_default_context(cafile=str(self.ca_file))

    def consent(self) -> None:
        """The Admin agent's sign-in done behind the scenes: a fresh refresh token in the vault (ops.consent's
        result, without the browser)."""
        self.admin("POST", "app-user/consent", {"secretName": APP_USER_SECRET})

    def queue(self, name: str = QUEUE) -> QueueClient:
        """A client of one of the stack's queues, created if the host has not created it yet."""
        trust: str | bool = (
            str(self.ca_file) if self.storage_auth == "entra" else True
        )  # requests ignores SSL_CERT_FILE
        client = QueueClient.from_connection_string(self.env["CrmQueue"], name, connection_verify=trust)
        with contextlib.suppress(ResourceExistsError):
            client.create_queue()
        return client

    def events(self) -> list[dict[str, Any]]:
        return list(self.admin("GET", "events"))

    def stop(self) -> None:
        """Stop every process, the host first (Azurite keeps its data in memory only)."""
        if "http" in self.ports:
            remove_keys(self.ports["http"], self.route_keys)
        for name in ("host", "emulator", "azurite"):
            process = self.processes.pop(name, None)
            if process is not None and process.poll() is None:
                # Azurite's graceful shutdown waits out keep-alive connections (~90 s); its data is in memory only.
                process.kill() if name == "azurite" else process.terminate()
                try:
                    process.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait()
