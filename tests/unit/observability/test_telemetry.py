"""Telemetry as exported: dimensions on every record, the trace in the event, metrics, and no password anywhere."""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
from collections.abc import Iterator
from typing import Any

import pytest
from opentelemetry import metrics, trace
from opentelemetry.sdk._logs import LoggerProvider, LoggingHandler
from opentelemetry.sdk._logs.export import InMemoryLogRecordExporter, SimpleLogRecordProcessor
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from handlers.domain.partner_center_body import ms_request_id_for
from handlers.observability.logs import DIMENSIONS, install_context_filter, log_context
from handlers.observability.redaction import REDACTED, install_redaction, remember_secret
from handlers.observability.telemetry import exporter_for
from handlers.onboarding.pipeline import handle_message
from tests.fakes import ADMIN_PASSWORD, FakeEventSink, customer_payload, dependencies, message, sample

TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736"
TRACEPARENT = f"00-{TRACE_ID}-00f067aa0ba902b7-01"


class Exported:
    def __init__(self) -> None:
        self.spans = InMemorySpanExporter()
        self.logs = InMemoryLogRecordExporter()
        self.metrics = InMemoryMetricReader()


@pytest.fixture(scope="module")
def exported() -> Iterator[Exported]:
    sinks = Exported()
    tracer_provider = TracerProvider()
    tracer_provider.add_span_processor(SimpleSpanProcessor(sinks.spans))
    trace.set_tracer_provider(tracer_provider)
    metrics.set_meter_provider(MeterProvider(metric_readers=[sinks.metrics]))
    logger_provider = LoggerProvider()
    logger_provider.add_log_record_processor(SimpleLogRecordProcessor(sinks.logs))
    handler = LoggingHandler(level=logging.INFO, logger_provider=logger_provider)
    logger = logging.getLogger("csp_onboarding")
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    install_context_filter()
    yield sinks
    logger.removeHandler(handler)


async def run_one(exported: Exported) -> dict[str, Any]:
    exported.spans.clear()
    exported.logs.clear()
    sink = FakeEventSink()
    await handle_message(message(sample()), dependencies(sink=sink), traceparent=TRACEPARENT)
    [event] = sink.events
    return event


async def test_every_record_of_an_invocation_carries_the_dimensions(exported: Exported) -> None:
    await run_one(exported)
    records = [r.log_record for r in exported.logs.get_finished_logs()]
    assert len(records) >= 3
    for record in records:
        attributes = dict(record.attributes or {})
        assert set(DIMENSIONS) <= set(attributes), record.body
        assert (attributes["requestId"], attributes["crmAccountId"]) == ("crm-se-0001", "ACC-SE-000123")
        assert attributes["correlationId"] == "b0b6f3c4e1f84c55"
        assert attributes["msRequestId"] == ms_request_id_for("crm-se-0001")
        assert attributes["outcome"] in ("pending", "created")
    assert dict(records[-1].attributes or {})["outcome"] == "created"


async def test_the_trace_flows_from_the_host_into_the_event(exported: Exported) -> None:
    event = await run_one(exported)
    [span] = [s for s in exported.spans.get_finished_spans() if s.name == "onboard_customer"]
    assert f"{span.context.trace_id:032x}" == TRACE_ID
    assert event["traceparent"].startswith(f"00-{TRACE_ID}-")


async def test_outcomes_and_partner_center_calls_are_counted(exported: Exported) -> None:
    await run_one(exported)
    data = exported.metrics.get_metrics_data()
    assert data is not None
    points = {
        metric.name: [dict(p.attributes or {}) for p in metric.data.data_points]
        for resource in data.resource_metrics
        for scope in resource.scope_metrics
        for metric in scope.metrics
    }
    assert {"type": "created", "reason": ""} in points["onboarding.outcomes"]


def counted(exported: Exported, name: str) -> float:
    data = exported.metrics.get_metrics_data()
    total = 0.0
    for resource in data.resource_metrics if data else []:
        for scope in resource.scope_metrics:
            for metric in scope.metrics:
                if metric.name == name:
                    total += sum(float(getattr(point, "value", 0)) for point in metric.data.data_points)
    return total


async def test_a_request_id_reused_with_other_content_after_created_is_counted(exported: Exported) -> None:
    deps = dependencies()
    await handle_message(message(sample()), deps)
    before = counted(exported, "onboarding.reused_request_ids")
    await handle_message(message(sample()), deps)  # the same content again: a plain redelivery
    other: dict[str, Any] = sample()
    other["customer"]["domainPrefix"] = "somethingelse"
    await handle_message(message(other), deps)
    assert counted(exported, "onboarding.reused_request_ids") == before + 1


async def test_no_exported_record_carries_the_password(exported: Exported) -> None:
    event = await run_one(exported)
    # The password was there to leak: Partner Center's answer carried it, and the pipeline logged and traced the
    # invocation that handled it.
    assert customer_payload().userCredentials.password.get_secret_value() == ADMIN_PASSWORD  # type: ignore[union-attr]
    assert event["type"] == "csp.onboarding.customer.created"
    assert len(exported.logs.get_finished_logs()) >= 3 and exported.spans.get_finished_spans()
    exported_text = json.dumps(
        [[str(r.log_record.body), dict(r.log_record.attributes or {})] for r in exported.logs.get_finished_logs()]
        + [dict(s.attributes or {}) for s in exported.spans.get_finished_spans()],
        default=str,
    )
    assert ADMIN_PASSWORD not in exported_text
    assert ADMIN_PASSWORD not in json.dumps(event)


# --- what the Functions worker exports ------------------------------------------------------------------------
# In Azure the worker calls configure_azure_monitor() with the root logger (PYTHON_APPLICATIONINSIGHTS_LOGGER_NAME
# unset), which puts OpenTelemetry's LoggingHandler there: the same handler class, on the same logger, here.


@pytest.fixture
def worker_export() -> Iterator[InMemoryLogRecordExporter]:
    from opentelemetry.instrumentation.logging.handler import LoggingHandler as WorkerLoggingHandler

    sink = InMemoryLogRecordExporter()
    provider = LoggerProvider()
    provider.add_log_record_processor(SimpleLogRecordProcessor(sink))
    handler = WorkerLoggingHandler(level=logging.INFO, logger_provider=provider)
    root = logging.getLogger()
    root.addHandler(handler)
    install_redaction()
    install_context_filter()  # as bootstrap does, after the worker installed its handler
    yield sink
    root.removeHandler(handler)


def exported_records(sink: InMemoryLogRecordExporter) -> list[tuple[str, dict[str, Any]]]:
    return [(str(r.log_record.body), dict(r.log_record.attributes or {})) for r in sink.get_finished_logs()]


def test_records_of_every_library_reach_the_worker_export_with_the_dimensions(
    worker_export: InMemoryLogRecordExporter,
) -> None:
    with log_context(requestId="crm-se-0001", crmAccountId="ACC-SE-000123", outcome="pending"):
        logging.getLogger("azure.data.tables").warning("ledger write throttled")
        logging.getLogger("aiohttp.client").error("connection reset")
        logging.getLogger().warning("a bare logging.warning")
        logging.getLogger("csp_onboarding").warning("retrying", extra={"outcome": "retry"})
    logging.getLogger("azure.data.tables").warning("between invocations")
    records = dict(exported_records(worker_export))
    for body in ("ledger write throttled", "connection reset", "a bare logging.warning"):
        assert (records[body]["requestId"], records[body]["outcome"]) == ("crm-se-0001", "pending"), body
    assert records["retrying"]["outcome"] == "retry"  # a value given with the record wins over the context's
    assert "requestId" not in records["between invocations"]


def test_what_the_worker_exports_is_redacted(worker_export: InMemoryLogRecordExporter) -> None:
    planted = "k3y-" + "9f2c71d0b4e85a36"
    remember_secret(planted)
    logging.getLogger("azure.identity").warning("token request with %s failed", planted)
    logging.getLogger("aiohttp.client").warning("Authorization: Bearer abcdefghijklmnop.qrstuvwx")
    exported = json.dumps(exported_records(worker_export))
    assert planted not in exported and "abcdefghijklmnop" not in exported
    assert exported.count(REDACTED) == 2


def test_the_app_configures_no_exporter_when_the_worker_exports() -> None:
    # A fresh interpreter: what configure_telemetry() does at the first invocation of a deployed worker.
    script = (
        "import logging\n"
        "from opentelemetry import trace\n"
        "from handlers.observability.telemetry import configure_telemetry\n"
        "before = list(logging.getLogger().handlers)\n"
        "print(configure_telemetry(), logging.getLogger().handlers == before,\n"
        "      type(trace.get_tracer_provider()).__name__, logging.getLogger('csp_onboarding').propagate,\n"
        "      logging.getLevelName(logging.getLogger('azure').level))\n"
    )
    env = {
        **os.environ,
        "PYTHON_APPLICATIONINSIGHTS_ENABLE_TELEMETRY": "true",
        "APPLICATIONINSIGHTS_CONNECTION_STRING": "InstrumentationKey=00000000-0000-0000-0000-000000000000",
    }
    env.pop("OTEL_CONSOLE_EXPORT", None)
    result = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, check=True)
    assert result.stdout.split() == ["worker", "True", "ProxyTracerProvider", "True", "WARNING"]


@pytest.mark.parametrize(
    ("environ", "expected"),
    [
        ({"PYTHON_APPLICATIONINSIGHTS_ENABLE_TELEMETRY": "true", "OTEL_CONSOLE_EXPORT": "true"}, "worker"),
        ({"PYTHON_APPLICATIONINSIGHTS_ENABLE_TELEMETRY": "1"}, "worker"),
        ({"PYTHON_ENABLE_OPENTELEMETRY": "true", "APPLICATIONINSIGHTS_CONNECTION_STRING": "x"}, "none"),
        ({"OTEL_CONSOLE_EXPORT": "TRUE"}, "console"),
        ({}, "none"),
    ],
)
def test_one_exporter_is_chosen(environ: dict[str, str], expected: str) -> None:
    assert exporter_for(environ) == expected
