"""The values the core reads from the settings: built once by bootstrap from Settings, or by tests directly."""

from __future__ import annotations

from dataclasses import dataclass

from handlers.domain.timing import TimingModel


@dataclass(frozen=True)
class PipelineConfig:
    """The few settings the pipeline and the intake need."""

    events_source: str
    domain_suffix: str
    enable_gdap_default: bool
    timing: TimingModel
    validate_address: bool = True
    admin_password_expiry_days: int = 30
    retention_days: int = 90  # decided ledger rows
    undecided_retention_days: int = 30  # undecided ledger rows, until the alert
    intake_retention_days: int = 90  # intake rows
    cloud: str = "public"
