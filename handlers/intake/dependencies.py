"""What the intake is handed: the ledger (to read outcomes), the pipeline's config (to hash content as the pipeline
does), the requests queue, the intake's own records and the CRM field map. Built by bootstrap, or by tests."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from handlers.domain.config import PipelineConfig
from handlers.domain.ports import IntakeRecords, MessageSender, PendingRecords
from handlers.intake.crm.mapping import FieldMap
from handlers.intake.crm.senders import CrmSenders
from handlers.onboarding.ledger import Ledger
from handlers.onboarding.outcomes import Publisher


@dataclass(frozen=True)
class IntakeDependencies:
    """What the intake needs: the ledger (to read outcomes), the pipeline's config (to hash content as the pipeline
    does), the requests queue, the intake's own records and the CRM field map."""

    ledger: Ledger
    config: PipelineConfig
    queue: MessageSender  # sends a message text to CUSTOMER_REQUESTS_QUEUE
    records: IntakeRecords
    field_map: FieldMap
    senders: CrmSenders = field(default_factory=CrmSenders)  # the CRM organizations each route accepts
    pending: PendingRecords | None = None  # the records' kept later versions (the same rows as `records`)
    publisher: Publisher | None = None  # where a refused CRM record is published as a `failed` event
    clock: Callable[[], float] = field(default=time.time)
    sleep: Callable[[float], Awaitable[None]] = field(default=asyncio.sleep)
