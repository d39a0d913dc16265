"""Console output of the local host: log lines with their dimensions, and failed invocations as the host reports them.

Nothing printed here carries a raw control character: request ids come from untrusted producers, and an ESC
sequence or a CR LF in one would drive the terminal or forge a log line.
"""

from __future__ import annotations

import json
import logging
import sys
import traceback
import unicodedata
from datetime import UTC, datetime
from typing import Any, TextIO

from handlers.api import quiet_noisy_loggers

_SHOWN = ("requestId", "crmAccountId", "correlationId", "msRequestId", "msCorrelationId", "outcome", "httpStatus")


def _escaped(char: str) -> str:
    return char.encode("unicode_escape", "backslashreplace").decode("ascii")


def printable(text: str, *, keep_newlines: bool = False) -> str:
    """The text with every control, separator or format character other than a space escaped (`\\x1b`), and lone
    surrogates too; line feeds kept when asked (a traceback's lines)."""
    if text.isprintable():
        return text
    return "".join(
        char
        if char.isprintable() or (keep_newlines and char == "\n") or unicodedata.category(char) in ("Zs", "Mn")
        else _escaped(char)
        for char in text
    )


class DimensionFormatter(logging.Formatter):
    """`time level logger message {dimensions}`: the same dimensions Application Insights receives."""

    def formatMessage(self, record: logging.LogRecord) -> str:
        return printable(super().formatMessage(record))

    def formatException(self, ei: Any) -> str:
        return printable(super().formatException(ei), keep_newlines=True)

    def format(self, record: logging.LogRecord) -> str:
        line = super().format(record)
        dims = {k: getattr(record, k) for k in _SHOWN if getattr(record, k, None) is not None}
        return f"{line} {printable(json.dumps(dims, separators=(',', ':'), default=str))}" if dims else line


def configure_console_logging(level: str = "INFO") -> None:
    """Log to stderr with dimensions; quiet the HTTP libraries."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(DimensionFormatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    quiet_noisy_loggers()


def report_failed_invocation(
    function: str, invocation_id: str, delivery: int | None, exc: BaseException, stream: TextIO | None = None
) -> None:
    """An exception that ended an invocation, written as the Functions host reports it, straight to the host's
    output and not through Python logging (so the app's log redaction never sees it, as in Azure):

    - the Python worker sends the host `f"{type(exc).__name__}: {exc}"` and the traceback
      (azure-functions-python-worker `Dispatcher._serialize_exception`; the newer runtime library formats the whole
      exception chain with `traceback.format_exception`, which is what is written here);
    - the host wraps them as `Result: Failure / Exception: … / Stack: …` (azure-functions-host `RpcException`, whose
      `Sanitizer` masks only connection-string tokens such as `Password=` or `AccountKey=`) and logs that at Error
      under "Executed 'Functions.{name}' (Failed, Id=…)" (azure-webjobs-sdk `FunctionInstanceLogger`).
    """
    try:
        message = f"{type(exc).__name__}: {exc}"
    except Exception:  # an exception whose str() raises: the worker says so too
        message = "Unhandled exception in function. Could not serialize original exception message."
    stack = "".join(traceback.format_exception(exc))
    now = datetime.now(UTC).isoformat(timespec="milliseconds")
    report = (
        f"{now} ERROR host: Executed 'Functions.{function}' (Failed, Id={invocation_id}, Delivery={delivery})\n"
        f"Result: Failure\nException: {message}\nStack: {stack}"
    )
    out = stream if stream is not None else sys.stderr
    out.write(printable(report, keep_newlines=True).rstrip("\n") + "\n")
    out.flush()
