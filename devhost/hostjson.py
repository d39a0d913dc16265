"""host.json's queue settings, read with the Functions host's defaults."""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from handlers.api import parse_timespan

# One TimeSpan parser for the app's timing model and this host: both read the same host.json values.
timespan_seconds = parse_timespan


@dataclass(frozen=True)
class QueueOptions:
    """extensions.queues of host.json (defaults as documented for the Storage queues extension 5.x)."""

    message_encoding: str = "base64"
    max_dequeue_count: int = 5
    visibility_timeout: float = 0.0
    batch_size: int = 16
    new_batch_threshold: int = 8
    max_polling_interval: float = 60.0
    function_timeout: float = 300.0

    def with_overrides(self, **overrides: Any) -> QueueOptions:
        """A copy with the non-None overrides applied (for tests and benchmarks)."""
        return replace(self, **{k: v for k, v in overrides.items() if v is not None})


OVERRIDE_PREFIX = "AzureFunctionsJobHost__"


def apply_overrides(data: dict[str, Any], env: Mapping[str, str]) -> dict[str, Any]:
    """host.json with its app-setting overrides applied, as the host does: a setting named
    `AzureFunctionsJobHost__extensions__queues__visibilityTimeout` replaces that value (the host's configuration
    reads app settings with that prefix over host.json; docs: functions-host-json, "Override host.json values")."""
    merged = json.loads(json.dumps(data))
    for name, value in env.items():
        if not name.startswith(OVERRIDE_PREFIX):
            continue
        *parents, leaf = name[len(OVERRIDE_PREFIX) :].split("__")
        node = merged
        for key in parents:
            node = node.setdefault(key, {})
        node[leaf] = value
    return merged


def load_queue_options(path: Path, env: Mapping[str, str] | None = None) -> QueueOptions:
    """Read host.json and its app-setting overrides; raises ValueError for values the real host would reject."""
    data = apply_overrides(json.loads(path.read_text(encoding="utf-8")), os.environ if env is None else env)
    queues = (data.get("extensions") or {}).get("queues") or {}
    batch_size = int(queues.get("batchSize", 16))
    options = QueueOptions(
        message_encoding=str(queues.get("messageEncoding", "base64")).lower(),
        max_dequeue_count=int(queues.get("maxDequeueCount", 5)),
        visibility_timeout=timespan_seconds(queues["visibilityTimeout"]) if "visibilityTimeout" in queues else 0.0,
        batch_size=batch_size,
        new_batch_threshold=int(queues.get("newBatchThreshold", batch_size // 2)),
        max_polling_interval=timespan_seconds(queues.get("maxPollingInterval", "00:01:00")),
        function_timeout=timespan_seconds(data.get("functionTimeout", "00:05:00")),
    )
    if options.message_encoding not in ("base64", "none"):
        raise ValueError("extensions.queues.messageEncoding must be base64 or none")
    if not 1 <= options.batch_size <= 32:
        raise ValueError("extensions.queues.batchSize must be 1..32")
    return options


def timing_overrides(
    *, visibility_timeout: float, max_dequeue_count: int | None = None, function_timeout: float | None = None
) -> dict[str, str]:
    """App settings overriding host.json's retry timing, for stacks that must retry faster than production. The
    host (local or real) and the app's timing model both read them."""
    queues = f"{OVERRIDE_PREFIX}extensions__queues__"
    settings = {f"{queues}visibilityTimeout": _timespan(visibility_timeout)}
    if max_dequeue_count is not None:
        settings[f"{queues}maxDequeueCount"] = str(max_dequeue_count)
    if function_timeout is not None:
        settings[f"{OVERRIDE_PREFIX}functionTimeout"] = _timespan(function_timeout)
    return settings


def _timespan(seconds: float) -> str:
    whole, fraction = divmod(seconds, 1)
    minutes, secs = divmod(int(whole), 60)
    hours, minutes = divmod(minutes, 60)
    text = f"{hours:02d}:{minutes:02d}:{secs:02d}"
    return f"{text}.{round(fraction * 1000):03d}" if fraction else text
