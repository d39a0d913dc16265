"""The request model: every rule of contract §1, field errors with dotted paths, and no exceptions."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from handlers.domain.request import MAX_MESSAGE_BYTES, CustomerRequest, InvalidRequest, parse_message
from tests.fakes import message, sample


def errors_of(data: dict[str, Any] | bytes) -> dict[str | None, str]:
    result = parse_message(data if isinstance(data, bytes) else message(data))
    assert isinstance(result, InvalidRequest), result
    return {e.field: e.code for e in result.errors}


@pytest.mark.parametrize("name", ["se-wingtip-toys", "tr-anadolu-oyuncak", "nl-fietsfabriek"])
def test_samples_are_valid_requests(name: str) -> None:
    result = parse_message(message(sample(name)))
    assert isinstance(result, CustomerRequest)
    assert result.requestId == sample(name)["requestId"]


@pytest.mark.parametrize("version", ["1", "1.0", "1.3", "1.10"])
def test_major_version_one_is_accepted(version: str) -> None:
    assert isinstance(parse_message(message({**sample(), "schemaVersion": version})), CustomerRequest)


@pytest.mark.parametrize("version", ["2.0", "0.9", "", "v1", "11"])
def test_other_versions_are_invalid(version: str) -> None:
    assert errors_of({**sample(), "schemaVersion": version})["schemaVersion"] in ("unsupported_version", "required")


@pytest.mark.parametrize(
    ("path", "value", "code"),
    [
        ("requestId", "has spaces", "pattern"),
        ("requestId", "x" * 129, "too_long"),
        ("requestId", None, "wrong_type"),
        ("crmAccountId", "", "required"),
        ("correlationId", "c" * 129, "too_long"),
        ("customer.companyName", "   ", "required"),
        ("customer.domainPrefix", "wingtip-toys", "pattern"),
        ("customer.domainPrefix", "wingtip.onmicrosoft.com", "pattern"),
        ("customer.domainPrefix", "a" * 28, "too_long"),
        ("customer.email", "not-an-email", "pattern"),
        ("customer.culture", "swedish", "pattern"),
        ("customer.language", "swe", "pattern"),
        ("customer.enableGdapByDefault", "yes", "wrong_type"),
        ("customer.address.firstName", "F" * 51, "too_long"),
        ("customer.address.addressLine1", "", "required"),
        ("customer.address.addressLine2", "L" * 201, "too_long"),
        ("customer.address.country", "UK", "country_not_iso"),
        ("customer.address.country", "ZZ", "country_not_iso"),
        ("indirectResellerId", "not-a-guid", "not_a_guid"),
    ],
)
def test_each_rule_names_its_field(path: str, value: Any, code: str) -> None:
    data = sample()
    *parents, leaf = path.split(".")
    target = data
    for part in parents:
        target = target[part]
    target[leaf] = value
    assert errors_of(data) == {path: code}


def test_uk_gets_a_hint_towards_gb() -> None:
    data = sample()
    data["customer"]["address"]["country"] = "UK"
    result = parse_message(message(data))
    assert isinstance(result, InvalidRequest)
    assert "use GB instead of UK" in result.errors[0].message


def test_missing_fields_are_all_reported_at_once() -> None:
    data = sample()
    del data["crmAccountId"]
    del data["customer"]["email"]
    del data["customer"]["address"]["city"]
    assert errors_of(data) == {
        "crmAccountId": "required",
        "customer.email": "required",
        "customer.address.city": "required",
    }


def test_registration_countries_need_registration_number_and_phone() -> None:
    data = sample("tr-anadolu-oyuncak")
    data["customer"]["organizationRegistrationNumber"] = None
    data["customer"]["address"]["phoneNumber"] = " "
    assert errors_of(data) == {
        "customer.organizationRegistrationNumber": "required_for_country",
        "customer.address.phoneNumber": "required_for_country",
    }


def test_other_countries_need_neither() -> None:
    data = sample("se-wingtip-toys")
    data["customer"]["address"]["phoneNumber"] = None
    assert isinstance(parse_message(message(data)), CustomerRequest)


def test_country_is_normalised_to_upper_case() -> None:
    data = sample()
    data["customer"]["address"]["country"] = "se"
    result = parse_message(message(data))
    assert isinstance(result, CustomerRequest) and result.customer.address.country == "SE"


def test_unknown_fields_are_ignored() -> None:
    assert isinstance(parse_message(message({**sample(), "crmOwner": "someone", "x": [1]})), CustomerRequest)


@pytest.mark.parametrize(
    ("body", "code"),
    [
        (b"not json", "not_json"),
        (b"[1, 2]", "not_an_object"),
        (b"\xff\xfe\x00", "not_utf8"),
        (b'{"a": "' + b"x" * MAX_MESSAGE_BYTES + b'"}', "too_large"),
    ],
)
def test_unreadable_messages(body: bytes, code: str) -> None:
    assert errors_of(body) == {None: code}


def test_invalid_request_echoes_what_it_could_read() -> None:
    data = {**sample(), "customer": "nope"}
    result = parse_message(message(data))
    assert isinstance(result, InvalidRequest)
    assert (result.request_id, result.crm_account_id) == (data["requestId"], data["crmAccountId"])


def test_base64_encoded_json_is_accepted() -> None:
    encoded = base64.b64encode(message(sample()))
    assert isinstance(parse_message(encoded), CustomerRequest)


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=40),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=5),
    max_leaves=25,
)


@settings(max_examples=300, deadline=None)
@given(json_values)
def test_any_json_yields_a_request_or_field_errors(value: Any) -> None:
    result = parse_message(json.dumps(value))
    assert isinstance(result, CustomerRequest | InvalidRequest)
    if isinstance(result, InvalidRequest):
        assert result.errors and all(e.code and e.message for e in result.errors)


def _paths(value: Any, prefix: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    if not isinstance(value, dict):
        return [prefix]
    return [prefix] + [p for k, v in value.items() for p in _paths(v, (*prefix, k))]


@settings(max_examples=300, deadline=None)
@given(st.data())
def test_any_mutation_of_a_valid_request_is_answered(data: st.DataObject) -> None:
    request = sample("tr-anadolu-oyuncak")
    path = data.draw(st.sampled_from([p for p in _paths(request) if p]))
    target = request
    for part in path[:-1]:
        target = target[part]
    if data.draw(st.booleans()):
        del target[path[-1]]
    else:
        target[path[-1]] = data.draw(json_values)
    result = parse_message(message(request))
    if isinstance(result, InvalidRequest):
        broken = ".".join(path)
        for error in result.errors:
            # Every error points at what was broken (or below or above it), or is the country rule it triggered.
            assert error.field is not None
            related = error.field.startswith(broken) or broken.startswith(error.field)
            assert related or error.code == "required_for_country", (broken, error)


@pytest.mark.parametrize(
    ("date_agreed", "code"),
    [("2026-01-15T09:30:00+02:00", "not_utc"), ("2999-01-01T00:00:00Z", "in_future"), ("2026-01-15", "timezone_aware")],
)  # fmt: skip
def test_mca_acceptance_needs_a_past_utc_time(date_agreed: str, code: str) -> None:
    data = sample()
    data["customer"]["mcaAcceptance"] = {
        "primaryContact": {"firstName": "A", "lastName": "B", "email": "a@b.se"}, "dateAgreed": date_agreed,
    }  # fmt: skip
    parsed = parse_message(message(data))
    assert isinstance(parsed, InvalidRequest)
    assert [(e.field, e.code) for e in parsed.errors][:1] == [("customer.mcaAcceptance.dateAgreed", code)]


def test_mca_acceptance_in_utc_is_read() -> None:
    data = sample()
    data["customer"]["mcaAcceptance"] = {
        "primaryContact": {"firstName": "A", "lastName": "B", "email": "a@b.se"}, "dateAgreed": "2026-01-15T09:30:00Z",
    }  # fmt: skip
    parsed = parse_message(message(data))
    assert not isinstance(parsed, InvalidRequest) and parsed.customer.mcaAcceptance is not None
    assert parsed.customer.mcaAcceptance.primaryContact.email == "a@b.se"
