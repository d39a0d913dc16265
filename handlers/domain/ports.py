"""The ports: what onboarding and intake need from the outside world, one small Protocol per need, so tests can
fake each (tests/fakes/) and the adapters implement them without being imported by their callers.

Storage answers the ports' callers must tell apart are values of their own here (RowExists, RowChanged,
WriteUnknown); every other failure of a port is an OnboardingError with a kind (handlers.domain.failures).
"""

from __future__ import annotations

from typing import Any, Protocol

from pydantic import SecretStr

from handlers.domain.budget import BudgetRow
from handlers.domain.failures import OnboardingError
from handlers.domain.intake_record import IntakeRecord
from handlers.domain.ledger_entry import LedgerEntry
from handlers.domain.payloads import AddressValidation, CountryRules, CustomerPayload, Relationship


class RowExists(Exception):
    """An insert found the row already there."""


class RowChanged(Exception):
    """A conditional replace found the row changed (or gone) since it was read."""


class WriteUnknown(Exception):
    """The write was sent but its answer was lost: it may or may not have committed."""


class LedgerRows(Protocol):
    """The ledger's rows, one per requestId; writes are conditional on the row's ETag. Storage failures raise
    OnboardingError(TRANSIENT); a lost answer raises WriteUnknown."""

    async def read(self, request_id: str) -> LedgerEntry | None:
        """The row, or None."""

    async def insert(self, entry: LedgerEntry) -> LedgerEntry:
        """Add a new row; raises RowExists."""

    async def replace(self, entry: LedgerEntry) -> LedgerEntry:
        """Replace the row if its ETag is still `entry.etag`; raises RowChanged."""

    async def naming(self, customer_id: str, domain: str, *, besides: str) -> list[LedgerEntry]:
        """Rows of requests other than `besides` that record `customer_id` or name `domain` (at most a few dozen):
        what adoption judges with `ledger_entry.claim_among`."""

    async def decided_before(self, cutoff: float, *, limit: int) -> list[LedgerEntry]:
        """Up to `limit` decided rows last written before `cutoff` (retention)."""

    async def undecided_before(self, cutoff: float, *, after: str, limit: int) -> list[LedgerEntry]:
        """Up to `limit` undecided rows last written before `cutoff`, in requestId order from the first after
        `after` (retention: rows it keeps are passed over by the next page)."""

    async def purge(self, request_id: str, etag: str) -> bool:
        """Delete the row if unchanged; False when it changed."""


class Notices(Protocol):
    """Notices shared by every instance (the consent alarm's "once an hour"); raises OnboardingError."""

    async def first_notice(self, topic: str, slot: str) -> bool:
        """Record a notice of `topic` for `slot` (an hour, say) unless one exists; True for the first recorder only."""

    async def forget_notice(self, topic: str, slot: str) -> None:
        """Remove a notice (its event could not be published); never raises."""


class IntakeRecords(Protocol):
    """What the HTTP intake remembers, by key; `insert` and `replace` are conditional (RowExists / RowChanged);
    storage failures raise OnboardingError(TRANSIENT)."""

    async def get(self, key: str) -> IntakeRecord | None:
        """The row, or None."""

    async def insert(self, record: IntakeRecord) -> IntakeRecord:
        """Add a row; raises RowExists."""

    async def replace(self, record: IntakeRecord) -> IntakeRecord:
        """Replace the row if its ETag is still `record.etag`; raises RowChanged."""

    async def upsert(self, record: IntakeRecord) -> None:
        """Write the row whatever it held."""


class PendingRecords(Protocol):
    """The CRM records whose later version waits for their current request (intake/pending.py); storage failures
    raise OnboardingError(TRANSIENT)."""

    async def pending(self, *, limit: int) -> list[IntakeRecord]:
        """Up to `limit` record rows that keep a later version."""


class RetainedRecords(Protocol):
    """The intake's rows as retention sees them; storage failures raise OnboardingError(TRANSIENT)."""

    async def written_before(self, cutoff: float, *, after: str, limit: int) -> list[IntakeRecord]:
        """Up to `limit` rows last written before `cutoff`, in key order from the first after `after`."""

    async def delete(self, record: IntakeRecord) -> bool:
        """Delete the row if its ETag is still `record.etag`: True when it is gone, False when it changed."""


class BudgetRows(Protocol):
    """The shared Partner Center budget's one row (handlers.domain.budget), every instance's; writes are conditional
    on its ETag. Storage failures (an answer lost included) raise OnboardingError(TRANSIENT)."""

    async def read(self) -> BudgetRow | None:
        """The row, or None before the first lease."""

    async def insert(self, row: BudgetRow) -> BudgetRow:
        """Write the first row; raises RowExists."""

    async def replace(self, row: BudgetRow) -> BudgetRow:
        """Replace the row if its ETag is still `row.etag`; raises RowChanged."""


class CallBudget(Protocol):
    """What every Partner Center call waits for (contract rule 8): a slot of the whole app's budget."""

    async def acquire(self) -> None:
        """Wait for this call's slot; raises OutOfBudget when none can be had in time."""

    def throttled(self, retry_after: float | None) -> None:
        """Partner Center answered 429: hold every caller (Retry-After already bounded)."""


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


class AppUserSignIn(Protocol):
    """The App+User sign-in: redeem its refresh token now (the daily timer), or hear that Partner Center refused
    its token (401 / 900421: no MFA); raises OnboardingError."""

    async def refresh(self) -> None: ...

    async def refused(self, error: OnboardingError) -> OnboardingError:
        """Forget the token, sound the consent alarm; the error as the dead sign-in it is."""


class SecretStore(Protocol):
    """Stores secrets (Key Vault); returns the secret's id; raises OnboardingError."""

    async def set_secret(
        self, name: str, value: SecretStr, *, tags: dict[str, str], expires_in_days: int, content_type: str
    ) -> str: ...


class MessageSender(Protocol):
    """Sends a message text to a queue (the requests queue, for the HTTP intake); raises OnboardingError."""

    async def send(self, body: bytes) -> None: ...


class MessageDeferral(Protocol):
    """Puts a fresh copy of a message on the requests queue, invisible for `delay` seconds (backpressure); raises
    OnboardingError."""

    async def defer(self, body: bytes, delay: float) -> None: ...


class MessageParking(Protocol):
    """Keeps a copy of an exhausted request for a later replay; raises OnboardingError."""

    async def park(self, body: bytes) -> None: ...


class EventSink(Protocol):
    """Publishes CloudEvents (structured JSON dicts) as one batch; raises OnboardingError when it cannot."""

    async def publish(self, events: list[dict[str, Any]]) -> None: ...
