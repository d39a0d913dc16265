"""The leak scan: does any secret the emulator generated or issued appear in what the stack logged or published?"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any


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


def scan_stack(stack: Any) -> list[str]:
    """Scan every log file of a running stack and every event it published."""
    texts = [p.read_text(errors="replace") for p in stack.log_dir.glob("*.log")]
    texts.append(json.dumps(stack.events()))
    return find_leaks(texts, secrets_of(stack.admin("GET", "secrets")))


def stop_after_scan(stack: Any) -> None:
    """A fixture's teardown: fail if anything leaked, and stop the stack in any case."""
    try:
        assert scan_stack(stack) == [], "a secret leaked into a log or an event"
    finally:
        stack.stop()
