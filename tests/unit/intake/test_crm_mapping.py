"""The §6 field map: defaults, CRM_FIELD_MAP, country names, errors in the CRM's words, derived requestIds."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from handlers.domain.request import CustomerRequest
from handlers.intake.crm.mapping import CrmRecord, country_code, load_field_map, map_record

ACCOUNT = {
    "accountid": "6a4b2f1e-8c3d-4e5f-9a0b-1c2d3e4f5a6b",
    "name": "Wingtip Toys AB",
    "address1_line1": "Kungsgatan 12",
    "address1_city": "Stockholm",
    "address1_postalcode": "111 43",
    "address1_country": "Sweden",
    "telephone1": "+46 8 555 010",
    "emailaddress1": "it@wingtip.se",
    "csp_domainprefix": "wingtiptoysab",
    "csp_contactfirstname": "Sigrid",
    "csp_contactlastname": "Holm",
    "csp_culture": "sv-SE",
    "csp_language": "sv",
}


def record(**changes: Any) -> CrmRecord:
    attributes = {**ACCOUNT, **changes}
    return CrmRecord("dataverse", "org-1", str(attributes["accountid"]), attributes, "corr-1")


def mapped(**changes: Any) -> CustomerRequest:
    result = map_record(record(**changes), load_field_map())
    assert isinstance(result, CustomerRequest), result
    return result


@pytest.mark.parametrize(
    ("given", "code"),
    [("SE", "SE"), ("se", "SE"), ("SWE", "SE"), ("Sweden", "SE"), ("Türkiye", "TR"), ("Turkey", "TR"),
     ("United Kingdom", "GB"), ("UK", "GB"), ("  the   Netherlands ", "NL"), ("Germany", "DE"), ("USA", "US"),
     ("Turkiye", "TR"), ("Cote d\u2019Ivoire", "CI"), ("C\u00f4te d'Ivoire", "CI"), ("Curacao", "CW"),
     ("Atlantis", None), ("XX", None), ("", None)],
)  # fmt: skip
def test_country_names_and_codes_become_iso_alpha2(given: str, code: str | None) -> None:
    assert country_code(given) == code


def test_a_dataverse_account_maps_to_a_request_through_the_default_map() -> None:
    request = mapped()
    assert request.customer.address.country == "SE"
    assert request.crmAccountId == ACCOUNT["accountid"]
    assert request.correlationId == "corr-1"
    assert request.customer.domainPrefix == "wingtiptoysab"
    assert request.requestId.startswith(f"dv:org-1:{ACCOUNT['accountid']}:")


def test_the_request_id_changes_with_the_mapped_content_only() -> None:
    first = mapped().requestId
    assert mapped().requestId == first  # a replayed webhook is the same request
    assert mapped(description="an unmapped column changed").requestId == first
    assert mapped(address1_city="Uppsala").requestId != first  # an edited account is a new attempt


def test_an_unmappable_record_is_answered_in_the_crms_own_field_names() -> None:
    errors = map_record(record(address1_city=None, address1_country="Atlantis", emailaddress1="nope"), load_field_map())
    assert isinstance(errors, list)
    assert {(e.field, e.code) for e in errors} == {
        ("address1_city", "required"),
        ("address1_country", "country_unknown"),
        ("emailaddress1", "pattern"),
    }
    assert all(e.message.startswith(str(e.field)) for e in errors)
    assert not any("customer." in e.message for e in errors)


def test_the_registration_rule_names_the_crm_field_too() -> None:
    errors = map_record(record(address1_country="Türkiye"), load_field_map())
    assert isinstance(errors, list)
    assert [e.field for e in errors] == ["csp_registrationnumber"]


def salesforce(**fields: Any) -> CrmRecord:
    base = {"Id": "001A", "Name": "Ege Yelken", "BillingStreet": "Vasagatan 7\n3 tr\nhuset", "BillingCity": "Göteborg",
            "BillingPostalCode": "411 06", "BillingCountry": "Sweden", "Csp_Billing_Email__c": "it@ege.se",
            "Csp_Contact_First_Name__c": "Lars", "Csp_Contact_Last_Name__c": "Berg", "Csp_Culture__c": "sv-SE",
            "Csp_Language__c": "sv", "Csp_Domain_Prefix__c": "egeyelken"}  # fmt: skip
    return CrmRecord("salesforce", "00D1", "001A", {**base, **fields}, "04l1")


def test_salesforce_names_the_country_when_picklists_are_off_and_streets_span_lines() -> None:
    request = map_record(salesforce(), load_field_map())
    assert isinstance(request, CustomerRequest), request
    address = request.customer.address
    assert (address.country, address.addressLine1, address.addressLine2, address.addressLine3) == (
        "SE", "Vasagatan 7", "3 tr", "huset"
    )  # fmt: skip
    with_code = map_record(salesforce(BillingCountryCode="NL", BillingCountry="Sweden"), load_field_map())
    assert isinstance(with_code, CustomerRequest)
    assert with_code.customer.address.country == "NL"  # the picklist's code wins over the name


def test_crm_field_map_replaces_paths_and_keeps_the_others(tmp_path: Path) -> None:
    custom = {"dataverse": {"customer.domainPrefix": "new_prefix", "customer.culture": "new_culture"}}
    for setting in (json.dumps(custom), str(tmp_path / "map.json")):
        (tmp_path / "map.json").write_text(json.dumps(custom))
        field_map = load_field_map(setting)
        assert field_map.for_crm("dataverse")["customer.domainPrefix"] == "new_prefix"
        assert field_map.for_crm("dataverse")["customer.companyName"] == "name"  # default kept
        assert field_map.for_crm("salesforce")["customer.companyName"] == "Name"
    request = map_record(record(new_prefix="renamedprefix", new_culture="sv-SE"), load_field_map(json.dumps(custom)))
    assert isinstance(request, CustomerRequest)
    assert request.customer.domainPrefix == "renamedprefix"


@pytest.mark.parametrize(
    "setting",
    ['{"hubspot": {}}', '{"dataverse": {"customer.password": "x"}}', '{"dataverse": {"customer.email": ""}}',
     "[1, 2]", "{not json"],
)  # fmt: skip
def test_a_broken_field_map_is_refused_at_start(setting: str) -> None:
    with pytest.raises(ValueError):  # noqa: PT011 — the message varies with what is broken
        load_field_map(setting)


def test_odd_record_ids_still_give_a_valid_request_id() -> None:
    odd = CrmRecord("dataverse", "org with spaces/and#hash", "id?" * 60, {**ACCOUNT}, None)
    request = map_record(odd, load_field_map())
    assert isinstance(request, CustomerRequest)
    assert len(request.requestId) <= 128
