"""Telemetry as exported: dimensions on every record, the trace in the event, metrics, and no password anywhere."""

from __future__ import annotations

import json
import logging
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

from handlers.create import ms_request_id_for
from handlers.logs import DIMENSIONS, install_context_filter
from handlers.pipeline import handle_message
from tests.fakes import ADMIN_PASSWORD, FakeEventSink, dependencies, message, sample

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


async def test_no_exported_record_carries_the_password(exported: Exported) -> None:
    event = await run_one(exported)
    exported_text = json.dumps(
        [[str(r.log_record.body), dict(r.log_record.attributes or {})] for r in exported.logs.get_finished_logs()]
        + [dict(s.attributes or {}) for s in exported.spans.get_finished_spans()],
        default=str,
    )
    assert ADMIN_PASSWORD not in exported_text
    assert ADMIN_PASSWORD not in json.dumps(event)
