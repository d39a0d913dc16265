"""Each credential option end to end, Event Grid with Entra, Key Vault for the admin password, wrong credentials."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from devhost.stack import Stack
from tests.fakes import sample
from tests.integration.conftest import FAST_RETRIES, Harness
from tests.leak_scan import scan_stack, stop_after_scan

pytestmark = pytest.mark.integration

FAST = ["--max-polling-interval", "0.2"]


def started(tmp_path: Path, **options: object) -> Stack:
    return Stack(log_dir=tmp_path, host_args=FAST, extra_env=FAST_RETRIES, **options).start()  # type: ignore[arg-type]


@pytest.fixture(scope="module")
def federated_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    """Secretless: a federated managed-identity assertion, Event Grid with Entra, a Key Vault for passwords."""
    stack = started(tmp_path_factory.mktemp("federated"), credential="federated", events_auth="entra", vault=True)
    yield stack
    stop_after_scan(stack)


@pytest.fixture(scope="module")
def certificate_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    stack = started(tmp_path_factory.mktemp("certificate"), credential="certificate")
    yield stack
    stop_after_scan(stack)


def onboard_one(stack: Stack, tag: str) -> dict[str, object]:
    harness = Harness(stack)
    request = sample()
    request["requestId"] = f"crm-id-{tag}"
    request["customer"]["domainPrefix"] = f"identity{tag}"
    harness.enqueue(request)
    [event] = harness.wait_for_events(1, where=lambda e: e["data"]["requestId"] == request["requestId"])
    return event


def test_the_certificate_credential_works_end_to_end(certificate_stack: Stack) -> None:
    assert "PARTNER_CENTER_CLIENT_SECRET" not in certificate_stack.env
    event = onboard_one(certificate_stack, "cert")
    assert event["type"] == "csp.onboarding.customer.created"
    assert certificate_stack.admin("GET", "state")["counters"].get("token_refusals", 0) == 0


def test_secretless_federated_credential_event_grid_with_entra_and_the_vault(federated_stack: Stack) -> None:
    env = federated_stack.env
    assert "PARTNER_CENTER_CLIENT_SECRET" not in env and "PARTNER_CENTER_CLIENT_CERTIFICATE_PATH" not in env
    assert "EVENTS_TOPIC_KEY" not in env
    event = onboard_one(federated_stack, "fed")
    assert event["type"] == "csp.onboarding.customer.created"
    counters = federated_stack.admin("GET", "state")["counters"]
    assert counters["mi_assertions_issued"] >= 1  # the Partner Center app signed in with the MI's assertion
    assert counters["mi_tokens_issued"] >= 2  # Event Grid and Key Vault tokens of the managed identity
    data = event["data"]
    secret_id = data["adminCredentialsSecretId"]  # type: ignore[index]
    assert secret_id == f"{federated_stack.emulator_url}/secrets/csp-admin-{data['customerId']}"  # type: ignore[index]
    vault = federated_stack.admin("GET", "vault")
    [stored] = vault[f"csp-admin-{data['customerId']}"]  # type: ignore[index]
    assert stored["value"] in federated_stack.admin("GET", "secrets")["passwords"]
    assert stored["contentType"] == "application/vnd.csp-onboarding.customer-admin-password"
    assert stored["tags"]["customerId"] == data["customerId"]  # type: ignore[index]
    assert stored["attributes"]["exp"] > stored["attributes"]["created"]
    assert stored["value"] not in json.dumps(event)


def test_a_redelivered_request_keeps_one_secret_id(federated_stack: Stack) -> None:
    first = onboard_one(federated_stack, "again")
    Harness(federated_stack).enqueue(
        {**sample(), "requestId": "crm-id-again", "customer": {**sample()["customer"], "domainPrefix": "identityagain"}}
    )
    events = Harness(federated_stack).wait_for_events(2, where=lambda e: e["data"]["requestId"] == "crm-id-again")
    assert len(events) == 2
    assert events[1]["data"]["adminCredentialsSecretId"] == first["data"]["adminCredentialsSecretId"]  # type: ignore[index]


def test_a_wrong_secret_fails_clearly_without_a_retry_storm(tmp_path: Path) -> None:
    stack = Stack(
        log_dir=tmp_path,
        host_args=FAST,
        extra_env={**FAST_RETRIES, "PARTNER_CENTER_CLIENT_SECRET": "not-the-secret-at-all"},
    ).start()
    try:
        harness = Harness(stack)
        for tag in ("w1", "w2", "w3"):
            request = sample()
            request["requestId"] = f"crm-wrong-{tag}"
            harness.enqueue(request)
        events = harness.wait_for_events(3)
        harness.settle(2.0)
        assert {e["data"]["reason"] for e in events} == {"not_authorized"}
        assert all(e["data"]["retryable"] is True for e in events)
        assert "invalid_client" in events[0]["data"]["message"]
        refusals = stack.admin("GET", "state")["counters"]["token_refusals"]
        assert refusals == 1  # one token request in all: the refusal is remembered for a while, never retried
        assert harness.calls("customers.create") == []
        assert harness.queue_length(harness.poison) == 0
        assert scan_stack(stack) == []
    finally:
        stack.stop()
