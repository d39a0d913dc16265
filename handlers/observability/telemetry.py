"""Telemetry through OpenTelemetry. In Azure the Python worker is the one exporter: with the app setting
PYTHON_APPLICATIONINSIGHTS_ENABLE_TELEMETRY=true it calls `configure_azure_monitor()` itself, on the root logger
(PYTHON_APPLICATIONINSIGHTS_LOGGER_NAME unset), before any function runs; the exporter authenticates with
APPLICATIONINSIGHTS_AUTHENTICATION_STRING. This module never configures a second exporter: locally it prints to
the console when OTEL_CONSOLE_EXPORT=true, else telemetry goes nowhere.

Read in the worker's source (Azure/azure-functions-python-worker, workers/azure_functions_worker/dispatcher.py,
`_handle__worker_init_request` and `initialize_azure_monitor`; constants.py) and the exporter's
(azure-monitor-opentelemetry-exporter, export/_base.py, `_get_authentication_credential`).

The instruments below are the OpenTelemetry API's: they cost nothing until a provider is configured.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from typing import Literal

from opentelemetry import metrics, trace
from opentelemetry.context import Context
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

LOGGER_NAME = "csp_onboarding"
# The app settings the Python worker reads (constants.py): the first makes it export, the second names the logger
# it exports ("" = the root logger, so every library's records go too).
WORKER_TELEMETRY_SETTING = "PYTHON_APPLICATIONINSIGHTS_ENABLE_TELEMETRY"
WORKER_LOGGER_NAME_SETTING = "PYTHON_APPLICATIONINSIGHTS_LOGGER_NAME"
# Libraries whose INFO records are per-call noise (a line per HTTP request, per token): WARNING and up only.
QUIET_LOGGERS = ("httpx", "httpcore", "azure", "msal", "urllib3", "aiohttp.access")

tracer = trace.get_tracer(LOGGER_NAME)
_meter = metrics.get_meter(LOGGER_NAME)
outcomes = _meter.create_counter("onboarding.outcomes", description="Published outcomes, by type and reason")
partner_center_duration = _meter.create_histogram(
    "partner_center.call.duration", unit="ms", description="Partner Center call duration, by endpoint and status"
)
retries = _meter.create_counter("onboarding.retries", description="Retried calls, by target")
reused_request_ids = _meter.create_counter(
    "onboarding.reused_request_ids", description="requestIds sent again with other content after their outcome"
)
poison_failures = _meter.create_counter(
    "onboarding.poison_failures", description="Poisoned requests the poison function could not report (parked)"
)
deferrals = _meter.create_counter(
    "onboarding.deferrals", description="Requests sent back to the queue with a delay: the budget had no room in time"
)
budget_calls = _meter.create_counter(
    "partner_center.budget.calls", description="Partner Center call slots granted, by lane and mode (shared/fallback)"
)
budget_storage = _meter.create_counter(
    "partner_center.budget.storage", description="The shared budget's storage operations, by kind"
)
_propagator = TraceContextTextMapPropagator()
_configured = False
log = logging.getLogger(LOGGER_NAME)

Exporter = Literal["worker", "console", "none"]


def parent_context(traceparent: str | None) -> Context | None:
    """The trace context the host handed the invocation (W3C traceparent), if any."""
    return _propagator.extract({"traceparent": traceparent}) if traceparent else None


def current_traceparent() -> str | None:
    """The W3C traceparent of the current span, for the CloudEvents distributed-tracing extension."""
    context = trace.get_current_span().get_span_context()
    if not context.is_valid:
        return None
    return f"00-{context.trace_id:032x}-{context.span_id:016x}-{context.trace_flags:02x}"


def _is_true(value: str | None) -> bool:
    # The worker's `is_envvar_true`: "true" or "1", any case.
    return (value or "").strip().lower() in ("true", "1")


def exporter_for(environ: Mapping[str, str]) -> Exporter:
    """Who exports this process's telemetry: the Functions worker, the console (local), or nobody."""
    if _is_true(environ.get(WORKER_TELEMETRY_SETTING)):
        return "worker"
    if _is_true(environ.get("OTEL_CONSOLE_EXPORT")):
        return "console"
    return "none"


def quiet_noisy_loggers() -> None:
    """Per-call INFO records of the HTTP and SDK libraries stay out of the export (and the console)."""
    for name in QUIET_LOGGERS:
        logging.getLogger(name).setLevel(logging.WARNING)


def configure_telemetry() -> Exporter:
    """Set up export once per worker (never a second exporter beside the worker's); returns who exports."""
    global _configured
    exporter = exporter_for(os.environ)
    if _configured:
        return exporter
    _configured = True
    quiet_noisy_loggers()
    if exporter == "console":
        _configure_console()
    elif exporter == "none" and os.environ.get("APPLICATIONINSIGHTS_CONNECTION_STRING"):
        log.warning(
            "APPLICATIONINSIGHTS_CONNECTION_STRING is set but %s is not true: the worker exports nothing",
            WORKER_TELEMETRY_SETTING,
        )
    return exporter


def _configure_console() -> None:
    from opentelemetry._logs import set_logger_provider
    from opentelemetry.instrumentation.logging.handler import LoggingHandler
    from opentelemetry.sdk._logs import LoggerProvider
    from opentelemetry.sdk._logs.export import ConsoleLogExporter, SimpleLogRecordProcessor
    from opentelemetry.sdk.metrics import MeterProvider
    from opentelemetry.sdk.metrics.export import ConsoleMetricExporter, PeriodicExportingMetricReader
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import ConsoleSpanExporter, SimpleSpanProcessor

    tracer_provider = TracerProvider()
    tracer_provider.add_span_processor(SimpleSpanProcessor(ConsoleSpanExporter()))
    trace.set_tracer_provider(tracer_provider)
    metrics.set_meter_provider(
        MeterProvider([PeriodicExportingMetricReader(ConsoleMetricExporter(), export_interval_millis=10_000)])
    )
    logger_provider = LoggerProvider()
    logger_provider.add_log_record_processor(SimpleLogRecordProcessor(ConsoleLogExporter()))
    set_logger_provider(logger_provider)
    # On the root logger, as the worker's exporter is: the console shows what Application Insights would get.
    logging.getLogger().addHandler(LoggingHandler(logger_provider=logger_provider))
