"""What the onboarding entry points (a queue message, a poisoned one, the timers) are handed: the adapters behind
their ports and the config. Built by bootstrap, or by tests with fakes; each step below them takes only what it
uses."""

from __future__ import annotations

from dataclasses import dataclass

from handlers.domain.config import PipelineConfig
from handlers.domain.ports import (
    EventSink,
    MessageDeferral,
    MessageParking,
    PartnerCenter,
    RetainedRecords,
    SecretStore,
)
from handlers.onboarding.app_user import AppUser
from handlers.onboarding.budget import SharedBudget
from handlers.onboarding.ledger import Ledger
from handlers.onboarding.outcomes import Publisher
from handlers.onboarding.preflight import CountryRulesCache


@dataclass(frozen=True)
class Dependencies:
    """What the handlers need: adapters behind ports, plus config. Built by bootstrap, or by tests with fakes."""

    partner_center: PartnerCenter
    events: EventSink
    ledger: Ledger
    config: PipelineConfig
    rules_cache: CountryRulesCache
    vault: SecretStore | None = None
    parking: MessageParking | None = None
    app_user: AppUser | None = None  # App+User work (resellers, MCA); None while App+User is off
    intake_records: RetainedRecords | None = None  # the HTTP intake's rows, which retention deletes in time
    budget: SharedBudget | None = None  # the shared Partner Center budget: admission, validation's cap; None: none
    requeue: MessageDeferral | None = None  # the requests queue, for a delayed copy (backpressure); None: no deferral

    @property
    def publisher(self) -> Publisher:
        """Where outcome events go: the sink and the events' source."""
        return Publisher(self.events, self.config.events_source)
