"""The seams of the pipeline: what handlers need from the outside world, as protocols tests can fake."""

from __future__ import annotations

from typing import Any, Protocol

from pydantic import SecretStr

from handlers.domain.payloads import AddressValidation, CountryRules, CustomerPayload, Relationship


class TokenProvider(Protocol):
    """Hands out a bearer token for one audience, cached until shortly before it expires."""

    async def get_token(self) -> str: ...


class PartnerCenter(Protocol):
    """The Partner Center calls the pipeline makes; each raises OnboardingError with a kind."""

    async def create_customer(self, body: dict[str, Any], *, ms_request_id: str) -> CustomerPayload: ...

    async def domain_exists(self, domain: str, *, ms_request_id: str) -> bool: ...

    async def validate_address(self, address: dict[str, Any], *, ms_request_id: str) -> AddressValidation: ...

    async def get_country_rules(self, country: str, *, ms_request_id: str) -> CountryRules: ...

    async def find_customer_by_domain(self, domain: str, *, ms_request_id: str) -> CustomerPayload | None: ...


class AppUserPartnerCenter(Protocol):
    """The Partner Center calls that need an App+User token; each raises OnboardingError (CONSENT when a person
    must sign in again)."""

    async def list_indirect_resellers(self, *, ms_request_id: str) -> list[Relationship]: ...

    async def agreement_template_id(self, agreement_type: str, *, ms_request_id: str) -> str: ...

    async def create_agreement(self, customer_id: str, body: dict[str, Any], *, ms_request_id: str) -> bool: ...


class TokenRefresher(Protocol):
    """Redeems the App+User refresh token now (the daily timer); raises OnboardingError."""

    async def refresh(self) -> None: ...


class SecretStore(Protocol):
    """Stores secrets (Key Vault); returns the secret's id; raises OnboardingError."""

    async def set_secret(
        self, name: str, value: SecretStr, *, tags: dict[str, str], expires_in_days: int, content_type: str
    ) -> str: ...


class MessageSender(Protocol):
    """Sends a message text to a queue (the requests queue, for the HTTP intake); raises OnboardingError."""

    async def send(self, body: bytes) -> None: ...


class MessageParking(Protocol):
    """Keeps a copy of an exhausted request for a later replay; raises OnboardingError."""

    async def park(self, body: bytes) -> None: ...


class EventSink(Protocol):
    """Publishes CloudEvents (structured JSON dicts) as one batch; raises OnboardingError when it cannot."""

    async def publish(self, events: list[dict[str, Any]]) -> None: ...
