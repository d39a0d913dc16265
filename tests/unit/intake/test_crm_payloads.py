"""Reading CRM payloads: the Dataverse RemoteExecutionContext and Salesforce outbound messages, hostile ones too."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

from handlers.domain.field_errors import FieldError
from handlers.intake.crm.dataverse import parse_context
from handlers.intake.crm.mapping import CrmRecord, LookupWithoutName
from handlers.intake.crm.salesforce import ack, fault, parse_outbound

CRM = Path(__file__).resolve().parents[3] / "samples" / "crm"
ENTITY = "Entity:http://schemas.microsoft.com/xrm/2011/Contracts"


def dataverse_sample() -> dict[str, Any]:
    return dict(json.loads((CRM / "dataverse-account-create.json").read_text(encoding="utf-8")))


def salesforce_sample() -> bytes:
    return (CRM / "salesforce-accounts.xml").read_bytes()


def image(**attributes: Any) -> dict[str, Any]:
    return {"__type": ENTITY, "LogicalName": "account", "Id": "x",
            "Attributes": [{"key": k, "value": v} for k, v in attributes.items()], "FormattedValues": []}  # fmt: skip


def test_the_dataverse_sample_reads_as_the_account_with_option_set_labels() -> None:
    record = parse_context(dataverse_sample())
    assert isinstance(record, CrmRecord)
    assert (record.organization, record.record_id) == (
        "c2e4a6b8-1d3f-4a5b-9c7d-0e2f4a6b8c0d", "6a4b2f1e-8c3d-4e5f-9a0b-1c2d3e4f5a6b"
    )  # fmt: skip
    assert record.attributes["csp_culture"] == "sv-SE"  # the OptionSetValue's label, not 100000001
    # A Target's lookup carries its id only ("Name": null): read as a lookup without a name, never as its GUID.
    assert isinstance(record.attributes["ownerid"], LookupWithoutName)
    assert record.correlation_id == "5e2b6c1f-7d0a-4c1e-9f3b-2a6d8e4c0b11"


def test_an_update_reads_pre_image_then_target_then_post_image() -> None:
    context = dataverse_sample()
    context["MessageName"] = "Update"
    context["InputParameters"][0]["value"] = image(address1_city="Uppsala")
    context["PreEntityImages"] = [{"key": "pre", "value": image(address1_city="Stockholm", name="Old name")}]
    context["PostEntityImages"] = [{"key": "post", "value": image(name="New name")}]
    record = parse_context(context)
    assert isinstance(record, CrmRecord)
    assert (record.attributes["address1_city"], record.attributes["name"]) == ("Uppsala", "New name")


@pytest.mark.parametrize(
    ("change", "field"),
    [({"PrimaryEntityName": "contact"}, "PrimaryEntityName"), ({"MessageName": "Delete"}, "MessageName"),
     ({"OrganizationId": None}, "OrganizationId"), ({"InputParameters": []}, "InputParameters.Target"),
     ({"InputParameters": "nonsense"}, "InputParameters.Target")],
)  # fmt: skip
def test_contexts_that_are_no_account_create_or_update_are_refused_by_field(change: dict[str, Any], field: str) -> None:
    errors = parse_context({**dataverse_sample(), **change})
    assert isinstance(errors, list)
    assert field in [e.field for e in errors]


def test_a_trimmed_context_says_why_the_account_is_missing() -> None:
    context = {**dataverse_sample(), "InputParameters": []}
    errors = parse_context(context, size_exceeded=True)
    assert isinstance(errors, list)
    assert "x-ms-dynamics-msg-size-exceeded" in errors[0].message


def test_garbage_where_values_belong_is_ignored_not_crashed_on() -> None:
    context = dataverse_sample()
    target = context["InputParameters"][0]["value"]
    target["Attributes"] += [{"key": "deep", "value": [[[[{"a": 1}]]]]}, {"nokey": 1}, 7, {"key": 5, "value": 1}]
    target["FormattedValues"] = "not a list"
    record = parse_context(copy.deepcopy(context))
    assert isinstance(record, CrmRecord)
    assert record.attributes["deep"] is None


def test_the_salesforce_sample_has_four_notifications_one_of_them_twice() -> None:
    notifications = parse_outbound(salesforce_sample())
    assert all(not isinstance(n, FieldError) for n in notifications)
    ids = [n.notification_id for n in notifications if not isinstance(n, FieldError)]
    assert len(ids) == 4
    assert len(set(ids)) == 3
    first = notifications[1]
    assert not isinstance(first, FieldError)
    assert first.record.attributes["BillingCountryCode"] is None  # xsi:nil
    assert first.record.attributes["BillingCountry"] == "Sweden"
    assert first.record.organization == "00D5g0000CspOnbAAA"


XXE = b"""<?xml version="1.0"?>
<!DOCTYPE foo [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>
<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/"><soapenv:Body>
<notifications xmlns="http://soap.sforce.com/2005/09/outbound"><OrganizationId>&xxe;</OrganizationId>
</notifications></soapenv:Body></soapenv:Envelope>"""
BOMB = b"""<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;">
<!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;">]><a>&lol3;</a>"""


@pytest.mark.parametrize(
    ("body", "code"),
    [(XXE, "forbidden_xml"), (BOMB, "forbidden_xml"), (b"<a><b></a>", "not_xml"), (b"\xff\xfe<", "not_xml"),
     (b"{}", "not_xml"), (b"<Envelope/>", "not_outbound_message"), (b"", "not_xml"),
     (b"<a>" * 5000 + b"</a>" * 5000, "not_outbound_message")],
)  # fmt: skip
def test_hostile_and_broken_xml_is_refused_without_reading_files_or_expanding_entities(body: bytes, code: str) -> None:
    errors = parse_outbound(body)
    assert [e.code for e in errors if isinstance(e, FieldError)] == [code]
    assert "root:" not in json.dumps([e.model_dump() for e in errors if isinstance(e, FieldError)])


def message(notifications: str, organization: str = "<OrganizationId>00D1</OrganizationId>") -> bytes:
    return (
        '<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/" '
        'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"><soapenv:Body>'
        f'<notifications xmlns="http://soap.sforce.com/2005/09/outbound">{organization}{notifications}'
        "</notifications></soapenv:Body></soapenv:Envelope>"
    ).encode()


NID = "04l5g0000NtfX01AAA"[:18]


def notification(nid: str, sobject: str = "sf:Account", fields: str = "<sf:Id>001</sf:Id>") -> str:
    return (f'<Notification><Id>{nid}</Id><sObject xsi:type="{sobject}" '
            f'xmlns:sf="urn:sobject.enterprise.soap.sforce.com">{fields}</sObject></Notification>')  # fmt: skip


@pytest.mark.parametrize(
    ("body", "code"),
    [(message(notification(NID) * 101), "notification_count"), (message(""), "notification_count"),
     (message(notification(NID), organization=""), "required"),
     (message(notification(NID, sobject="sf:Contact")), "unsupported_object"),
     (message(notification(NID, fields="<sf:Name>x</sf:Name>")), "required"),
     (message(notification("../../etc/passwd")), "not_an_id"), (message(notification("a/b#c?d")), "not_an_id")],
)  # fmt: skip
def test_messages_outside_the_wsdl_are_refused(body: bytes, code: str) -> None:
    errors = parse_outbound(body)
    assert [e.code for e in errors if isinstance(e, FieldError)] == [code]


def test_the_ack_and_the_fault_are_soap_salesforce_reads() -> None:
    assert b'<notificationsResponse xmlns="http://soap.sforce.com/2005/09/outbound"><Ack>true</Ack>' in ack()
    text = fault("BillingCity is required & <more>", sender=True).decode()
    assert "<faultcode>soapenv:Client</faultcode>" in text
    assert "BillingCity is required &amp; &lt;more&gt;" in text
