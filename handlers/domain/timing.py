"""The timing model: every duration the pipeline lives by, derived from the queue's retry settings in host.json.

The Functions host delivers a failed message again `visibilityTimeout` (V) after the failure, at most
`maxDequeueCount` (N) times, then moves it to the poison queue; it cancels an invocation after `functionTimeout`.
So a request has a retry window of W = V × (N − 1) from its first failure to its last delivery. From that:

- an **invocation** ends (as a transient failure) after T = min(3/4 × W, 0.9 × functionTimeout): before the host
  would kill it, and short enough that a delivery stuck behind its claim still has a delivery left;
- a **claim** holds the request for the lease L = T + W / 8: it outlives its invocation (an invocation cannot
  lose its claim while it runs), yet ends at least W / 8 before the window does, so a duplicate delivered at the
  same moment as a delivery whose process then died finds the claim expired on its last delivery at the latest;
- each **round** of calls (pre-flight, create, the vault, the publish) may retry for T / 4 of call time. Waiting for a
  pacer slot is not call time: it counts against the invocation, never against a round's retries;
- a **Retry-After** is believed up to 60 s (RETRY_AFTER_CEILING; Partner Center's throttling page shows "Try again in
  57 seconds"), and never longer than T: one answer of `86400` or `inf` must not stall a worker for a day.

Durations that are facts of Partner Center or of this app rather than of host.json live on the model too (the
listing-lag window, the HTTP intake's windows), so that each has one home and tests pass a model instead of
patching globals.

App settings override host.json as the host itself allows (`AzureFunctionsJobHost__extensions__queues__...`), so the
app and its host always read the same numbers.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

HOST_JSON = Path(__file__).resolve().parents[2] / "host.json"
ROUNDS = 4  # pre-flight, create, vault, publish
RETRY_AFTER_CEILING = 60.0
_OVERRIDE = "AzureFunctionsJobHost__"
# The Storage queues extension's defaults (QueuesOptions) and the Flex Consumption default function timeout.
_DEFAULTS = {"visibilityTimeout": "00:00:00", "maxDequeueCount": 5, "functionTimeout": "00:30:00"}


def parse_timespan(value: str | float | int) -> float:
    """A .NET TimeSpan ("00:00:30", "1.00:00:00") or a plain number, in seconds; raises ValueError."""
    if isinstance(value, (int, float)):
        return float(value)
    match = re.fullmatch(r"(?:(\d+)\.)?(\d{1,2}):(\d{2}):(\d{2}(?:\.\d+)?)", value.strip())
    if not match:
        raise ValueError(f"not a TimeSpan: {value!r}")
    days, hours, minutes, seconds = match.groups()
    return int(days or 0) * 86400 + int(hours) * 3600 + int(minutes) * 60 + float(seconds)


@dataclass(frozen=True)
class TimingModel:
    """The queue's retry settings and every duration derived from them (see the module docstring)."""

    visibility_timeout: float
    max_dequeue_count: int
    function_timeout: float
    # A "domain taken" may still be our own tenant missing from the listing this long after the first create: well
    # over Partner Center's ~90 s read lag (partner-center.md, "Reads lag writes").
    listing_lag_window: float = 300.0
    # The HTTP intake: a request with no trace in the ledger this long after it was enqueued is taken as lost (sent
    # again); a row taken to send this long ago belongs to a sender that died (taken over); a caller waits this long
    # for another one's send of the same content, looking every `intake_poll`; a 503 asks for a resend after this.
    intake_lost_after: float = 3600.0
    intake_takeover_after: float = 30.0
    intake_wait: float = 2.0
    intake_poll: float = 0.05
    intake_retry_after: float = 30.0
    # How long a CRM record's storing is retried within the request before a 503: well under Dataverse's 60 s timeout.
    intake_store_budget: float = 10.0

    def __post_init__(self) -> None:
        if self.max_dequeue_count < 2 or self.visibility_timeout <= 0 or self.function_timeout <= 0:
            raise ValueError("host.json needs maxDequeueCount >= 2, and visibilityTimeout and functionTimeout > 0")

    @property
    def retry_window(self) -> float:
        """W: from a request's first failed delivery to its last one, at the least."""
        return self.visibility_timeout * (self.max_dequeue_count - 1)

    @property
    def invocation_timeout(self) -> float:
        """T: an invocation still running after this ends as a transient failure."""
        return min(0.75 * self.retry_window, 0.9 * self.function_timeout)

    @property
    def lease(self) -> float:
        """L: how long a claim holds a request against other deliveries."""
        return self.invocation_timeout + self.retry_window / 8

    @property
    def round_budget(self) -> float:
        """Call time (attempts and backoff, not pacer waits) one round of calls may spend retrying."""
        return self.invocation_timeout / ROUNDS

    @property
    def max_retry_after(self) -> float:
        """The longest Retry-After believed; a longer one (`inf`, a far-future date) is cut to this."""
        return min(RETRY_AFTER_CEILING, self.invocation_timeout)

    def describe(self) -> dict[str, float]:
        """The derived numbers, for logs and docs."""
        return {
            "retryWindowSeconds": self.retry_window,
            "invocationTimeoutSeconds": self.invocation_timeout,
            "leaseSeconds": self.lease,
            "roundBudgetSeconds": self.round_budget,
            "maxRetryAfterSeconds": self.max_retry_after,
        }


def _setting(data: Mapping[str, Any], env: Mapping[str, str], *path: str) -> Any:
    """A host.json value, overridden by its `AzureFunctionsJobHost__a__b` app setting when one is set."""
    override = env.get(_OVERRIDE + "__".join(path))
    if override is not None:
        return override
    node: Any = data
    for key in path:
        node = node.get(key) if isinstance(node, Mapping) else None
    return node if node is not None else _DEFAULTS[path[-1]]


def load_timing(host_json: Path = HOST_JSON, env: Mapping[str, str] | None = None) -> TimingModel:
    """The timing model of this app's host.json and app settings; raises ValueError for unusable values."""
    env = os.environ if env is None else env
    data = json.loads(host_json.read_text(encoding="utf-8"))
    return TimingModel(
        visibility_timeout=parse_timespan(_setting(data, env, "extensions", "queues", "visibilityTimeout")),
        max_dequeue_count=int(_setting(data, env, "extensions", "queues", "maxDequeueCount")),
        function_timeout=parse_timespan(_setting(data, env, "functionTimeout")),
    )
