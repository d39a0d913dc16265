"""The operator commands on the real stack: send, status, replay (dry run and real), the --serve file, the logs."""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from azure.core.exceptions import ResourceExistsError
from azure.data.tables import TableServiceClient

from devhost.run import AccessLog, write_stack_file
from devhost.stack import QUEUE, ROOT, Stack
from tests.integration.conftest import Harness

pytestmark = pytest.mark.integration


def command(
    stack: Stack, module: str, *args: str, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """Run `python -m ops.<module>` as an operator would, with the stack's settings in the environment."""
    environment = {**os.environ, **stack.env, **(env or {})}
    return subprocess.run(
        [sys.executable, "-m", f"ops.{module}", *args], cwd=ROOT, env=environment, capture_output=True, text=True
    )


def request(name: str, *, suffix: str) -> dict[str, Any]:
    body = json.loads((ROOT / "samples" / name).read_text())
    body["requestId"] = f"{body['requestId']}-{suffix}"
    return dict(body)


def test_the_dry_run_hides_nothing_and_a_missing_queue_does_not_crash(stack: Stack) -> None:
    base = f"ops{secrets.token_hex(4)}"
    first = command(stack, "replay_poison", "--queue", base, "--dry-run")
    assert first.returncode == 0, first.stderr
    assert f"{base}-exhausted: no such queue, nothing waiting" in first.stdout
    stack.queue(base)
    parked = stack.queue(f"{base}-exhausted")
    for i in range(3):
        parked.send_message(json.dumps({"requestId": f"crm-parked-{i}"}))
    dry = command(stack, "replay_poison", "--queue", base, "--dry-run")
    assert f"{base}-exhausted: 3 message(s) waiting: crm-parked-0, crm-parked-1, crm-parked-2" in dry.stdout
    moved = command(stack, "replay_poison", "--queue", base)  # right after the dry run, as the README says
    assert f"moved 3 message(s) from {base}-exhausted to {base}" in moved.stdout, moved.stdout + moved.stderr
    assert f"moved 0 message(s) from {base}-poison to {base}" in moved.stdout  # missing: nothing to move
    assert sorted(m.content for m in stack.queue(base).peek_messages(max_messages=32)) == [
        json.dumps({"requestId": f"crm-parked-{i}"}) for i in range(3)
    ]


def test_the_dry_run_prints_a_parked_request_ids_escape_sequences_escaped(stack: Stack) -> None:
    # Issue 21, finding 6: a parked requestId that clears the screen and forges a line of the command's output.
    base = f"ops{secrets.token_hex(4)}"
    forged = f"\x1b[2J\x1b[Hcrm-1\r\n{base}-poison: 0 message(s) waiting"
    stack.queue(f"{base}-exhausted").send_message(json.dumps({"requestId": forged}))
    dry = command(stack, "replay_poison", "--queue", base, "--dry-run")
    assert dry.returncode == 0, dry.stderr
    assert "\x1b" not in dry.stdout and all(line.isprintable() for line in dry.stdout.split("\n"))
    assert dry.stdout.splitlines() == [
        "roles: storage is reached with a connection string (the account key): no storage role applies",
        f"{base}-exhausted: 1 message(s) waiting: {forged!r}",
        f"{base}-poison: no such queue, nothing waiting",
    ]


def test_a_replay_into_a_missing_queue_says_so(stack: Stack) -> None:
    result = command(stack, "replay_poison", "--queue", f"ops{secrets.token_hex(4)}")
    assert result.returncode == 1 and "no such queue" in result.stderr and "Traceback" not in result.stderr


def test_status_counts_what_the_stack_did(harness: Harness) -> None:
    def figures() -> dict[str, Any]:
        result = command(harness.stack, "status", "--json")
        assert result.returncode == 0, result.stderr
        return dict(json.loads(result.stdout))

    before = figures()
    suffix = secrets.token_hex(3)
    harness.enqueue(request("requests/se-wingtip-toys.json", suffix=suffix) | {"customer": _fresh_customer(suffix)})
    harness.enqueue(request("failing/nl-domain-taken.json", suffix=suffix))
    assert len(harness.wait_for_events(2)) == 2
    after = figures()
    assert after["created"] == before["created"] + 1
    taken = after["failed"].get("domain_unavailable", 0) - before["failed"].get("domain_unavailable", 0)
    assert taken == 1
    assert after["requests"] == before["requests"] + 2
    assert set(after["queues"]) == {"queued", "poison", "parked"}
    recent = command(harness.stack, "status", "--json", "--since", "0.05")  # the last 3 minutes
    assert 2 <= json.loads(recent.stdout)["requests"] <= after["requests"]
    text = command(harness.stack, "status")
    assert text.returncode == 0 and "created" in text.stdout and "domain_unavailable" in text.stdout
    assert "AccountKey" not in text.stdout + text.stderr


def _fresh_customer(suffix: str) -> dict[str, Any]:
    customer = dict(json.loads((ROOT / "samples" / "requests" / "se-wingtip-toys.json").read_text())["customer"])
    customer["domainPrefix"] = f"wingtip{suffix}"
    return customer


def test_the_serve_file_and_scripts_send_enqueue_a_request_that_is_answered(harness: Harness, tmp_path: Path) -> None:
    stack_file = write_stack_file(harness.stack, tmp_path / "stack.env")
    assert stack_file.stat().st_mode & 0o077 == 0  # it holds Azurite's key: the developer's eyes only
    text = stack_file.read_text()
    for needed in ("CrmQueue=", "EMULATOR_URL=", "SSL_CERT_FILE=", "scripts/send", "ops.status", "_emulator/events"):
        assert needed in text
    suffix = secrets.token_hex(3)
    body = request("requests/se-wingtip-toys.json", suffix=suffix) | {"customer": _fresh_customer(suffix)}
    (tmp_path / "request.json").write_text(json.dumps(body))
    clean = {k: v for k, v in os.environ.items() if k not in harness.stack.env}  # only the file tells where
    sent = subprocess.run(
        [str(ROOT / "scripts" / "send"), str(tmp_path / "request.json")],
        env={**clean, "CSP_STACK_FILE": str(stack_file)},
        capture_output=True,
        text=True,
    )
    assert sent.returncode == 0, sent.stderr
    assert f"enqueued {body['requestId']}" in sent.stdout
    [event] = harness.wait_for_events(1, where=lambda e: e["data"].get("requestId") == body["requestId"])
    assert event["type"] == "csp.onboarding.customer.created"


def test_scripts_send_without_a_running_stack_says_what_to_do(tmp_path: Path) -> None:
    sent = subprocess.run(
        [str(ROOT / "scripts" / "send"), "samples/requests/se-wingtip-toys.json"],
        env={**os.environ, "CSP_STACK_FILE": str(tmp_path / "none.env")},
        capture_output=True,
        text=True,
    )
    assert sent.returncode == 1 and "scripts/run --serve" in sent.stderr


def test_the_emulator_log_holds_its_start_and_every_call(harness: Harness) -> None:
    suffix = secrets.token_hex(3)
    harness.enqueue(request("failing/nl-domain-taken.json", suffix=suffix))
    harness.wait_for_events(1)
    AccessLog(harness.stack).append_new()
    log = (harness.stack.log_dir / "emulator.log").read_text()
    assert "emulator listening on https://localhost:" in log
    assert " 200 HEAD /v1/domains/contoso.onmicrosoft.com domains.head ms-request-id=" in log


def test_a_new_run_starts_new_logs(tmp_path: Path) -> None:
    for name in ("host", "emulator", "azurite"):
        (tmp_path / f"{name}.log").write_text("a line of the previous run\n")
    stack = Stack(log_dir=tmp_path).start(host=False)
    try:
        for name in ("host", "emulator", "azurite"):
            assert "previous run" not in (tmp_path / f"{name}.log").read_text(), name
        assert (tmp_path / "emulator.log").read_text().strip(), "the emulator's log is not empty"
    finally:
        stack.stop()


def test_the_doctor_on_the_local_stack_gets_a_partner_center_token_with_the_apps_secret(stack: Stack) -> None:
    service = TableServiceClient.from_connection_string(stack.env["AzureWebJobsStorage"])
    for table in ("onboardingledger", "onboardingintake"):  # as storage.bicep makes them
        with contextlib.suppress(ResourceExistsError):
            service.create_table(table)
    for name in (f"{QUEUE}-poison", f"{QUEUE}-exhausted"):
        stack.queue(name)
    doctor = command(stack, "doctor")
    assert doctor.returncode == 0, doctor.stdout + doctor.stderr
    lines = doctor.stdout.splitlines()
    assert "settings     ok       from the environment: the function would start with them" in lines
    assert "partner ctr  ok       an app-only token, and Partner Center answers it" in lines
    assert "roles: storage is reached with a connection string (the account key): no storage role applies" in lines
    assert lines[-1] == "nothing missing (roles not checked)"
    assert "AccountKey" not in doctor.stdout + doctor.stderr
