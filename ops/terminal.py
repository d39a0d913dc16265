"""What an operator command may print of data it did not write itself: a parked message's requestId, a ledger row's
reason, a request file's requestId, an answer from Azure. Such text can hold escape sequences that clear, move or
recolour the terminal, or forge lines of output; it is printed through `shown` only."""

from __future__ import annotations

import re

_PLAIN = re.compile(r"[A-Za-z0-9._:-]{1,128}")  # contract §1's requestId pattern: nothing a terminal acts on


def shown(value: object) -> str:
    """`value` as safe to print: text of the requestId pattern as it is, anything else as Python's repr of it (in
    quotes, with backslashes, control characters and every other unprintable character escaped)."""
    text = value if isinstance(value, str) else str(value)
    return text if _PLAIN.fullmatch(text) else repr(text)
