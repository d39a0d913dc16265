"""Builds the real adapters once per worker and hands them to the handlers."""

from __future__ import annotations

import asyncio
import logging

from azure.data.tables.aio import TableClient

from handlers.adapters.entra import MsalTokenProvider, build_msal_app, client_credential
from handlers.adapters.event_grid import EventGridPublisher
from handlers.adapters.http import build_http_client
from handlers.adapters.ledger import InMemoryLedger, LedgerBase, TableLedger
from handlers.adapters.pacing import Pacer
from handlers.adapters.partner_center import PartnerCenterClient
from handlers.adapters.retry import RetryPolicy
from handlers.logs import install_context_filter
from handlers.pipeline import Dependencies, PipelineConfig
from handlers.preflight import CountryRulesCache
from handlers.settings import PARTNER_CENTER_SCOPE, Settings, get_settings

log = logging.getLogger("csp_onboarding")


def build_dependencies(settings: Settings) -> Dependencies:
    """The real adapters for these settings: one httpx client, one MSAL app, one pacer."""
    install_context_filter()
    http = build_http_client(settings.PARTNER_CENTER_TIMEOUT_SECONDS)
    # An invocation makes up to three rounds of calls (pre-flight, create, publish): a quarter of the deadline
    # each keeps the whole invocation inside it, and inside the ledger lease of 1.5 deadlines.
    policy = RetryPolicy(budget_seconds=settings.ONBOARDING_DEADLINE_SECONDS / 4)
    credential = client_credential(settings)
    tokens = MsalTokenProvider(lambda: build_msal_app(settings, credential), PARTNER_CENTER_SCOPE)
    partner_center = PartnerCenterClient(
        http,
        tokens,
        base_url=settings.cloud.api_url,
        pacer=Pacer(settings.PARTNER_CENTER_MAX_REQUESTS_PER_MINUTE),
        retry_policy=policy,
    )
    events = EventGridPublisher(
        http,
        settings.EVENTS_TOPIC_ENDPOINT,
        key=settings.EVENTS_TOPIC_KEY,
        tokens=None,
        retry_policy=RetryPolicy(max_attempts=3, budget_seconds=settings.ONBOARDING_DEADLINE_SECONDS / 4),
    )
    config = PipelineConfig(
        events_source=settings.EVENTS_SOURCE,
        domain_suffix=settings.cloud.domain_suffix,
        enable_gdap_default=settings.ENABLE_GDAP_BY_DEFAULT,
        validate_address=settings.ADDRESS_VALIDATION_ENABLED,
        lease_seconds=settings.ONBOARDING_DEADLINE_SECONDS * 1.5,
    )
    return Dependencies(
        partner_center=partner_center,
        events=events,
        ledger=build_ledger(settings),
        config=config,
        rules_cache=CountryRulesCache(),
    )


def build_ledger(settings: Settings) -> LedgerBase:
    """The Table-storage ledger in the function's storage account; in memory (with a warning) when none is set."""
    connection = settings.ledger_connection
    if connection is None:
        log.warning("No storage connection string for the ledger: keeping it in memory (one worker only)")
        return InMemoryLedger()
    return TableLedger(TableClient.from_connection_string(connection, table_name=settings.ONBOARDING_LEDGER_TABLE))


_built: tuple[asyncio.AbstractEventLoop, Dependencies] | None = None


def get_dependencies() -> Dependencies:
    """This worker's dependencies, built on first use (on the running event loop) and reused after."""
    global _built
    loop = asyncio.get_running_loop()
    if _built is None or _built[0] is not loop:
        _built = (loop, build_dependencies(get_settings()))
        log.info("Onboarding pipeline built")
    return _built[1]
