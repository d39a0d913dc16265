"""The app as the Functions host indexes it: both functions, with the right bindings."""

from __future__ import annotations

import inspect
import json
from pathlib import Path
from typing import Any

import pytest

from devhost.hostjson import load_queue_options, timespan_seconds
from devhost.indexing import app_functions

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def indexed() -> list[Any]:
    """The app's functions, indexed once per process as the local host does (the library refuses a second
    indexing of the same app)."""
    return list(app_functions("function_app"))


def test_the_host_finds_both_queue_functions_and_the_retention_timer(indexed: list[Any]) -> None:
    functions = {f.get_function_name(): json.loads(f.get_function_json()) for f in indexed}
    queue_and_timer = {
        "onboard_customer", "report_exhausted_request", "purge_ledger", "refresh_app_user_token",
        "release_pending_records",
    }  # fmt: skip
    assert queue_and_timer <= set(functions)
    assert set(functions) - queue_and_timer == set(HTTP_ROUTES)
    timer = functions["purge_ledger"]["bindings"]
    assert [(b["type"], b["schedule"]) for b in timer] == [("timerTrigger", "0 17 3 * * *")]
    sweep = functions["release_pending_records"]["bindings"]
    assert [(b["type"], b["schedule"]) for b in sweep] == [("timerTrigger", "*/30 * * * * *")]
    daily = functions["refresh_app_user_token"]["bindings"]
    assert [(b["type"], b["schedule"]) for b in daily] == [("timerTrigger", "0 41 4 * * *")]
    main = functions["onboard_customer"]["bindings"]
    poison = functions["report_exhausted_request"]["bindings"]
    assert main == [
        {
            "direction": "IN",
            "type": "queueTrigger",
            "name": "msg",
            "queueName": "%CUSTOMER_REQUESTS_QUEUE%",
            "connection": "CrmQueue",
        }
    ]
    assert poison[0]["queueName"] == "%CUSTOMER_REQUESTS_QUEUE%-poison"
    assert poison[0]["connection"] == "CrmQueue"
    assert len(poison) == 1


# Contract §6: route, method; every one of them needs a function key.
HTTP_ROUTES = {
    "accept_customer_request": ("customer-requests", "POST"),
    "validate_customer_request": ("customer-requests/validate", "POST"),
    "get_customer_request": ("customer-requests/{requestId}", "GET"),
    "accept_dataverse_webhook": ("crm/dataverse", "POST"),
    "accept_salesforce_message": ("crm/salesforce", "POST"),
}


def test_the_http_functions_serve_the_contract_routes_with_a_function_key(indexed: list[Any]) -> None:
    functions = {f.get_function_name(): json.loads(f.get_function_json()) for f in indexed}
    for name, (route, method) in HTTP_ROUTES.items():
        trigger, output = functions[name]["bindings"]
        assert (trigger["type"], trigger["route"], trigger["methods"]) == ("httpTrigger", route, [method])
        assert trigger["authLevel"] == "FUNCTION"
        assert (output["type"], output["name"]) == ("http", "$return")


ALL_FUNCTIONS = {
    "onboard_customer", "report_exhausted_request", "purge_ledger", "refresh_app_user_token", "release_pending_records",
    *HTTP_ROUTES,
}  # fmt: skip


def test_each_function_takes_its_trigger_alone(indexed: list[Any]) -> None:
    assert {f.get_function_name() for f in indexed} == ALL_FUNCTIONS  # every function is checked below
    for function in indexed:
        [binding] = [b for b in function.get_bindings() if b.type.endswith("Trigger")]
        assert list(inspect.signature(function.get_user_function()).parameters) == [binding.name]


def test_the_functions_are_async(indexed: list[Any]) -> None:
    assert {f.get_function_name() for f in indexed} == ALL_FUNCTIONS
    for function in indexed:
        assert inspect.iscoroutinefunction(function.get_user_function())


def test_host_json_states_its_queue_settings_explicitly() -> None:
    queues = json.loads((ROOT / "host.json").read_text())["extensions"]["queues"]
    for key in ("messageEncoding", "maxDequeueCount", "visibilityTimeout", "batchSize"):
        assert key in queues
    options = load_queue_options(ROOT / "host.json")
    assert options.message_encoding == "none"
    assert options.max_dequeue_count == 5


def test_timespans() -> None:
    assert timespan_seconds("00:00:30") == 30
    assert timespan_seconds("1.02:03:04.5") == 86400 + 7384.5
