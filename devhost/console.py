"""Console logging for local runs: each line shows the record's dimensions (requestId, outcome, …)."""

from __future__ import annotations

import json
import logging
import sys

from handlers.telemetry import quiet_noisy_loggers

_SHOWN = ("requestId", "crmAccountId", "correlationId", "msRequestId", "msCorrelationId", "outcome", "httpStatus")


class DimensionFormatter(logging.Formatter):
    """`time level logger message {dimensions}`: the same dimensions Application Insights receives."""

    def format(self, record: logging.LogRecord) -> str:
        line = super().format(record)
        dims = {k: getattr(record, k) for k in _SHOWN if getattr(record, k, None) is not None}
        return f"{line} {json.dumps(dims, separators=(',', ':'))}" if dims else line


def configure_console_logging(level: str = "INFO") -> None:
    """Log to stderr with dimensions; quiet the HTTP libraries."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(DimensionFormatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    quiet_noisy_loggers()
