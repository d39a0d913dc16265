"""An intake row: what the HTTP intake remembers about one key (a requestId, a Salesforce notification, a CRM
record) outside the ledger — the requestId it led to and a hash of the content enqueued for it."""

from __future__ import annotations

import time
from dataclasses import dataclass, field


@dataclass(frozen=True)
class IntakeRecord:
    """One intake row."""

    key: str
    request_id: str
    content_hash: str | None = None
    updated_at: float = field(default_factory=time.time)
    etag: str | None = None
    sending: bool = False  # taken by a caller that is enqueueing this content right now (not yet sent)
