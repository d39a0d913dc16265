"""The operator's workbook, checked as text (no Bicep compiler here): deployed on Application Insights, its panels
are the saved KQL files (one copy each), and those queries look for what the code actually logs."""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest

from handlers.http_triggers import answered
from handlers.intake.http_bodies import Answer, json_answer
from handlers.observability.logs import ContextFilter
from handlers.triggers import run_safely

ROOT = Path(__file__).resolve().parents[3]
INFRA = ROOT / "infra"
WORKBOOK = INFRA / "app" / "workbook.bicep"

# What the operator asked to see → the saved query the workbook shows it with.
PANELS = {
    "outcomes per hour by type and reason": "outcomes-per-hour.kql",
    "Partner Center latency": "partner-center-latency.kql",
    "Partner Center throttling, by function": "partner-center-throttling.kql",
    "the shared budget's use, by function": "partner-center-budget.kql",
    "the shared budget's health per instance": "partner-center-budget-health.kql",
    "deferred requests and refused validations": "backpressure.kql",
    "poisoned and parked counts": "poisoned-and-parked.kql",
    "a request's timeline by requestId": "request-timeline.kql",
}


def test_main_deploys_the_workbook_on_application_insights() -> None:
    main = (INFRA / "main.bicep").read_text()
    assert re.search(
        r"module workbook 'app/workbook.bicep' = \{.*?applicationInsightsName: monitoring\.outputs", main, re.S
    )
    text = WORKBOOK.read_text()
    assert "resource workbook 'Microsoft.Insights/workbooks@" in text
    assert "sourceId: appInsights.id" in text and "kind: 'shared'" in text
    assert "serializedData: string({" in text and "version: 'Notebook/1.0'" in text


@pytest.mark.parametrize("need", sorted(PANELS))
def test_each_panel_is_a_saved_query_loaded_not_copied(need: str) -> None:
    text = WORKBOOK.read_text()
    assert f"loadTextContent('../queries/{PANELS[need]}')" in text, need
    assert (INFRA / "queries" / PANELS[need]).exists()


def test_no_query_is_written_inline() -> None:
    text = WORKBOOK.read_text()
    assert "traces" not in text and "summarize" not in text and "customDimensions" not in text
    panels = re.findall(r"^  (?:union\()?panel\('(\w+)', '[^']+', ([^,]+(?:\([^)]*\))?),", text, re.MULTILINE)
    assert len(panels) >= len(PANELS)
    for name, query in panels:
        assert query.startswith("loadTextContent('../queries/") or query == "timelineQuery", name


def test_the_timeline_asks_for_the_request_the_saved_query_names_as_an_example() -> None:
    text = WORKBOOK.read_text()
    [example] = re.findall(r"var timelineExample = '(.*)'$", text, re.MULTILINE)
    saved = (INFRA / "queries" / "request-timeline.kql").read_text()
    assert saved.count(example) == 1, "the replace() would silently leave the example request in the workbook"
    assert 'let wanted = "{requestId}";' in text and "name: 'requestId'" in text
    assert "conditionalVisibility: { parameterName: 'requestId'" in text


def _logged_prefixes() -> set[str]:
    """The fixed start of every log message handlers/ writes (the text before its first placeholder)."""
    prefixes = set()
    for path in (ROOT / "handlers").rglob("*.py"):
        for message in re.findall(r"log\.(?:debug|info|warning|error|exception)\(\s*\"([^\"]+)\"", path.read_text()):
            prefixes.add(message.split("%", 1)[0])
    return prefixes


def _logged_dimensions() -> set[str]:
    """Every custom dimension handlers/ names: `extra=` keys and log_context / calls_as fields."""
    names: set[str] = set()
    for path in (ROOT / "handlers").rglob("*.py"):
        text = path.read_text()
        names |= set(re.findall(r'"([a-z][A-Za-z]+)":', text)) | set(re.findall(r"\b([a-z][A-Za-z]+)=", text))
    return names


@pytest.mark.parametrize("path", sorted((INFRA / "queries").glob("*.kql")), ids=lambda p: p.name)
def test_each_query_reads_dimensions_the_code_logs(path: Path) -> None:
    logged = _logged_dimensions()
    for wanted in re.findall(r"customDimensions\.(\w+)", path.read_text()):
        assert wanted in logged, f"{path.name}: customDimensions.{wanted}"


def _function_of_a_record_logged_inside(run: Callable[[Callable[[], Awaitable[Any]]], Awaitable[object]]) -> object:
    record = logging.LogRecord("csp_onboarding", logging.INFO, __file__, 1, "a Partner Center call", None, None)

    async def work() -> Answer:
        ContextFilter().filter(record)  # what the exporter's handler filter does to each record
        return json_answer(200, {})

    asyncio.run(run(work))  # type: ignore[arg-type]
    return getattr(record, "function", None)


def test_partner_center_calls_are_logged_by_function_and_budget() -> None:
    # The workbook shows the budget's use and the 429s per function: every invocation's records carry its function
    # (queue and timer functions through run_safely, HTTP functions through answered), and every Partner Center
    # call's its budget lane (calls_as).
    assert _function_of_a_record_logged_inside(lambda w: run_safely("onboard_customer", w)) == "onboard_customer"
    http = _function_of_a_record_logged_inside(lambda w: answered("validate_customer_request", w))
    assert http == "validate_customer_request"
    budget = (ROOT / "handlers" / "onboarding" / "budget.py").read_text()
    assert "log_context(budget=call_class.name.lower())" in budget


@pytest.mark.parametrize("path", sorted((INFRA / "queries").glob("*.kql")), ids=lambda p: p.name)
def test_each_query_looks_for_messages_the_code_logs(path: Path) -> None:
    logged = _logged_prefixes()
    for wanted in re.findall(r'message startswith "([^"]+)"', path.read_text()):
        assert any(wanted.startswith(p) or p.startswith(wanted) for p in logged if p), f"{path.name}: {wanted!r}"
