"""What the operator commands print of text they did not write (issue 21, finding 6): only printable characters, so
a parked message, a ledger row, a request file or an answer from Azure cannot clear, move or forge the terminal."""

from __future__ import annotations

import argparse
import json
from dataclasses import asdict
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from azure.core.exceptions import HttpResponseError, ResourceNotFoundError

from ops.replay_poison import _replay
from ops.send import send
from ops.status import render, summarize
from ops.storage import explained
from ops.terminal import shown

# Clear the screen and home the cursor; set the window title; forge a line of the command's own output; a C1 CSI;
# a right-to-left override that reorders what follows; a line separator; DEL.
HOSTILE = [
    "\x1b[2J\x1b[H",
    "\x1b]0;pwned\x07",
    "crm-1\r\ncustomer-requests-poison: 0 message(s) waiting",
    "\x9b31m",
    "crm-\u202eevil",
    "a\u2028b",
    "x\x7fy",
]


def printable(output: str) -> bool:
    """Every line of `output` holds printable characters only (str.isprintable: no control, format or separator
    character but the space)."""
    return all(line.isprintable() for line in output.split("\n"))


def test_a_request_id_is_shown_as_it_is_and_anything_else_escaped_and_quoted() -> None:
    assert shown("crm-7f3c2a9e-0001") == "crm-7f3c2a9e-0001"
    assert shown("dv:org.1:6a4b_2f1e") == "dv:org.1:6a4b_2f1e"
    assert shown("\x1b[2J") == "'\\x1b[2J'"
    assert shown("Göteborg 411 06") == "'Göteborg 411 06'"  # printable, but not the pattern: quoted
    assert shown("") == "''" and shown("x" * 129) == repr("x" * 129)
    assert shown(None) == "None" and shown(42) == "42" and shown({"a": 1}) == repr("{'a': 1}")


def test_no_character_of_unicode_reaches_the_terminal_unescaped() -> None:
    every = "".join(chr(c) for c in range(0x110000))
    assert printable(shown(every))


class Queue:
    """A queue client as the dry run uses it: a count and a peek (a missing queue raises as the SDK does)."""

    def __init__(self, texts: list[str] | None) -> None:
        self.texts = texts

    def get_queue_properties(self) -> Any:
        if self.texts is None:
            raise ResourceNotFoundError("The specified queue does not exist.")
        return SimpleNamespace(approximate_message_count=len(self.texts))

    def peek_messages(self, max_messages: int) -> list[Any]:
        return [SimpleNamespace(content=text) for text in (self.texts or [])[:max_messages]]

    def send_message(self, text: str) -> None:
        assert self.texts is not None
        self.texts.append(text)


class Storage:
    where = "http://127.0.0.1:10001/devstoreaccount1"
    connection_string = "UseDevelopmentStorage=true"  # the account key opens it: no role to check

    def __init__(self, queues: dict[str, Queue]) -> None:
        self.queues = queues

    def queue(self, name: str) -> Queue:
        return self.queues.setdefault(name, Queue(None))


def test_the_dry_run_shows_parked_request_ids_escaped(capsys: pytest.CaptureFixture[str]) -> None:
    parked = [json.dumps({"requestId": text}) for text in HOSTILE] + ['{"requestId": "crm-plain-1"}', "not json"]
    storage = Storage({"customer-requests-exhausted": Queue(parked)})
    args = argparse.Namespace(queue="customer-requests", dry_run=True, max=10)
    assert _replay(storage, args) == 0  # type: ignore[arg-type]
    out = capsys.readouterr().out
    assert printable(out) and len(out.splitlines()) == 3  # no line forged
    assert out.splitlines()[0].startswith("roles: storage is reached with a connection string")
    assert "'\\x1b[2J\\x1b[H'" in out and ", crm-plain-1, ?" in out  # a requestId as it is; none: "?"
    assert out.splitlines()[2] == "customer-requests-poison: no such queue, nothing waiting"


def test_status_shows_a_forged_reason_escaped_as_text_and_as_json() -> None:
    rows = [
        {"state": "failed", "outcome": "failed", "event_json": json.dumps({"data": {"reason": text}})}
        for text in HOSTILE
    ]
    status = summarize([*rows, {"state": "failed", "event_json": '{"data": {"reason": "domain_unavailable"}}'}], {})
    assert "domain_unavailable" in status.failed  # a real reason is kept as it is
    text = render(status, "customer-requests", now=0.0)
    assert printable(text) and len(text.splitlines()) == 5 + 1 + len(HOSTILE) + 2
    assert printable(json.dumps(asdict(status), indent=2))


def test_send_shows_the_files_request_id_escaped(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    queue = Queue([])
    files = [(tmp_path / "r.json", "{}", text) for text in HOSTILE]
    assert send(Storage({"customer-requests": queue}), "customer-requests", files) == 0  # type: ignore[arg-type]
    out = capsys.readouterr().out
    assert printable(out) and len(out.splitlines()) == len(HOSTILE) and len(queue.texts or []) == len(HOSTILE)


def test_an_error_code_from_storage_is_shown_escaped() -> None:
    answer = HttpResponseError("refused")
    answer.status_code = 409
    answer.error_code = "\x1b[2JQueueBeingDeleted"  # type: ignore[attr-defined]  # set by the storage SDKs
    assert printable(explained(answer)) and "'\\x1b[2JQueueBeingDeleted'" in explained(answer)
