"""Structured logs: the request's identifiers ride on every record of an invocation as dimensions."""

from __future__ import annotations

import logging
import traceback
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from pathlib import Path
from typing import Any

log = logging.getLogger("csp_onboarding")

_context: ContextVar[dict[str, Any]] = ContextVar("onboarding_log_context", default={})  # noqa: B039

DIMENSIONS = ("requestId", "crmAccountId", "correlationId", "msRequestId", "outcome")


@contextmanager
def log_context(**fields: Any) -> Iterator[None]:
    """Attach fields (requestId, crmAccountId, …) to every record logged inside the block, in this task."""
    token = _context.set({**_context.get(), **{k: v for k, v in fields.items() if v is not None}})
    try:
        yield
    finally:
        _context.reset(token)


def bind(**fields: Any) -> None:
    """Add fields to the current block's context (e.g. the outcome once known)."""
    _context.set({**_context.get(), **{k: v for k, v in fields.items() if v is not None}})


class ContextFilter(logging.Filter):
    """Copies the current context onto each record as attributes (exported as custom dimensions)."""

    def filter(self, record: logging.LogRecord) -> bool:
        for key, value in _context.get().items():
            if not hasattr(record, key):
                setattr(record, key, value)
        return True


def where_raised(exc: BaseException) -> str:
    """An exception named by its type and where it was raised, never by its text (a library's message can quote its
    input): `ValueError raised in parse (mapping.py:120)`."""
    frames = traceback.extract_tb(exc.__traceback__)
    if not frames:
        return type(exc).__name__
    last = frames[-1]
    return f"{type(exc).__name__} raised in {last.name} ({Path(last.filename).name}:{last.lineno})"


def install_context_filter(logger: logging.Logger = log) -> None:
    """Install the context filter, once each, on the project's logger and on every handler of the root logger.

    The Functions worker exports from a handler on the root logger, so records of any library (Azure SDK, aiohttp,
    MSAL) logged inside an invocation carry the request's dimensions there too. A logger's own filters see only
    the records logged to that very logger, a handler's see every record it handles; a handler filter runs after
    `extra=` is applied, so an explicit value (e.g. outcome="retry") wins over the context's.
    """
    for target in (logger, *logging.getLogger().handlers):
        if not any(isinstance(f, ContextFilter) for f in target.filters):
            target.addFilter(ContextFilter())
