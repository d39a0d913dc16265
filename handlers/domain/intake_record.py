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
    # A CRM record's later version, kept while its current request (request_id) is undecided: its requestId and its
    # §1 message, sent once the current one has failed, dropped once it created the record's customer.
    pending_request_id: str | None = None
    pending_message: str | None = None

    def being_sent(self, now: float, takeover_after: float) -> bool:
        """Taken by a caller that may still be sending it: marked `sending` less than `takeover_after` ago (after
        that, its sender is taken for dead and the row may be taken over)."""
        return self.sending and now - self.updated_at < takeover_after
