"""The leak scan: does any secret the emulator generated or issued (or one a test planted) appear in what the stack
wrote — the logs of its processes (the local host's output included: it reports an escaping exception there as the
Functions host does, outside the app's log redaction), the events it published, or the ledger rows it stored?"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

from azure.core.exceptions import ResourceNotFoundError
from azure.data.tables import TableClient

LEDGER_TABLE = "onboardingledger"


def secrets_of(emulator_secrets: dict[str, Any]) -> list[str]:
    """Every value from the emulator's /_emulator/secrets that must never appear anywhere."""
    values: list[str] = []
    for value in emulator_secrets.values():
        values.extend(value if isinstance(value, list) else [value])
    return [v for v in values if isinstance(v, str) and len(v) >= 8]


def find_leaks(texts: Iterable[str], secrets: Iterable[str]) -> list[str]:
    """The secrets found in the texts, shown masked (first 4 characters) so the report leaks nothing itself."""
    haystack = "\n".join(texts)
    return sorted({f"{s[:4]}…({len(s)} chars)" for s in secrets if s in haystack})


def ledger_rows(stack: Any) -> list[str]:
    """Every row of the stack's ledger table, as text."""
    table = stack.env.get("ONBOARDING_LEDGER_TABLE", LEDGER_TABLE)
    trust = str(stack.ca_file)  # the stack's CA bundle (Azurite over HTTPS, for an Entra stack)
    connection = stack.env["AzureWebJobsStorage"]
    with TableClient.from_connection_string(connection, table_name=table, connection_verify=trust) as client:
        try:
            return [json.dumps(dict(row), default=str, ensure_ascii=False) for row in client.list_entities()]
        except ResourceNotFoundError:  # no request reached the ledger yet
            return []


def written_by(stack: Any) -> list[str]:
    """Everything the stack wrote: every log file, every published event, every ledger row."""
    texts = [p.read_text(errors="replace") for p in stack.log_dir.glob("*.log")]
    texts.append(json.dumps(stack.events(), ensure_ascii=False))
    texts.extend(ledger_rows(stack))
    return texts


def scan_stack(stack: Any, planted: Iterable[str] = ()) -> list[str]:
    """The emulator's secrets, and any planted by a test, found in what the stack wrote."""
    return find_leaks(written_by(stack), [*secrets_of(stack.admin("GET", "secrets")), *planted])


def stop_after_scan(stack: Any) -> None:
    """A fixture's teardown: fail if anything leaked, and stop the stack in any case."""
    try:
        assert scan_stack(stack) == [], "a secret leaked into a log, an event or a ledger row"
    finally:
        stack.stop()
