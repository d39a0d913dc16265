"""The operator commands without a storage account: where they connect, how they count, what they print."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import pytest
from azure.core.exceptions import ClientAuthenticationError, HttpResponseError
from azure.identity import DefaultAzureCredential

from ops.send import read_request
from ops.status import Status, render, summarize
from ops.storage import add_storage_arguments, explained, service_url, storage_from

ROOT = Path(__file__).resolve().parents[3]
ACCOUNT = "https://stcsponboard.queue.core.windows.net"


def parse(argv: list[str]) -> tuple[argparse.Namespace, argparse.ArgumentParser]:
    parser = argparse.ArgumentParser()
    add_storage_arguments(parser)
    return parser.parse_args(argv), parser


def test_an_account_url_signs_in_with_entra_and_reaches_its_queues_and_table(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CrmQueue", raising=False)
    storage = storage_from(*parse(["--account-url", ACCOUNT]))
    try:
        assert isinstance(storage.credential, DefaultAzureCredential)
        assert storage.queue("customer-requests-exhausted").url == f"{ACCOUNT}/customer-requests-exhausted"
        table = storage.table("onboardingledger")
        assert table.url.startswith("https://stcsponboard.table.core.windows.net")
        assert table.credential is storage.credential
        assert storage.where == ACCOUNT
    finally:
        storage.close()


def test_the_deployed_setting_names_the_account_when_no_option_does(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CrmQueue", raising=False)
    monkeypatch.setenv("CrmQueue__queueServiceUri", ACCOUNT + "/")
    storage = storage_from(*parse([]))
    assert storage.queue_url == ACCOUNT and storage.connection_string is None
    storage.close()


def test_a_connection_string_is_used_as_given_and_never_shown(monkeypatch: pytest.MonkeyPatch) -> None:
    key = "bm90LWEtcmVhbC1rZXktanVzdC1hLXRlc3Q="
    connection = (
        f"DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;AccountKey={key};"
        "QueueEndpoint=http://127.0.0.1:10001/devstoreaccount1;TableEndpoint=http://127.0.0.1:10002/devstoreaccount1;"
    )
    monkeypatch.setenv("CrmQueue__queueServiceUri", ACCOUNT)
    storage = storage_from(*parse(["--connection-string", connection]))
    assert storage.queue("q").url == "http://127.0.0.1:10001/devstoreaccount1/q"
    assert storage.where == "http://127.0.0.1:10001/devstoreaccount1" and key not in storage.where


@pytest.mark.parametrize(
    ("url", "service", "expected"),
    [
        ("https://acct.queue.core.windows.net", "table", "https://acct.table.core.windows.net"),
        ("https://acct.blob.core.usgovcloudapi.net/", "queue", "https://acct.queue.core.usgovcloudapi.net"),
        ("https://acct.table.core.chinacloudapi.cn", "queue", "https://acct.queue.core.chinacloudapi.cn"),
    ],
)
def test_service_urls_follow_the_cloud(url: str, service: str, expected: str) -> None:
    assert service_url(url, service) == expected


def test_a_url_that_names_no_account_is_refused_before_any_call(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("CrmQueue", raising=False)
    with pytest.raises(SystemExit):
        storage_from(*parse(["--account-url", "http://127.0.0.1:10001/devstoreaccount1"]))
    assert "not a storage account URL" in capsys.readouterr().err


def test_no_account_at_all_is_a_usage_error(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("CrmQueue", "CrmQueue__queueServiceUri"):
        monkeypatch.delenv(name, raising=False)
    with pytest.raises(SystemExit):
        storage_from(*parse([]))


def test_refusals_are_explained_with_what_to_do() -> None:
    assert "az login" in explained(ClientAuthenticationError("no credential"))
    forbidden = HttpResponseError("This request is not authorized")
    forbidden.status_code = 403
    assert "operator roles" in explained(forbidden)


NOW = 1_800_000_000.0


def row(state: str, *, reason: str | None = None, exhausted: str | None = None, updated: float = NOW) -> dict:
    event = (
        None if reason is None else json.dumps({"type": "csp.onboarding.customer.failed", "data": {"reason": reason}})
    )
    outcome = state if state in ("created", "failed") else None
    return {"state": state, "outcome": outcome, "event_json": event, "exhausted_from": exhausted, "updated_at": updated}


def test_the_ledger_is_counted_by_where_each_request_stands() -> None:
    rows = [
        row("created"),
        row("created"),
        row("failed", reason="domain_unavailable"),
        row("failed", reason="retries_exhausted", exhausted="creating"),
        row("failed", exhausted="creating"),  # an event without a reason: the row still says where it stopped
        row("failed", reason="domain_unavailable"),
        row("creating", updated=NOW - 300),
        row("received", updated=NOW - 30),
    ]
    status = summarize(rows, {"queued": 4, "poison": 0, "parked": None})
    assert (status.requests, status.created, status.in_flight) == (8, 2, 2)
    assert status.failed == {"domain_unavailable": 2, "retries_exhausted": 2}
    assert status.oldest_in_flight == NOW - 300


def test_the_report_shows_every_figure_and_where_to_act() -> None:
    status = Status(
        queues={"queued": 12, "poison": 0, "parked": 3},
        requests=57,
        in_flight=2,
        oldest_in_flight=NOW - 125,
        created=48,
        failed={"invalid_request": 4, "retries_exhausted": 3},
    )
    text = render(status, "customer-requests", now=NOW)
    lines = text.splitlines()
    assert lines[0].split()[:3] == ["queued", "12", "customer-requests"]
    assert lines[2].split()[:3] == ["parked", "3", "customer-requests-exhausted"] and "ops.replay_poison" in lines[2]
    assert "in flight      2" in text and "oldest claimed 2 min ago" in text
    assert any(line.split() == ["failed", "7"] for line in lines)
    assert any(line.split()[:2] == ["3", "retries_exhausted"] for line in lines)
    assert lines[-1] == "ledger: 57 request(s)"


def test_missing_queues_and_ledger_are_reported_not_fatal() -> None:
    text = render(Status(queues={"queued": None, "poison": None, "parked": None}, ledger_found=False), "q")
    assert text.count("no such queue yet") == 3 and "ledger: no table yet" in text


def test_send_reads_a_sample_and_refuses_what_is_no_request(tmp_path: Path) -> None:
    text, request_id = read_request(ROOT / "samples" / "requests" / "se-wingtip-toys.json")
    assert request_id == "crm-se-0001" and json.loads(text)["requestId"] == request_id
    (tmp_path / "list.json").write_text("[1, 2]")
    (tmp_path / "big.json").write_text(json.dumps({"requestId": "x", "pad": "x" * 70_000}))
    for name in ("list.json", "big.json"):
        with pytest.raises(ValueError, match=name):
            read_request(tmp_path / name)


def test_the_readme_shows_what_status_prints() -> None:
    readme = (ROOT / "docs" / "operating.md").read_text()
    section = readme[readme.index("### Status") :]
    block = section[section.index("```\n") + 4 : section.index("\n```", section.index("```\n") + 4)]
    status = Status(
        queues={"queued": 1, "poison": 0, "parked": 2},
        requests=8,
        in_flight=1,
        oldest_in_flight=NOW - 3,
        created=3,
        failed={"retries_exhausted": 2, "domain_unavailable": 1, "address_invalid": 1},
    )
    assert block.splitlines()[1:] == render(status, "customer-requests", now=NOW).splitlines()
