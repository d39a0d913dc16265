"""Every operator command against a stand-in for the deployed account (issue 24): Azurite over HTTPS with --oauth
basic, the commands given an account URL and signing in with DefaultAzureCredential (the emulator's managed
identity), no connection string anywhere in their environment; their roles checked against the emulator's Resource
Manager; a secretless function (its only credential the federated managed identity) with App+User on before anyone
signed in (one warning, no alert, no event), then `ops.consent --temporary-certificate` and a reseller's customer
created with the app-bound refresh token."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from devhost.stack import APP_USER_SECRET, ROOT, Stack
from emulator.users import ACTIVE_RESELLER
from ops.backfill.sample import make_rows, write_csv
from tests.fakes import sample
from tests.leak_scan import stop_after_scan

pytestmark = pytest.mark.integration
SUBSCRIPTION, GROUP = "00000000-0000-4000-8000-0000000000aa", "rg-csp-onboarding-local"
ACCOUNT = (
    f"/subscriptions/{SUBSCRIPTION}/resourceGroups/{GROUP}/providers/Microsoft.Storage/storageAccounts/devstoreaccount1"
)
Q, T = (
    "Microsoft.Storage/storageAccounts/queueServices/queues",
    "Microsoft.Storage/storageAccounts/tableServices/tables",
)
VAULT = f"/subscriptions/{SUBSCRIPTION}/resourceGroups/{GROUP}/providers/Microsoft.KeyVault/vaults/kvtok-local"


def grants(*, intake: bool = True, vault: bool = True) -> list[dict[str, Any]]:
    """The deploying user's role assignments as rbac.bicep makes them (role definitions as Azure's reference lists
    them); `intake` / `vault` False leaves that one out."""
    queue, table = f"{ACCOUNT}/queueServices/default/queues", f"{ACCOUNT}/tableServices/default/tables"
    messages = [f"{Q}/messages/{a}" for a in ("delete", "read", "write", "process/action")]
    contributor = {"actions": [f"{Q}/read", f"{Q}/write", f"{Q}/delete"], "dataActions": messages}
    found = [
        {"scope": f"{queue}/customer-requests", "dataActions": [f"{Q}/messages/add/action"]},
        {"scope": f"{queue}/customer-requests", "actions": [f"{Q}/read"], "dataActions": [f"{Q}/messages/read"]},
        {"scope": f"{queue}/customer-requests-poison", **contributor},
        {"scope": f"{queue}/customer-requests-exhausted", **contributor},
        {"scope": f"{table}/onboardingledger", "actions": [f"{T}/read"], "dataActions": [f"{T}/entities/read"]},
    ]
    if intake:
        found.append({"scope": f"{table}/onboardingintake", "actions": [f"{T}/read", f"{T}/write", f"{T}/delete"],
                      "dataActions": [f"{T}/entities/{a}" for a in ("read", "write", "delete", "add/action",
                                                                    "update/action")]})  # fmt: skip
    if vault:
        found.append({"scope": VAULT, "dataActions": ["Microsoft.KeyVault/vaults/secrets/setSecret/action"]})
    return found


@pytest.fixture(scope="module")
def deployed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    """A secretless function (federated credential, Entra-published events) on an account reached with tokens, App+User
    on and nobody signed in yet."""
    stack = Stack(log_dir=tmp_path_factory.mktemp("entra-stack"), storage_auth="entra", credential="federated",
                  events_auth="entra", vault=True, host_args=["--max-polling-interval", "0.2"])  # fmt: skip
    stack.start(host=False)
    stack.env["PARTNER_CENTER_USER_TOKEN_SECRET_URL"] = f"{stack.emulator_url}/secrets/{APP_USER_SECRET}"
    stack.start_host()
    yield stack
    stop_after_scan(stack)


def operator_env(stack: Stack) -> dict[str, str]:
    """An operator's shell after `eval "$(azd env get-values)"`: no connection string, the emulator as Azure."""
    env = {k: v for k, v in {**os.environ, **stack.env}.items() if k not in ("CrmQueue", "AzureWebJobsStorage")}
    return env | {
        "AZURE_SUBSCRIPTION_ID": SUBSCRIPTION, "AZURE_RESOURCE_GROUP": GROUP,
        "AZURE_RESOURCE_MANAGER_URL": stack.emulator_url, "MICROSOFT_GRAPH_URL": stack.emulator_url,
        "PARTNER_CENTER_USER_TOKEN_VAULT_NAME": "kvtok-local",
    }  # fmt: skip


def ops(stack: Stack, module: str, *args: str) -> subprocess.CompletedProcess[str]:
    where = ["--account-url", stack.queue_url, "--table-url", stack.table_url]
    if module == "consent":
        where = []
    return subprocess.run([sys.executable, "-m", f"ops.{module}", *args, *where], cwd=ROOT, env=operator_env(stack),
                          capture_output=True, text=True, timeout=300)  # fmt: skip


def request(kind: str) -> dict[str, Any]:
    data = sample()
    tag = uuid.uuid4().hex[:10]
    data["requestId"], data["customer"]["domainPrefix"] = f"{kind}-{tag}", f"{kind}{tag}"
    if kind == "reseller":
        data["indirectResellerId"] = ACTIVE_RESELLER
    return data


def outcome(stack: Stack, request_id: str, timeout: float = 60.0) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for event in stack.events():
            if event["data"].get("requestId") == request_id:
                return event
        time.sleep(0.2)
    raise AssertionError(f"no outcome for {request_id}")


def test_every_operator_command_runs_with_an_account_url_and_a_token(deployed: Stack, tmp_path: Path) -> None:
    deployed.admin("POST", "role-assignments", grants())
    before = deployed.admin("GET", "state")["counters"].get("storage_tokens_issued", 0)
    direct = request("direct")
    (tmp_path / "direct.json").write_text(json.dumps(direct))
    file = tmp_path / "accounts.csv"
    write_csv(file, make_rows(3, 0, tag=f"en{uuid.uuid4().hex[:6]}"))

    for command in (["send", str(tmp_path / "direct.json")], ["status"], ["replay_poison"], ["backfill", str(file)]):
        dry = ops(deployed, command[0], *command[1:], "--dry-run")
        assert dry.returncode == 0, dry.stdout + dry.stderr
        assert "roles, as Azure Resource Manager reports them" in dry.stdout and "MISSING" not in dry.stdout

    sent = ops(deployed, "send", str(tmp_path / "direct.json"))
    assert sent.returncode == 0, sent.stderr
    assert outcome(deployed, direct["requestId"])["type"] == "csp.onboarding.customer.created"
    status = ops(deployed, "status", "--json")
    assert status.returncode == 0, status.stderr
    assert json.loads(status.stdout)["created"] >= 1

    parked = deployed.queue("customer-requests-exhausted")
    parked.send_message(json.dumps(request("parked")))
    listed = ops(deployed, "replay_poison", "--dry-run")
    assert "customer-requests-exhausted: 1 message(s) waiting: parked-" in listed.stdout, listed.stdout + listed.stderr
    moved = ops(deployed, "replay_poison")
    assert "moved 1 message(s) from customer-requests-exhausted" in moved.stdout, moved.stderr

    backfilled = ops(deployed, "backfill", str(file), "--timeout", "60")
    assert backfilled.returncode == 0, backfilled.stdout + backfilled.stderr
    assert "3 created, 0 failed, 0 pending" in backfilled.stdout

    doctor = ops(deployed, "doctor")
    assert doctor.returncode == 0, doctor.stdout + doctor.stderr
    assert doctor.stdout.splitlines()[-1] == "nothing missing"
    assert "signed in    ok       as 22222222-2222-4222-8222-222222222222" in doctor.stdout
    used = deployed.admin("GET", "state")["counters"]["storage_tokens_issued"] - before
    assert used >= 7, "each of the 7 runs above that reads or writes storage signed in with a token"
    assert "AccountKey" not in doctor.stdout + backfilled.stdout + status.stdout


def test_a_dry_run_names_the_missing_role_and_sends_nothing(deployed: Stack, tmp_path: Path) -> None:
    deployed.admin("POST", "role-assignments", grants(intake=False, vault=False))
    file = tmp_path / "accounts.csv"
    write_csv(file, make_rows(2, 0, tag=f"dr{uuid.uuid4().hex[:6]}"))
    dry = ops(deployed, "backfill", str(file), "--dry-run")
    assert dry.returncode == 1
    missing = "  MISSING  Storage Table Data Contributor on the `onboardingintake` table: read what was enqueued before"
    assert missing in dry.stdout and "enqueue: " not in dry.stderr, "nothing sent"
    assert 'az role assignment create --assignee <you> --role "Storage Table Data Contributor"' in dry.stdout
    consent = ops(deployed, "consent", "--dry-run")
    assert consent.returncode == 1 and "MISSING  Key Vault Secret Setter (custom) on the App+User token vault" in (
        consent.stdout
    )
    doctor = ops(deployed, "doctor")
    assert doctor.returncode == 1 and doctor.stdout.splitlines()[-1] == (
        "2 thing(s) to do: role: Storage Table Data Contributor on the `onboardingintake` table; "
        "role: Key Vault Secret Setter (custom) on the App+User token vault"
    )


def test_app_user_on_before_a_sign_in_warns_once_then_a_temporary_certificate_signs_in(deployed: Stack) -> None:
    waiting = [request("reseller"), request("reseller")]
    for each in waiting:
        deployed.queue().send_message(json.dumps(each))
        failed = outcome(deployed, each["requestId"])
        assert failed["type"] == "csp.onboarding.customer.failed"
        assert failed["data"]["reason"] == "not_authorized" and "ops.consent" in failed["data"]["message"]
        assert [(e["field"], e["code"]) for e in failed["data"]["errors"]] == [
            ("indirectResellerId", "app_user_not_signed_in")
        ]
    log = (deployed.log_dir / "host.log").read_text()
    assert log.count("WARNING csp_onboarding: App+User not signed in yet") == 1
    assert "App+User sign-in needed" not in log, "no consent alarm (the alert's log line)"
    assert not [e for e in deployed.events() if e["type"].endswith("consent.required")]

    deployed.admin("POST", "role-assignments", grants())
    process = subprocess.Popen([sys.executable, "-m", "ops.consent", "--temporary-certificate", "--port", "0"],
                               cwd=ROOT, env=operator_env(deployed), stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT, text=True)  # fmt: skip
    assert process.stdout is not None
    lines = []
    for line in process.stdout:
        lines.append(line)
        if line.strip().startswith("https://"):  # the test plays the browser; the emulator approves
            with urllib.request.urlopen(line.strip(), context=deployed._admin_tls, timeout=30) as answer:  # noqa: S310
                assert answer.status == 200
            break
    out = "".join(lines) + process.stdout.read()
    assert process.wait(timeout=120) == 0, out
    assert "Added a temporary certificate" in out and "Removed the temporary certificate" in out
    state = deployed.admin("GET", "state")["counters"]
    assert state["graph_key_updates"] == state["graph_keys_removed"] == 1
    [version] = deployed.admin("GET", "vault")[APP_USER_SECRET]
    assert version["tags"].get("client") != "public", "the app's sign-in, not a public client's"
    assert version["value"] not in out

    reseller = request("reseller")
    deployed.queue().send_message(json.dumps(reseller))
    created = outcome(deployed, reseller["requestId"])
    assert created["type"] == "csp.onboarding.customer.created", created["data"]
    assert created["data"]["associatedPartnerId"] == ACTIVE_RESELLER
