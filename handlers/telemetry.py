"""Telemetry through OpenTelemetry: traces, metrics and logs to Application Insights (azure-monitor-opentelemetry)
when APPLICATIONINSIGHTS_CONNECTION_STRING is set, to the console when OTEL_CONSOLE_EXPORT=true, else nowhere.

The instruments below are the OpenTelemetry API's: they cost nothing until a provider is configured.
"""

from __future__ import annotations

import logging
import os
from typing import Any

from opentelemetry import metrics, trace
from opentelemetry.context import Context
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

LOGGER_NAME = "csp_onboarding"
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
_propagator = TraceContextTextMapPropagator()
_configured = False


def parent_context(traceparent: str | None) -> Context | None:
    """The trace context the host handed the invocation (W3C traceparent), if any."""
    return _propagator.extract({"traceparent": traceparent}) if traceparent else None


def current_traceparent() -> str | None:
    """The W3C traceparent of the current span, for the CloudEvents distributed-tracing extension."""
    context = trace.get_current_span().get_span_context()
    if not context.is_valid:
        return None
    return f"00-{context.trace_id:032x}-{context.span_id:016x}-{context.trace_flags:02x}"


def configure_telemetry(managed_identity_client_id: str | None) -> str:
    """Set up exporters once per worker; returns where telemetry goes ("azure-monitor", "console" or "none")."""
    global _configured
    if _configured:
        return "configured"
    _configured = True
    connection_string = os.environ.get("APPLICATIONINSIGHTS_CONNECTION_STRING")
    if connection_string:
        _configure_azure_monitor(connection_string, managed_identity_client_id)
        return "azure-monitor"
    if os.environ.get("OTEL_CONSOLE_EXPORT", "").lower() == "true":
        _configure_console()
        return "console"
    return "none"


def _configure_azure_monitor(connection_string: str, client_id: str | None) -> None:
    from azure.identity import ManagedIdentityCredential  # imported only where telemetry is exported
    from azure.monitor.opentelemetry import configure_azure_monitor

    options: dict[str, Any] = {"connection_string": connection_string, "logger_name": LOGGER_NAME}
    if "Authorization=AAD" in os.environ.get("APPLICATIONINSIGHTS_AUTHENTICATION_STRING", ""):
        # Application Insights with local auth disabled: ingestion with the function's managed identity.
        options["credential"] = ManagedIdentityCredential(client_id=client_id)
    configure_azure_monitor(**options)
    # The exporter ships the project's records; propagating them to the worker's handler would ship them twice.
    logging.getLogger(LOGGER_NAME).propagate = False


def _configure_console() -> None:
    from opentelemetry._logs import set_logger_provider
    from opentelemetry.sdk._logs import LoggerProvider, LoggingHandler
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
    logging.getLogger(LOGGER_NAME).addHandler(LoggingHandler(logger_provider=logger_provider))
