"""Retention: what the ledger keeps, and for how long.

A decided row holds the outcome event — for a failure, the request's echo: names, e-mail, address — so it is kept
ONBOARDING_LEDGER_RETENTION_DAYS (default 90) after its last write, then deleted. A request delivered again after
that is a new request: Partner Center's MS-RequestId idempotency and the pre-flight domain check still make it at
most one customer (its own domain is taken by then, so it ends `domain_unavailable`).
"""

from __future__ import annotations

import logging

from handlers.onboarding.ledger import Ledger

log = logging.getLogger("csp_onboarding")
DAY = 86400.0


async def purge_expired(ledger: Ledger, *, retention_days: int) -> int:
    """Delete the rows decided more than `retention_days` ago; returns how many. Raises OnboardingError."""
    purged = await ledger.purge_decided(older_than_seconds=retention_days * DAY)
    log.info("Ledger retention: %d decided rows older than %d days deleted", purged, retention_days)
    return purged
