"""The only wiring: builds the real adapters once per worker and hands each entry point what it uses. The triggers,
the operator commands (ops/) and the benchmarks (bench/) all build through here."""

from __future__ import annotations

import logging
from dataclasses import replace
from typing import Any

import httpx
from azure.core.credentials_async import AsyncTokenCredential
from azure.data.tables.aio import TableClient
from azure.storage.queue.aio import QueueClient

from handlers.adapters.budget_table import BudgetTable
from handlers.adapters.entra import (
    EntraApp,
    MsalApp,
    managed_identity_tokens,
    partner_center_tokens,
    public_refresh_token_redeemer,
    refresh_token_redeemer,
    shared_msal_app,
)
from handlers.adapters.event_grid import EventGridPublisher
from handlers.adapters.http import build_http_client, proxy_configured
from handlers.adapters.intake_table import IntakeTable
from handlers.adapters.key_vault import CredentialVaultTokens, KeyVaultSecrets
from handlers.adapters.ledger_table import LedgerTable
from handlers.adapters.lifetimes import per_event_loop
from handlers.adapters.notice_table import NoticeTable
from handlers.adapters.parking import QueueParking, QueueSender
from handlers.adapters.partner_center import PartnerCenterClient
from handlers.adapters.refresh_token_vault import split_secret_url, store_refresh_token
from handlers.adapters.retry import RetryPolicy
from handlers.adapters.user_tokens import UserTokens
from handlers.domain.budget import Budget
from handlers.domain.config import PipelineConfig
from handlers.domain.timing import TimingModel, load_timing
from handlers.intake.crm.mapping import load_field_map
from handlers.intake.crm.senders import CrmSenders
from handlers.intake.dependencies import IntakeDependencies
from handlers.observability.http_telemetry import telemetry_hooks
from handlers.observability.logs import install_context_filter
from handlers.observability.redaction import install_redaction, remember_secret
from handlers.observability.telemetry import configure_telemetry
from handlers.onboarding.app_user import AppUser
from handlers.onboarding.budget import SharedBudget
from handlers.onboarding.consent import ConsentAlarm
from handlers.onboarding.dependencies import Dependencies
from handlers.onboarding.ledger import Ledger
from handlers.onboarding.preflight import CountryRulesCache
from handlers.settings import Settings, StorageSettings, get_settings

log = logging.getLogger("csp_onboarding")

EVENT_GRID_RESOURCE = "https://eventgrid.azure.net"
KEY_VAULT_RESOURCE = "https://vault.azure.net"


def build_dependencies(settings: Settings, *, http: httpx.AsyncClient | None = None) -> Dependencies:
    """The real adapters for these settings: one httpx client, one MSAL client per identity, one shared budget."""
    install_redaction()
    configure_telemetry()  # before the context filter: it may add the console exporter's handler
    install_context_filter()
    for secret in (settings.PARTNER_CENTER_CLIENT_SECRET, settings.EVENTS_TOPIC_KEY):
        remember_secret(secret.get_secret_value() if secret else None)
    http = http or build_http_client(settings.PARTNER_CENTER_TIMEOUT_SECONDS, event_hooks=telemetry_hooks())
    timing = load_timing()  # host.json (and its app-setting overrides): the invocation, lease and round budgets
    log.info("Timing model: %s", timing.describe())
    policy = RetryPolicy.of(timing)
    few = replace(policy, max_attempts=3)
    identity = settings.managed_identity_client_id
    events = EventGridPublisher(
        http,
        settings.EVENTS_TOPIC_ENDPOINT,
        key=settings.EVENTS_TOPIC_KEY,
        tokens=None if settings.EVENTS_TOPIC_KEY else managed_identity_tokens(identity, EVENT_GRID_RESOURCE),
        retry_policy=few,
    )
    msal_app = shared_msal_app(entra_app(settings))  # the worker's one MSAL app: app-only and App+User tokens
    user_tokens = build_user_tokens(settings, http, msal_app, events, few)
    budget = build_budget(settings)
    partner_center = PartnerCenterClient(
        http,
        partner_center_tokens(msal_app),
        base_url=settings.cloud.api_url,
        budget=budget,
        retry_policy=policy,
        user_tokens=user_tokens,
    )
    vault = None
    if settings.ADMIN_CREDENTIALS_VAULT_URL:
        vault = KeyVaultSecrets(
            http,
            settings.ADMIN_CREDENTIALS_VAULT_URL,
            managed_identity_tokens(identity, KEY_VAULT_RESOURCE),
            retry_policy=few,
        )
    config = replace(
        pipeline_config(settings, timing),
        validate_address=settings.ADDRESS_VALIDATION_ENABLED,
        admin_password_expiry_days=settings.ADMIN_CREDENTIALS_EXPIRY_DAYS,
        retention_days=settings.ONBOARDING_LEDGER_RETENTION_DAYS,
        undecided_retention_days=settings.ONBOARDING_UNDECIDED_RETENTION_DAYS,
        intake_retention_days=settings.ONBOARDING_INTAKE_RETENTION_DAYS,
        cloud=settings.PARTNER_CENTER_CLOUD,
    )
    return Dependencies(
        partner_center=partner_center,
        events=events,
        ledger=build_ledger(settings),
        config=config,
        rules_cache=CountryRulesCache(),
        vault=vault,
        parking=build_parking(settings),
        intake_records=IntakeTable(table_client(settings, settings.ONBOARDING_INTAKE_TABLE)),  # for retention
        app_user=None if user_tokens is None else AppUser(partner_center, user_tokens),
        budget=budget,
        requeue=build_requeue(settings),
    )


def build_budget(settings: Settings) -> SharedBudget:
    """The whole app's Partner Center budget, shared through one row in the function's storage account; its table
    client gives up at once (no retries, short timeouts): the budget falls back rather than waits."""
    rows = BudgetTable(table_client(settings, settings.ONBOARDING_BUDGET_TABLE, quick=True))
    return SharedBudget(rows, Budget(settings.PARTNER_CENTER_MAX_REQUESTS_PER_MINUTE))


def pipeline_config(settings: StorageSettings, timing: TimingModel) -> PipelineConfig:
    """What the pipeline and the intake read from the settings (what a request's content hash depends on)."""
    return PipelineConfig(
        events_source=settings.EVENTS_SOURCE,
        domain_suffix=settings.domain_suffix,
        enable_gdap_default=settings.ENABLE_GDAP_BY_DEFAULT,
        timing=timing,
    )


def entra_app(settings: Settings) -> EntraApp:
    """The Partner Center app registration as these settings name it, at the configured cloud's sign-in host."""
    return EntraApp(
        tenant_id=settings.PARTNER_CENTER_TENANT_ID,
        client_id=settings.PARTNER_CENTER_CLIENT_ID,
        authority_host=settings.cloud.authority_host,
        federated_audience=settings.cloud.federated_audience,
        timeout_seconds=settings.PARTNER_CENTER_TIMEOUT_SECONDS,
        secret=settings.PARTNER_CENTER_CLIENT_SECRET,
        certificate_path=settings.PARTNER_CENTER_CLIENT_CERTIFICATE_PATH,
        federated_client_id=settings.PARTNER_CENTER_FEDERATED_CLIENT_ID,
    )


def build_user_tokens(
    settings: Settings, http: httpx.AsyncClient, msal_app: MsalApp, events: EventGridPublisher, policy: RetryPolicy
) -> UserTokens | None:
    """The App+User token source, when PARTNER_CENTER_USER_TOKEN_SECRET_URL is set (the refresh token's vault read
    and written with the managed identity); the consent alarm's hourly notice lives in the ledger's table."""
    if not settings.PARTNER_CENTER_USER_TOKEN_SECRET_URL:
        log.info("App+User is off (PARTNER_CENTER_USER_TOKEN_SECRET_URL unset): no indirect resellers, no MCA")
        return None
    vault_url, name = split_secret_url(settings.PARTNER_CENTER_USER_TOKEN_SECRET_URL.rstrip("/"))
    vault = KeyVaultSecrets(
        http, vault_url, managed_identity_tokens(settings.managed_identity_client_id, KEY_VAULT_RESOURCE),
        retry_policy=policy,
    )  # fmt: skip
    notices = NoticeTable(table_client(settings, settings.ONBOARDING_LEDGER_TABLE))  # beside the ledger's rows
    alarm = ConsentAlarm(notices, events, source=settings.EVENTS_SOURCE)
    return UserTokens(
        vault, name, refresh_token_redeemer(msal_app), on_consent_required=alarm,
        redeem_public=public_refresh_token_redeemer(entra_app(settings)), on_not_signed_in=alarm.not_signed_in,
    )  # fmt: skip


def build_requeue(settings: Settings) -> QueueSender | None:
    """The requests queue itself, for a delayed fresh copy of a request the budget has no room for (backpressure)."""
    client = queue_client(settings, settings.CUSTOMER_REQUESTS_QUEUE)
    return None if client is None else QueueSender(client)


def build_parking(settings: Settings) -> QueueParking | None:
    """The `{queue}-exhausted` queue beside the requests queue, on the same connection as the trigger; its copies
    expire after PARKED_MESSAGE_TTL_DAYS."""
    client = queue_client(settings, f"{settings.CUSTOMER_REQUESTS_QUEUE}-exhausted")
    if client is None:
        log.warning("No CrmQueue connection setting: exhausted requests are reported but not parked for replay")
        return None
    return QueueParking(client, time_to_live_days=settings.PARKED_MESSAGE_TTL_DAYS)


def build_ledger(settings: StorageSettings, *, credential: AsyncTokenCredential | None = None) -> Ledger:
    """The ledger's rows in a Table of the function's storage account; raises RuntimeError when none is configured
    (without the ledger, exactly once cannot be kept: better no invocation than a duplicate customer)."""
    return Ledger(LedgerTable(table_client(settings, settings.ONBOARDING_LEDGER_TABLE, credential=credential)))


def build_intake(
    settings: StorageSettings, *, ledger: Ledger | None = None, config: PipelineConfig | None = None,
    credential: AsyncTokenCredential | None = None,
) -> IntakeDependencies:  # fmt: skip
    """The intake's adapters for these settings (the pipeline's ledger and config when given, so a worker keeps
    one of each); identity-based storage signs in with `credential` when given (an operator's: ops.backfill), else
    with the managed identity. Raises RuntimeError without a queue connection and ValueError for a CRM_FIELD_MAP
    that is no valid map."""
    queue = queue_client(settings, settings.CUSTOMER_REQUESTS_QUEUE, credential=credential)
    if queue is None:
        raise RuntimeError("No CrmQueue connection setting: the HTTP intake cannot enqueue requests")
    records = IntakeTable(table_client(settings, settings.ONBOARDING_INTAKE_TABLE, credential=credential))
    return IntakeDependencies(
        ledger=ledger or build_ledger(settings, credential=credential),
        config=config or pipeline_config(settings, load_timing()),
        queue=QueueSender(queue),  # sends a message text, creating the queue where missing
        records=records,
        pending=records,
        field_map=load_field_map(settings.CRM_FIELD_MAP),
        senders=CrmSenders.of(*settings.crm_organizations),
    )


def _managed_identity(client_id: str | None) -> Any:
    from azure.identity.aio import ManagedIdentityCredential  # only where storage is identity-based

    return ManagedIdentityCredential(client_id=client_id)


def queue_client(
    settings: StorageSettings, name: str, *, credential: AsyncTokenCredential | None = None
) -> QueueClient | None:
    """A client of the queue `name` on the trigger's connection (CrmQueue), or None when none is configured;
    identity-based with `credential`, else the managed identity."""
    if settings.CrmQueue is not None:
        connection = settings.CrmQueue.get_secret_value()
        return QueueClient.from_connection_string(connection, name, use_env_settings=proxy_configured())
    if settings.CrmQueue__queueServiceUri:
        credential = credential or _managed_identity(settings.CrmQueue__clientId or settings.managed_identity_client_id)
        uri = settings.CrmQueue__queueServiceUri
        return QueueClient(uri, name, credential=credential, use_env_settings=proxy_configured())
    return None


def table_client(
    settings: StorageSettings, table: str, *, credential: AsyncTokenCredential | None = None, quick: bool = False
) -> TableClient:
    """A client of one Table of the function's storage account (AzureWebJobsStorage, else CrmQueue; identity-based
    with `credential`, else the managed identity); `quick`: no retries and 2 s timeouts. Raises RuntimeError when no
    storage is configured."""
    options: dict[str, Any] = {"connection_timeout": 5, "read_timeout": 30, "use_env_settings": proxy_configured()}
    if quick:
        options.update(connection_timeout=2, read_timeout=2, retry_total=0)
    connection = settings.ledger_connection
    if connection is not None:
        return TableClient.from_connection_string(connection, table_name=table, **options)
    endpoint = settings.ledger_table_endpoint
    if endpoint is not None:
        identity = settings.AzureWebJobsStorage__clientId or settings.managed_identity_client_id
        credential = credential or _managed_identity(identity)
        return TableClient(endpoint, table_name=table, credential=credential, **options)
    raise RuntimeError("No storage for the ledger: set AzureWebJobsStorage (a connection string or identity-based)")


async def store_app_user_sign_in(
    settings: Settings, refresh_token: str, *, public: bool, credential: AsyncTokenCredential
) -> str:
    """Write an Admin agent's refresh token (ops.consent) as a new version of the App+User secret, signed in to Key
    Vault with `credential` (the operator's: DefaultAzureCredential, which is the managed identity where one is
    reachable); returns the secret's id. Raises OnboardingError."""
    assert settings.PARTNER_CENTER_USER_TOKEN_SECRET_URL is not None
    vault_url, name = split_secret_url(settings.PARTNER_CENTER_USER_TOKEN_SECRET_URL.rstrip("/"))
    async with build_http_client(settings.PARTNER_CENTER_TIMEOUT_SECONDS) as http:
        tokens = CredentialVaultTokens(credential, KEY_VAULT_RESOURCE)
        vault = KeyVaultSecrets(http, vault_url, tokens, retry_policy=RetryPolicy.of(load_timing(), max_attempts=3))
        return await store_refresh_token(vault, name, refresh_token, public=public, writtenBy="ops.consent")


def _intake_of_this_worker() -> IntakeDependencies:
    pipeline = get_dependencies()  # one ledger, config and event sink per worker, shared with the queue functions
    intake = build_intake(get_settings(), ledger=pipeline.ledger, config=pipeline.config)
    return replace(intake, publisher=pipeline.publisher)


get_dependencies = per_event_loop(lambda: build_dependencies(get_settings()), "Onboarding pipeline")
get_intake = per_event_loop(_intake_of_this_worker, "HTTP intake")
