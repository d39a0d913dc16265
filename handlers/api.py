"""The public face of handlers: what the operator commands (ops/), the benchmarks (bench/) and the local host
(devhost/) may use. Everything else in handlers/ is internal; tests/unit/test_public_face.py keeps this list sorted
and the callers to it."""

from handlers.adapters.entra import build_msal_app, build_public_msal_app
from handlers.adapters.lifetimes import close
from handlers.bootstrap import (
    build_dependencies,
    build_intake,
    entra_app,
    store_app_user_sign_in,
)
from handlers.domain.clouds import PARTNER_CENTER_SCOPE, USER_IMPERSONATION_SCOPE
from handlers.domain.error_codes import failure_from_error
from handlers.domain.events import CloudEvent, CreatedData, FailedData
from handlers.domain.failures import ErrorKind, OnboardingError
from handlers.domain.field_errors import FieldError
from handlers.domain.ledger_entry import LedgerEntry
from handlers.domain.partner_center_body import domain_for
from handlers.domain.request import CustomerRequest, InvalidRequest, parse_message
from handlers.domain.timing import parse_timespan
from handlers.intake.crm.mapping import CrmName, CrmRecord, FieldMap, load_field_map, map_record
from handlers.intake.crm.routes import read_body, record_key
from handlers.intake.dependencies import IntakeDependencies
from handlers.intake.enqueue import Busy, enqueue_once
from handlers.intake.records import claim_record
from handlers.intake.validation import validate_request
from handlers.observability.logs import log_context
from handlers.observability.telemetry import quiet_noisy_loggers
from handlers.onboarding.dependencies import Dependencies
from handlers.onboarding.ledger import Ledger
from handlers.onboarding.pipeline import handle_message
from handlers.onboarding.preflight import run_preflight
from handlers.settings import Settings, StorageSettings

__all__ = [
    "PARTNER_CENTER_SCOPE",
    "USER_IMPERSONATION_SCOPE",
    "Busy",
    "CloudEvent",
    "CreatedData",
    "CrmName",
    "CrmRecord",
    "CustomerRequest",
    "Dependencies",
    "ErrorKind",
    "FailedData",
    "FieldError",
    "FieldMap",
    "IntakeDependencies",
    "InvalidRequest",
    "Ledger",
    "LedgerEntry",
    "OnboardingError",
    "Settings",
    "StorageSettings",
    "build_dependencies",
    "build_intake",
    "build_msal_app",
    "build_public_msal_app",
    "claim_record",
    "close",
    "domain_for",
    "enqueue_once",
    "entra_app",
    "failure_from_error",
    "handle_message",
    "load_field_map",
    "log_context",
    "map_record",
    "parse_message",
    "parse_timespan",
    "quiet_noisy_loggers",
    "read_body",
    "record_key",
    "run_preflight",
    "store_app_user_sign_in",
    "validate_request",
]
