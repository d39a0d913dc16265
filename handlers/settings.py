"""The operator's settings (contract §4), read once from the environment."""

from __future__ import annotations

from functools import lru_cache
from typing import Literal

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from handlers.domain.clouds import CLOUDS, Cloud

CredentialKind = Literal["secret", "certificate", "federated"]


class StorageSettings(BaseSettings):
    """What the intake and the operator commands need: where the storage account is, the queue and tables, the
    field map, and what a request's content hash reads (the cloud's domain suffix, the GDAP default). Names are the
    contract's (case-sensitive)."""

    # hide_input_in_errors: a refused setting is named, never quoted (it may be a secret or a connection string).
    model_config = SettingsConfigDict(case_sensitive=True, extra="ignore", frozen=True, hide_input_in_errors=True)

    PARTNER_CENTER_CLOUD: Literal["public", "usgov", "china"] = "public"
    EVENTS_SOURCE: str = "/csp-onboarding"
    CUSTOMER_REQUESTS_QUEUE: str = "customer-requests"
    ENABLE_GDAP_BY_DEFAULT: bool = True
    # The function's user-assigned managed identity (storage, Event Grid, Key Vault); system-assigned if unset.
    AZURE_CLIENT_ID: str | None = None
    ONBOARDING_LEDGER_TABLE: str = Field(default="onboardingledger", pattern=r"^[A-Za-z][A-Za-z0-9]{2,62}$")
    # HTTP intake (contract §6): what it has enqueued, by requestId, Salesforce notification id and CRM record.
    ONBOARDING_INTAKE_TABLE: str = Field(default="onboardingintake", pattern=r"^[A-Za-z][A-Za-z0-9]{2,62}$")
    # The CRM field map (contract §6): a path or the JSON itself, over intake/crm/default-field-map.json.
    CRM_FIELD_MAP: str | None = None
    # The organizations whose records each CRM route accepts (contract §6), comma-separated; unset: none.
    DATAVERSE_ORGANIZATION_IDS: str = ""
    SALESFORCE_ORGANIZATION_IDS: str = ""
    # The Functions host's storage connection (the ledger lives there), else the queue's.
    AzureWebJobsStorage: SecretStr | None = None
    CrmQueue: SecretStr | None = None
    # Identity-based host storage (as deployed: shared keys off): the ledger's table endpoint and identity.
    AzureWebJobsStorage__accountName: str | None = None
    AzureWebJobsStorage__tableServiceUri: str | None = None
    AzureWebJobsStorage__clientId: str | None = None
    # Identity-based queue connection (as deployed), for parking exhausted requests next to the queue.
    CrmQueue__queueServiceUri: str | None = None
    CrmQueue__clientId: str | None = None

    @property
    def ledger_table_endpoint(self) -> str | None:
        """The Table endpoint of identity-based host storage, if that is how storage is configured."""
        if self.AzureWebJobsStorage__tableServiceUri:
            return self.AzureWebJobsStorage__tableServiceUri
        if self.AzureWebJobsStorage__accountName:
            return f"https://{self.AzureWebJobsStorage__accountName}.table.core.windows.net"
        return None

    @property
    def ledger_connection(self) -> str | None:
        """The connection string of the ledger's storage account, if one is configured."""
        for value in (self.AzureWebJobsStorage, self.CrmQueue):
            text = value.get_secret_value() if value is not None else ""
            if (
                "AccountKey=" in text
                or "SharedAccessSignature=" in text
                or text.lower() == "usedevelopmentstorage=true"
            ):
                return text
        return None

    @property
    def crm_organizations(self) -> tuple[list[str], list[str]]:
        """The Dataverse and Salesforce organization ids the CRM routes accept."""
        return (self.DATAVERSE_ORGANIZATION_IDS.split(","), self.SALESFORCE_ORGANIZATION_IDS.split(","))

    @property
    def managed_identity_client_id(self) -> str | None:
        """The managed identity that reaches storage: AZURE_CLIENT_ID (user-assigned), else system-assigned."""
        return self.AZURE_CLIENT_ID

    @property
    def domain_suffix(self) -> str:
        """The cloud's domain suffix (`.onmicrosoft.com`)."""
        return CLOUDS[self.PARTNER_CENTER_CLOUD].domain_suffix


class Settings(StorageSettings):
    """Every setting the function reads."""

    PARTNER_CENTER_API_URL: str | None = None
    PARTNER_CENTER_AUTHORITY_HOST: str | None = None
    PARTNER_CENTER_TENANT_ID: str
    PARTNER_CENTER_CLIENT_ID: str
    PARTNER_CENTER_CLIENT_SECRET: SecretStr | None = None
    PARTNER_CENTER_CLIENT_CERTIFICATE_PATH: str | None = None
    PARTNER_CENTER_FEDERATED_CLIENT_ID: str | None = None
    # The whole app's budget (contract rule 8, §4): every instance and function shares it through the storage
    # account (handlers/onboarding/budget.py). Never divided by an instance count.
    PARTNER_CENTER_MAX_REQUESTS_PER_MINUTE: int = Field(default=500, gt=0)

    EVENTS_TOPIC_ENDPOINT: str
    EVENTS_TOPIC_KEY: SecretStr | None = None

    ADMIN_CREDENTIALS_VAULT_URL: str | None = None
    # App+User (contract §5): the version-less Key Vault secret URL of the refresh token; unset = App+User off.
    PARTNER_CENTER_USER_TOKEN_SECRET_URL: str | None = Field(
        default=None, pattern=r"^https://[^/?#]+/secrets/[0-9A-Za-z-]{1,127}/?$"
    )

    # Added by this project (documented in docs/operating.md, Settings).
    PARTNER_CENTER_TIMEOUT_SECONDS: float = Field(default=30.0, gt=0)
    ADDRESS_VALIDATION_ENABLED: bool = True
    # The table of the shared Partner Center budget's one row, in the function's storage account.
    ONBOARDING_BUDGET_TABLE: str = Field(default="onboardingbudget", pattern=r"^[A-Za-z][A-Za-z0-9]{2,62}$")
    ADMIN_CREDENTIALS_EXPIRY_DAYS: int = Field(default=30, gt=0)
    # Retention: what is kept, and for how long (the daily purge_ledger timer applies the first three).
    # Decided ledger rows (which hold the outcome event, personal data included) are deleted after this many days.
    ONBOARDING_LEDGER_RETENTION_DAYS: int = Field(default=90, gt=0)
    # Undecided ledger rows untouched this many days raise an alert naming each (`undecided_request_expiring`), and
    # a row still untouched a week after its alert is deleted: a person looks first (a create may have gone out).
    # 30: no message can resume such a row any more (a queue message lives 7 days; a parked copy, see below).
    ONBOARDING_UNDECIDED_RETENTION_DAYS: int = Field(default=30, gt=0)
    # Intake rows (by requestId, Salesforce notification, CRM record) last written this many days ago are deleted
    # once the ledger no longer holds their request, whose row still decides what a resend or an edit of the CRM
    # record does until then ("one record, one customer"). 90: as long as the ledger's own decided rows.
    ONBOARDING_INTAKE_RETENTION_DAYS: int = Field(default=90, gt=0)
    # Parked copies of exhausted requests (the whole request, personal data included) expire this many days after
    # parking: the queue drops them. A person was alerted when each was parked (retries_exhausted, or
    # poison_unreported); 30 days is the time to fix an outage and replay; after that the CRM resends.
    PARKED_MESSAGE_TTL_DAYS: int = Field(default=30, gt=0)

    @field_validator("PARTNER_CENTER_USER_TOKEN_SECRET_URL", mode="before")
    @classmethod
    def _empty_is_off(cls, value: object) -> object:
        return None if value == "" else value

    @property
    def managed_identity_client_id(self) -> str | None:
        """The managed identity for Event Grid and Key Vault: AZURE_CLIENT_ID, else the federated one."""
        return self.AZURE_CLIENT_ID or self.PARTNER_CENTER_FEDERATED_CLIENT_ID

    @model_validator(mode="after")
    def _undecided_rows_outlive_parked_copies(self) -> Settings:
        # A parked copy replayed must find its row: an undecided row holds the evidence that a create went out.
        if self.ONBOARDING_UNDECIDED_RETENTION_DAYS < self.PARKED_MESSAGE_TTL_DAYS:
            raise ValueError(
                "ONBOARDING_UNDECIDED_RETENTION_DAYS must be at least PARKED_MESSAGE_TTL_DAYS: a replayed request "
                "must find its ledger row"
            )
        return self

    @model_validator(mode="after")
    def _exactly_one_credential(self) -> Settings:
        chosen = [
            name
            for name, value in (
                ("PARTNER_CENTER_CLIENT_SECRET", self.PARTNER_CENTER_CLIENT_SECRET),
                ("PARTNER_CENTER_CLIENT_CERTIFICATE_PATH", self.PARTNER_CENTER_CLIENT_CERTIFICATE_PATH),
                ("PARTNER_CENTER_FEDERATED_CLIENT_ID", self.PARTNER_CENTER_FEDERATED_CLIENT_ID),
            )
            if value
        ]
        if len(chosen) != 1:
            found = ", ".join(chosen) or "none"
            raise ValueError(
                "set exactly one Partner Center credential: PARTNER_CENTER_CLIENT_SECRET, "
                "PARTNER_CENTER_CLIENT_CERTIFICATE_PATH or PARTNER_CENTER_FEDERATED_CLIENT_ID "
                f"(found: {found})"
            )
        return self

    @property
    def credential_kind(self) -> CredentialKind:
        """Which of the three credential options is configured."""
        if self.PARTNER_CENTER_CLIENT_SECRET:
            return "secret"
        if self.PARTNER_CENTER_CLIENT_CERTIFICATE_PATH:
            return "certificate"
        return "federated"

    @property
    def cloud(self) -> Cloud:
        """The cloud's endpoints with the operator's overrides applied."""
        base = CLOUDS[self.PARTNER_CENTER_CLOUD]
        return Cloud(
            api_url=(self.PARTNER_CENTER_API_URL or base.api_url).rstrip("/"),
            authority_host=(self.PARTNER_CENTER_AUTHORITY_HOST or base.authority_host).rstrip("/"),
            domain_suffix=base.domain_suffix,
            federated_audience=base.federated_audience,
        )


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process's settings, read from the environment once; raises ValidationError when incomplete."""
    return Settings()  # required fields come from the environment
