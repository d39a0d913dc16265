"""App+User through the real stack (issue 16): a reseller's customer and an MCA attestation; a revoked sign-in
(direct customers go on, reseller and MCA fail with the documented reasons, one consent.required), then
`python -m ops.consent` against the emulator and a replay that succeeds; rotation; missing MFA; repeated attestation;
the versions a new sign-in supersedes disabled once it is redeemed (issue 21, item 7)."""

from __future__ import annotations

import os
import subprocess
import sys
import time
import urllib.request
import uuid
from typing import Any

import pytest

from devhost.stack import APP_USER_SECRET, ROOT, Stack
from emulator.users import ACTIVE_RESELLER
from tests.fakes import sample
from tests.integration.conftest import Harness

pytestmark = pytest.mark.integration
MCA = {"primaryContact": {"firstName": "Astrid", "lastName": "Lindqvist", "email": "astrid@wingtiptoys.se"},
       "dateAgreed": "2026-01-15T09:30:00Z"}  # fmt: skip


def request(kind: str) -> dict[str, Any]:
    data = sample()
    tag = uuid.uuid4().hex[:10]
    data["requestId"] = f"{kind}-{tag}"
    data["customer"]["domainPrefix"] = f"{kind}{tag}"
    if kind == "reseller":
        data["indirectResellerId"] = ACTIVE_RESELLER
    if kind == "mca":
        data["customer"]["mcaAcceptance"] = MCA
    return data


def of(events: list[dict[str, Any]], request_id: str) -> list[str]:
    return [e["type"].removeprefix("csp.onboarding.") for e in events if e["data"].get("requestId") == request_id]


def fresh_worker(stack: Stack) -> None:
    """A new instance: nothing cached from earlier tests."""
    stack.kill_host()
    stack.start_host()


def run_consent(stack: Stack) -> str:
    """`python -m ops.consent` against the emulator; the test plays the browser (the emulator auto-approves)."""
    env = {**os.environ, **stack.env}
    process = subprocess.Popen(
        [sys.executable, "-m", "ops.consent", "--port", "0"], cwd=ROOT, env=env,
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    assert process.stdout is not None
    lines = []
    for line in process.stdout:
        lines.append(line)
        if line.strip().startswith("https://"):
            with urllib.request.urlopen(line.strip(), context=stack._admin_tls, timeout=30) as answer:  # noqa: S310
                assert answer.status == 200  # followed the redirect to ops.consent's local server
            break
    out = "".join(lines) + process.stdout.read()
    assert process.wait(timeout=60) == 0, out
    return out


def test_a_reseller_customer_and_an_mca_attestation(harness: Harness, stack: Stack) -> None:
    stack.consent()
    reseller, mca = request("reseller"), request("mca")
    harness.enqueue(reseller)
    harness.enqueue(mca)
    events = harness.wait_for_events(3)
    assert of(events, reseller["requestId"]) == ["customer.created"]
    assert of(events, mca["requestId"]) == ["customer.created", "agreement.confirmed"]
    created = next(e for e in events if e["data"]["requestId"] == reseller["requestId"])
    assert created["data"]["associatedPartnerId"] == ACTIVE_RESELLER
    assert [c["status"] for c in harness.calls("agreements.create")] == [201]
    vault = stack.admin("GET", "vault")[APP_USER_SECRET]
    assert len(vault) >= 2, "each redemption's refresh token is written back as a new version"
    harness.enqueue(mca)  # a repeat: the same events again, no second attestation
    harness.settle()
    assert len(harness.calls("agreements.create")) == 1 and len(harness.calls("customers.create")) == 2


def test_revoked_sign_in_then_ops_consent_and_a_replay(harness: Harness, stack: Stack) -> None:
    stack.consent()
    stack.admin("POST", "app-user", {"revoke": True})
    fresh_worker(stack)
    direct, reseller, mca = request("direct"), request("reseller"), request("mca")
    for data in (direct, reseller, mca):
        harness.enqueue(data)
    events = harness.wait_for_events(5, timeout=90)
    assert of(events, direct["requestId"]) == ["customer.created"]
    assert of(events, reseller["requestId"]) == ["customer.failed"]
    assert of(events, mca["requestId"]) == ["customer.created", "agreement.failed"]
    failures = [e["data"] for e in events if e["type"].endswith(".failed")]
    assert {(f["reason"], f["retryable"]) for f in failures} == {("not_authorized", True)}
    assert all("ops.consent" in f["message"] for f in failures)
    harness.settle()
    consent = [e for e in stack.events() if e["type"] == "csp.onboarding.consent.required"]
    assert len(consent) == 1 and consent[0]["data"]["reason"] == "refresh_token_revoked"
    out = run_consent(stack)
    secrets = stack.admin("GET", "secrets")
    assert not any(token in out for token in secrets["refreshTokens"] + secrets["tokens"]), "nothing secret printed"
    harness.enqueue(reseller)  # the operator's replay
    harness.enqueue(mca)
    events = harness.wait_for_events(1, where=lambda e: e["type"] == "csp.onboarding.agreement.confirmed", timeout=60)
    deadline = time.monotonic() + 30
    while of(stack.events(), reseller["requestId"]) != ["customer.failed", "customer.created"]:
        assert time.monotonic() < deadline, of(stack.events(), reseller["requestId"])
        time.sleep(0.2)
    assert len([c for c in harness.calls("customers.create") if c["status"] == 201]) == 3


def test_a_sign_in_without_mfa_fails_reseller_work_with_900421(harness: Harness, stack: Stack) -> None:
    stack.admin("POST", "app-user", {"signInMfa": False})
    stack.consent()
    fresh_worker(stack)
    reseller = request("reseller")
    harness.enqueue(reseller)
    events = harness.wait_for_events(2, timeout=60)
    [failed] = [e["data"] for e in events if e["type"] == "csp.onboarding.customer.failed"]
    assert failed["reason"] == "not_authorized" and failed["partnerCenter"]["code"] == "900421"
    # The alert's log line every time; the consent.required event at most once an hour (another test may have
    # published this hour's already: the notice is a row every instance sees).
    assert "App+User sign-in needed (mfa_required)" in (stack.log_dir / "host.log").read_text(errors="replace")
    assert len([e for e in events if e["type"].endswith("consent.required")]) <= 1


def test_an_unknown_reseller_is_refused_before_anything_is_created(harness: Harness, stack: Stack) -> None:
    stack.consent()
    data = request("reseller")
    data["indirectResellerId"] = str(uuid.uuid4())
    harness.enqueue(data)
    [event] = harness.wait_for_events(1)
    assert event["data"]["reason"] == "invalid_request" and event["data"]["errors"][0]["field"] == "indirectResellerId"
    assert harness.calls("customers.create") == []


def test_ops_consent_with_a_device_code(harness: Harness, stack: Stack) -> None:
    env = {**os.environ, **stack.env}
    done = subprocess.run(
        [sys.executable, "-m", "ops.consent", "--device-code"], cwd=ROOT, env=env, capture_output=True, text=True,
        timeout=60,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    assert "enter the code" in done.stdout and "Stored the App+User refresh token" in done.stdout
    [version] = stack.admin("GET", "vault")[APP_USER_SECRET]
    assert version["value"] not in done.stdout + done.stderr, "the refresh token is never printed"
    assert version["value"] in stack.admin("GET", "secrets")["refreshTokens"]
    assert version["tags"]["client"] == "public"
    # The function redeems a public client's token without the app's credential (Entra refuses it: AADSTS700025).
    fresh_worker(stack)
    reseller = request("reseller")
    harness.enqueue(reseller)
    [event] = harness.wait_for_events(1, timeout=60)
    assert event["type"] == "csp.onboarding.customer.created", event["data"]
    assert stack.admin("GET", "vault")[APP_USER_SECRET][-1]["tags"]["client"] == "public"


def test_once_a_new_sign_in_is_redeemed_the_versions_it_supersedes_are_disabled(harness: Harness, stack: Stack) -> None:
    stack.consent()
    fresh_worker(stack)
    harness.enqueue(request("reseller"))  # redeems the first sign-in and writes its rotation
    harness.wait_for_events(1, timeout=60)
    time.sleep(1.1)  # Key Vault's `created` is in whole seconds: the new sign-in comes after every older version
    run_consent(stack)  # the operator's new sign-in, as a new version
    fresh_worker(stack)
    harness.enqueue(request("reseller"))
    events = harness.wait_for_events(2, where=lambda e: e["type"] == "csp.onboarding.customer.created", timeout=60)
    assert len(events) == 2, [e["type"] for e in stack.events()]
    versions = stack.admin("GET", "vault")[APP_USER_SECRET]
    [consent] = [n for n, v in enumerate(versions) if v["tags"].get("writtenBy") == "ops.consent"]
    assert consent >= 2 and len(versions) > consent + 1, "the first sign-in and its rotation; then the new one's"
    assert [v["attributes"]["enabled"] for v in versions[:consent]] == [False] * consent, "superseded: disabled"
    assert versions[-1]["attributes"]["enabled"] and versions[consent]["attributes"]["enabled"]
    assert versions[-1]["tags"]["signIn"] == versions[consent]["id"].rsplit("/", 1)[1], "a rotation of the new one"
