"""Hostile requests (issue 14): each is answered by exactly one `failed` event naming the field, never an exception,
and the event can always be encoded and carries no control character."""

from __future__ import annotations

import json
from typing import Any

import pytest

from handlers.domain.bounded_json import MAX_DEPTH
from handlers.domain.failures import Reason
from handlers.domain.request import CustomerRequest, InvalidRequest, parse_message
from handlers.onboarding.pipeline import handle_message
from tests.fakes import FakeEventSink, FakePartnerCenter, dependencies, message, sample


def with_value(path: str, value: Any, data: dict[str, Any] | None = None) -> dict[str, Any]:
    data = data if data is not None else sample()
    *parents, leaf = path.split(".")
    target = data
    for part in parents:
        target = target[part]
    target[leaf] = value
    return data


def raw_with(path: str, raw_json: str) -> bytes:
    """A sample message whose field at `path` holds `raw_json` verbatim (what json.dumps cannot write)."""
    marker = "@@raw@@"
    return json.dumps(with_value(path, marker)).replace(f'"{marker}"', raw_json).encode()


async def answered(body: bytes) -> dict[str, Any]:
    """Run the message through the pipeline; the one event it published, as it went on the wire."""
    sink, partner_center = FakeEventSink(), FakePartnerCenter()
    await handle_message(body, dependencies(partner_center, sink))
    assert len(sink.events) == 1, sink.events
    [event] = sink.events
    json.dumps(event, ensure_ascii=False).encode("utf-8")  # the publisher's encoding: must not raise
    assert partner_center.calls == []  # refused before any Partner Center call
    return event


def assert_inert(event: dict[str, Any]) -> None:
    """No attribute or echoed id carries a control character or a lone surrogate."""
    for value in (event["subject"], event.get("correlationid"), event["data"]["requestId"]):
        if value is not None:
            assert value.isprintable() or all(c.isprintable() or c == " " for c in value), repr(value)


HOSTILE_FIELDS = [
    ("crmAccountId", "ACC-1\r\nX-Injected: yes", "control_character"),
    ("correlationId", "\x1b[2J\x07", "control_character"),
    ("crmAccountId", "ACC-1\x00", "control_character"),
    ("correlationId", "corr\x00elation", "control_character"),
    ("requestId", " crm-0001", "surrounding_whitespace"),
    ("requestId", "crm-0001\t", "surrounding_whitespace"),
    ("customer.companyName", "\u200b\u200b\u200b", "not_visible"),
    ("customer.companyName", "\u3164\u2800", "not_visible"),
    ("customer.companyName", "Wingtip\x00Toys", "control_character"),
    ("customer.companyName", "Wingtip\x07Toys", "control_character"),
    ("customer.companyName", "Wingtip\x1b[31mToys", "control_character"),
    ("customer.companyName", "Wingtip \u202eSYOT", "control_character"),
    ("customer.address.city", "Stockholm\u2028Injected", "control_character"),
    ("customer.email", "<script>@evil.com", "pattern"),
    ("customer.email", "it@wingtiptoys.se\u200b", "pattern"),
]


@pytest.mark.parametrize(("path", "value", "code"), HOSTILE_FIELDS)
async def test_a_hostile_value_is_refused_naming_its_field(path: str, value: str, code: str) -> None:
    event = await answered(message(with_value(path, value)))
    data = event["data"]
    assert (data["reason"], data["retryable"]) == (Reason.INVALID_REQUEST.value, False)
    assert [(e["field"], e["code"]) for e in data["errors"]] == [(path, code)]
    assert data["message"].startswith(f"The request is invalid: {path} ")  # one sentence, naming the field
    assert_inert(event)
    assert value not in json.dumps(event, ensure_ascii=False) or value.isprintable()


@pytest.mark.parametrize("field", ["requestId", "crmAccountId", "correlationId"])
async def test_a_lone_surrogate_is_refused_and_its_echo_replaced(field: str) -> None:
    event = await answered(raw_with(field, '"ACC\\ud83d"'))  # an emoji cut in half by a UTF-16 producer
    [error] = event["data"]["errors"]
    assert (error["field"], error["code"]) == (field, "lone_surrogate")
    assert "surrogate" in error["message"] and "Input should be" not in error["message"]  # ours, not pydantic's
    echoed = {"requestId": event["data"]["requestId"], "crmAccountId": event["data"]["crmAccountId"]}
    echoed["correlationId"] = event.get("correlationid")
    assert echoed[field] == "ACC\ufffd"
    assert_inert(event)


@pytest.mark.parametrize("path", ["crmAccountId", "customer.address.postalCode", "crmMetadata"])
async def test_an_integer_too_long_for_python_is_refused_naming_where_it_is(path: str) -> None:
    event = await answered(raw_with(path, "9" * 4400))
    assert [(e["field"], e["code"]) for e in event["data"]["errors"]] == [(path, "number_too_long")]


async def test_a_name_given_twice_is_refused_not_read_as_the_last_one() -> None:
    # A CRM whose parser keeps the first value would mean another request than the one we would read.
    text = message(sample()).decode()
    twice = text.replace('"requestId": "crm-se-0001"', '"requestId": "crm-se-0001", "requestId": "crm-se-0002"', 1)
    assert twice != text
    event = await answered(twice.encode())
    assert [(e["field"], e["code"]) for e in event["data"]["errors"]] == [("requestId", "duplicate_name")]
    assert event["data"]["reason"] == "invalid_request"


async def test_deep_nesting_is_refused_as_too_deep_not_as_invalid_json() -> None:
    deep = "[" * (MAX_DEPTH + 1) + "]" * (MAX_DEPTH + 1)
    event = await answered(raw_with("crmMetadata", deep))
    assert [(e["field"], e["code"]) for e in event["data"]["errors"]] == [(None, "too_deep")]
    assert "deep" in event["data"]["message"]


def test_nesting_that_would_overflow_the_stack_is_refused_before_parsing() -> None:
    result = parse_message(b"[" * 30_000 + b"]" * 30_000)  # within 64 KiB, far beyond the recursion limit
    assert isinstance(result, InvalidRequest)
    assert [e.code for e in result.errors] == ["too_deep"]


def test_brackets_inside_strings_do_not_count_as_nesting() -> None:
    data = with_value("customer.companyName", "[[[[{{{{" * 40)
    result = parse_message(message(data))
    assert isinstance(result, InvalidRequest)  # too long a name, but read
    assert [e.code for e in result.errors] == ["too_long"]


def test_a_message_just_under_the_limit_with_numbers_just_under_python_s_is_read() -> None:
    result = parse_message(raw_with("crmMetadata", "9" * 4300))
    assert isinstance(result, CustomerRequest)


def test_a_state_code_is_sent_as_partner_center_lists_it() -> None:
    data = sample("tr-anadolu-oyuncak")  # registration number and phone, as BR needs
    data["customer"]["address"].update(country="BR", state="sp")
    data["customer"].update(culture="PT-br", language="PT")
    result = parse_message(message(data))
    assert isinstance(result, CustomerRequest)
    assert result.customer.address.state == "SP"
    assert (result.customer.culture, result.customer.language) == ("pt-BR", "pt")


def test_a_state_name_is_kept_as_written() -> None:
    result = parse_message(message(with_value("customer.address.state", "Goa")))
    assert isinstance(result, CustomerRequest) and result.customer.address.state == "Goa"


def test_strings_are_compared_and_sent_in_nfc() -> None:
    decomposed = "Lindqvist Leksaker Mo\u0308lndal"  # o + combining diaeresis
    result = parse_message(message(with_value("customer.companyName", decomposed)))
    assert isinstance(result, CustomerRequest)
    assert result.customer.companyName == "Lindqvist Leksaker Mölndal"
    assert len(result.customer.companyName) == len(decomposed) - 1


def test_an_email_is_normalised_by_the_validator() -> None:
    result = parse_message(message(with_value("customer.email", "IT@WingtipToys.SE")))
    assert isinstance(result, CustomerRequest) and result.customer.email == "IT@wingtiptoys.se"


def test_names_with_joiners_that_scripts_need_are_accepted() -> None:
    persian = "\u0645\u06cc\u200c\u062e\u0648\u0627\u0647\u0645"  # a ZWNJ inside a Persian word
    assert isinstance(parse_message(message(with_value("customer.companyName", persian))), CustomerRequest)


async def test_one_broken_rule_is_worded_as_one_and_several_as_several() -> None:
    one = await answered(message(with_value("customer.email", "nope")))
    assert (
        one["data"]["message"]
        == "The request is invalid: customer.email must be an e-mail address like it@example.com."
    )
    two = with_value("customer.email", "nope", with_value("customer.language", "swe"))
    several = await answered(message(two))
    assert several["data"]["message"] == "The request breaks 2 rules; see errors."


def test_a_message_given_as_text_with_a_lone_surrogate_is_answered() -> None:
    result = parse_message('{"requestId": "\ud800"}')  # text, not bytes: cannot even be UTF-8
    assert isinstance(result, InvalidRequest) and [e.code for e in result.errors] == ["not_utf8"]
