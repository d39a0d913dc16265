"""Hostile input through the real stack (issue 14): requests that used to poison the worker, and malformed 201s
carrying a planted password, each end in one `failed` event; the password is in no log, host output, event or
ledger row."""

from __future__ import annotations

import json
import os
import secrets
import signal
import subprocess
import sys
import time
from typing import Any

import pytest

from devhost.hostjson import timing_overrides
from devhost.stack import ROOT, Stack
from tests.fakes import sample
from tests.fakes.malformed_answers import PLANTED, PLANTED_NUMBER, SHAPES
from tests.integration.conftest import Harness
from tests.leak_scan import scan_stack

pytestmark = pytest.mark.integration


def request(tag: str) -> dict[str, Any]:
    data = sample("se-wingtip-toys")
    data["requestId"] = f"hostile-{tag}"
    data["customer"]["domainPrefix"] = f"hostile{tag}"
    return data


def with_raw(data: dict[str, Any], field: str, raw_json: str) -> str:
    """The message text with `field` holding raw JSON (what json.dumps would not write)."""
    data[field] = "@@raw@@"
    return json.dumps(data).replace('"@@raw@@"', raw_json)


def test_requests_that_poisoned_the_worker_each_get_one_failed_event(harness: Harness) -> None:
    tag = secrets.token_hex(3)
    cases = {  # the field each refusal must name
        "crmAccountId": with_raw(request(f"{tag}a"), "crmAccountId", "9" * 4400),
        "requestId": with_raw(request(f"{tag}b"), "requestId", '"crm-\\ud83d"'),
        "correlationId": with_raw(request(f"{tag}c"), "correlationId", '"c-\\udc00"'),
        "customer.companyName": json.dumps(
            {**request(f"{tag}d"), "customer": {**request(tag)["customer"], "companyName": "\u200b\u200b"}}
        ),
    }
    for text in cases.values():
        harness.enqueue(text)
    events = harness.wait_for_events(len(cases), timeout=30)
    harness.settle()
    events = harness.stack.events()
    assert len(events) == len(cases), [e["data"].get("errors") for e in events]
    named = sorted(e["data"]["errors"][0]["field"] for e in events)
    assert named == sorted(cases)
    assert {(e["data"]["reason"], e["data"]["retryable"]) for e in events} == {("invalid_request", False)}
    assert all(len(e["data"]["errors"]) == 1 for e in events)
    assert harness.calls("customers.create") == []
    assert harness.queue_length(harness.queue) == 0
    assert harness.queue_length(harness.poison) == 0


def test_a_malformed_201_leaks_its_password_nowhere_and_ends_in_one_failed_event(
    stack: Stack, harness: Harness
) -> None:
    tag = secrets.token_hex(3)
    queue_name = f"malformed-{tag}"
    queue = stack.queue(queue_name)
    for shape in range(len(SHAPES)):
        data = sample("se-wingtip-toys")
        data["requestId"] = f"malformed-{tag}-{shape}"
        data["customer"]["domainPrefix"] = f"malformed{shape}{tag}"
        queue.send_message(json.dumps(data))
    host_log = stack.log_dir / f"host-{queue_name}.log"
    env = {
        **os.environ, **stack.env, **timing_overrides(visibility_timeout=1, max_dequeue_count=2),
        "CUSTOMER_REQUESTS_QUEUE": queue_name, "PYTHONUNBUFFERED": "1",
    }  # fmt: skip
    with host_log.open("ab") as output:
        host = subprocess.Popen(
            [sys.executable, "-m", "devhost", "--app", "tests.integration.app_malformed_answers",
             "--max-polling-interval", "0.2", "--lease-seconds", "30"],
            cwd=ROOT, env=env, stdout=output, stderr=subprocess.STDOUT,
        )  # fmt: skip
        try:
            events = harness.wait_for_events(
                len(SHAPES), where=lambda e: str(e["data"]["requestId"]).startswith(queue_name), timeout=90
            )
            time.sleep(0.5)  # the poison function parks after publishing
        finally:
            host.send_signal(signal.SIGTERM)
            host.wait(timeout=30)
    assert sorted(e["data"]["requestId"] for e in events) == sorted(f"{queue_name}-{n}" for n in range(len(SHAPES)))
    assert {e["data"]["reason"] for e in events} == {"retries_exhausted"}  # retried, never reported refused
    reported = host_log.read_text(errors="replace")
    assert reported.count("Executed 'Functions.onboard_customer' (Failed") == 2 * len(SHAPES)  # each delivery
    assert "could not be read: id is missing" in reported
    assert "could not be read: userCredentials.password is not a string" in reported
    assert harness.calls("customers.create") == []  # the create never reached the emulator: answered by the app
    assert scan_stack(stack, planted=[PLANTED, str(PLANTED_NUMBER)]) == []
