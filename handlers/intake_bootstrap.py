"""Builds the HTTP functions' dependencies once per worker, over the queue functions' own (one Partner Center
client and pacer, one ledger)."""

from __future__ import annotations

import logging

from handlers.adapters.intake_table import IntakeTable
from handlers.adapters.parking import QueueSender
from handlers.bootstrap import get_dependencies, per_event_loop, queue_client, table_client
from handlers.intake.crm.mapping import load_field_map
from handlers.intake.enqueue import IntakeDependencies
from handlers.settings import Settings, get_settings

log = logging.getLogger("csp_onboarding")


def build_intake(settings: Settings) -> IntakeDependencies:
    """The intake's adapters for these settings; raises RuntimeError without a queue connection and ValueError for
    a CRM_FIELD_MAP that is no valid map."""
    queue = queue_client(settings, settings.CUSTOMER_REQUESTS_QUEUE)
    if queue is None:
        raise RuntimeError("No CrmQueue connection setting: the HTTP intake cannot enqueue requests")
    pipeline = get_dependencies()
    return IntakeDependencies(
        ledger=pipeline.ledger,
        config=pipeline.config,
        queue=QueueSender(queue),  # sends a message text, creating the queue where missing
        records=IntakeTable(table_client(settings, settings.ONBOARDING_INTAKE_TABLE)),
        field_map=load_field_map(settings.CRM_FIELD_MAP),
    )


get_intake = per_event_loop(lambda: build_intake(get_settings()), "HTTP intake")
