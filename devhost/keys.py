"""The local host's function keys, as the Functions host keeps them: a master key, the host key `default` (opens every
function), and one function-level key per route family (opens its own function only: docs/security.md). Fresh for
each stack, in files under .local/ (mode 600, never committed), each key also as a header line for `curl -H @file`
so that a command line never shows it."""

from __future__ import annotations

import json
import secrets
from pathlib import Path

LOCAL = Path(__file__).resolve().parent.parent / ".local"
# The HTTP functions by route family, each with a function key of its own.
ROUTE_FAMILIES = {
    "intake": "accept_customer_request",
    "status": "get_customer_request",
    "validate": "validate_customer_request",
    "dataverse": "accept_dataverse_webhook",
    "salesforce": "accept_salesforce_message",
}


def new_keys() -> tuple[str, dict[str, str]]:
    """A host key and a function key per route family."""
    return secrets.token_urlsafe(32), {family: secrets.token_urlsafe(32) for family in ROUTE_FAMILIES}


def key_header_file(port: int, family: str | None = None) -> Path:
    """The header-line file of the host key (family None) or of one route family's key."""
    return LOCAL / f"function-key-{port}{f'-{family}' if family else ''}.header"


def write_keys(port: int, host_key: str, route_keys: dict[str, str]) -> Path:
    """Write the keys file the local host reads (--keys-file) and the header lines; returns the keys file."""
    path = LOCAL / f"function-keys-{port}.json"
    keys = {
        "masterKey": secrets.token_urlsafe(32),
        "functionKeys": {"default": host_key},
        "functions": {function: {family: route_keys[family]} for family, function in ROUTE_FAMILIES.items()},
    }
    files = [(path, json.dumps(keys)), (key_header_file(port), f"x-functions-key: {host_key}")]
    files += [(key_header_file(port, family), f"x-functions-key: {key}") for family, key in route_keys.items()]
    for file, text in files:
        file.touch(mode=0o600)
        file.write_text(text)
    return path


def remove_keys(port: int, route_keys: dict[str, str]) -> None:
    """Remove a stopped stack's key files."""
    (LOCAL / f"function-keys-{port}.json").unlink(missing_ok=True)
    for family in (None, *route_keys):
        key_header_file(port, family).unlink(missing_ok=True)
