"""The CRM routes on payloads nobody on this project wrote (tests/fixtures/crm/, with their provenance): Dataverse's
RemoteExecutionContext as Microsoft's docs and a real capture have it, and a Salesforce outbound message captured from
a sandbox, with the variants a CRM really produces (a BOM, another SOAP prefix, CRLF, a hundred notifications)."""

from __future__ import annotations

import json
import re
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from handlers.intake.crm.dataverse import parse_context
from handlers.intake.crm.dataverse_route import accept_dataverse
from handlers.intake.crm.mapping import CrmRecord, LookupWithoutName
from handlers.intake.crm.routes import accept_salesforce
from handlers.intake.crm.senders import CrmSenders
from handlers.intake.dependencies import IntakeDependencies
from handlers.intake.http_bodies import Answer, read_json_object
from tests.fakes import FakeEventSink, dependencies
from tests.fakes.intake import BASE, body_of, intake, sent

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "crm"
CAPTURED_ACCOUNT = "dataverse-webhooksite-account-create-sync.json"
CAPTURED_ORG, CAPTURED_ACCOUNT_ID = "f42a590d-a29d-ef11-8a66-6045bd056902", "53c52f26-a89d-ef11-8a69-000d3a30b0c1"
SALESFORCE_ORG = "00De0000000pmu1EAA"
JSON = {"content-type": "application/json"}


def fixture(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


def accepting(deps: IntakeDependencies) -> IntakeDependencies:
    """The intake accepting the fixtures' organizations, publishing to a sink the test reads."""
    senders = CrmSenders.of([CAPTURED_ORG], [SALESFORCE_ORG])
    return replace(deps, senders=senders)


@pytest.mark.parametrize(
    ("name", "entity"),
    [("dataverse-msdocs-contact-update-postop-async.json", "contact"),
     ("dataverse-mslearn-agentstatus-create-sync.json", "msdyn_agentstatus")],
)  # fmt: skip
def test_microsofts_contexts_are_read_whole_and_refused_only_for_their_entity(name: str, entity: str) -> None:
    context = read_json_object(fixture(name))  # escaped \\/Date()\\/ and __type strings, ParentContext, images
    assert isinstance(context, dict) and context["PrimaryEntityName"] == entity
    errors = parse_context(context)
    assert isinstance(errors, list) and [(e.field, e.code) for e in errors] == [
        ("PrimaryEntityName", "unsupported_entity")
    ]


@pytest.mark.parametrize("bom", [b"", b"\xef\xbb\xbf"])
def test_a_captured_account_create_reads_with_option_set_labels_and_lookups_by_id_only(bom: bytes) -> None:
    context = read_json_object(bom + fixture(CAPTURED_ACCOUNT))
    assert isinstance(context, dict)
    record = parse_context(context)
    assert isinstance(record, CrmRecord)
    assert (record.organization, record.record_id) == (CAPTURED_ORG, CAPTURED_ACCOUNT_ID)
    assert record.attributes["statecode"] == "Active"  # an OptionSetValue, read by its label
    assert record.attributes["preferredcontactmethodcode"] == "Any"
    assert isinstance(record.attributes["ownerid"], LookupWithoutName)  # "Name": null in a Target
    assert record.attributes["processid"] == "00000000-0000-0000-0000-000000000000"  # a zero GUID value is a value
    assert record.attributes["createdon"] == "/Date(1731053106000)/"


async def test_a_captured_account_without_the_mapped_columns_is_refused_by_column_and_as_a_failed_event() -> None:
    sink = FakeEventSink()
    deps = accepting(intake(dependencies(sink=sink)))
    answer = await accept_dataverse(fixture(CAPTURED_ACCOUNT), JSON, BASE, deps)
    assert answer.status == 400
    fields = {e["field"] for e in body_of(answer)["errors"]}
    assert {"csp_domainprefix", "emailaddress1", "address1_line1"} <= fields  # the account's columns, not §1 paths
    [event] = sink.events
    data = event["data"]
    assert (event["type"], data["reason"], data["crmAccountId"]) == (
        "csp.onboarding.customer.failed", "invalid_request", CAPTURED_ACCOUNT_ID
    )  # fmt: skip
    assert data["requestId"].startswith(f"dv:{CAPTURED_ORG}:{CAPTURED_ACCOUNT_ID}:")
    assert {e["field"] for e in data["errors"]} == fields
    assert sent(deps) == []
    again = await accept_dataverse(fixture(CAPTURED_ACCOUNT), JSON, BASE, deps)  # Dataverse's one retry
    assert again.status == 400 and sink.events[-1]["id"] == event["id"]  # the same event: subscribers drop it


def _with_columns(context: dict[str, Any], **columns: Any) -> bytes:
    target = context["InputParameters"][0]["value"]
    target["Attributes"] += [{"key": k, "value": v} for k, v in columns.items()]
    return json.dumps(context).encode()


async def test_a_captured_account_with_the_mapped_columns_becomes_one_request() -> None:
    context = json.loads(fixture(CAPTURED_ACCOUNT))
    culture = {"__type": "OptionSetValue:http://schemas.microsoft.com/xrm/2011/Contracts", "Value": 100000001}
    context["InputParameters"][0]["value"]["FormattedValues"].append({"key": "csp_culture", "value": "sv-SE"})
    body = _with_columns(
        context, name="Wingtip Toys AB", csp_domainprefix="wingtipcapture", emailaddress1="it@wingtiptoys.se",
        csp_culture=culture, csp_language="sv", csp_contactfirstname="Astrid", csp_contactlastname="Lindqvist",
        address1_line1="Drottninggatan 1", address1_city="Stockholm", address1_postalcode="111 51",
        address1_country="Sweden",
    )  # fmt: skip
    deps = accepting(intake())
    answer = await accept_dataverse(body, JSON, BASE, deps)
    assert answer.status == 202, answer.body
    [message] = sent(deps)
    assert (message["crmAccountId"], message["customer"]["culture"]) == (CAPTURED_ACCOUNT_ID, "sv-SE")
    assert message["customer"]["address"]["country"] == "SE"


def _salesforce(*, account: bool = True, prefix: str = "soapenv", crlf: bool = False, copies: int = 1) -> bytes:
    """The captured message, as an Account notification (the capture is of a custom object) with the mapped fields,
    with another SOAP prefix, CRLF line endings, or `copies` notifications (each its own record)."""
    text = fixture("salesforce-perl-stateprovince.xml").decode()
    if account:
        fields = (
            "<sf:BillingCity>Little Rock</sf:BillingCity><sf:BillingCountryCode>US</sf:BillingCountryCode>"
            "<sf:BillingPostalCode>72201</sf:BillingPostalCode><sf:BillingStateCode>AR</sf:BillingStateCode>"
            "<sf:BillingStreet>500 Woodlane St</sf:BillingStreet>"
            "<sf:Csp_Billing_Email__c>it@arkansas.example</sf:Csp_Billing_Email__c>"
            "<sf:Csp_Contact_First_Name__c>Ann</sf:Csp_Contact_First_Name__c>"
            "<sf:Csp_Contact_Last_Name__c>Lee</sf:Csp_Contact_Last_Name__c><sf:Csp_Culture__c>en-US</sf:Csp_Culture__c>"
            "<sf:Csp_Domain_Prefix__c>arkansas{n}</sf:Csp_Domain_Prefix__c><sf:Csp_Language__c>en</sf:Csp_Language__c>"
        )
        text = text.replace('xsi:type="sf:State_Province__c"', 'xsi:type="sf:Account"')
        text = text.replace("<sf:Abbrev__c>AR</sf:Abbrev__c>", fields).replace(
            "<sf:Country__c>a28e00000002hMtAAI</sf:Country__c>", ""
        )
    notification = re.search(r"   <Notification>.*?</Notification>\n", text, re.S)
    assert notification is not None
    one = notification.group(0)
    many = "".join(
        one.replace("04le0000004lnFF", f"04le0000{n:07d}").replace("a29e0000000K4P0", f"001e0000{n:07d}")
        .replace("{n}", str(n)) for n in range(copies)
    )  # fmt: skip
    text = text.replace(one, many).replace("{n}", "0")
    text = text.replace("soapenv:", f"{prefix}:").replace("xmlns:soapenv", f"xmlns:{prefix}")
    return (text.replace("\n", "\r\n") if crlf else text).encode()


async def post_salesforce(deps: IntakeDependencies, body: bytes) -> Answer:
    return await accept_salesforce(body, "text/xml; charset=utf-8", deps)


async def test_the_captured_message_of_another_object_is_a_fault_naming_it() -> None:
    answer = await post_salesforce(accepting(intake()), _salesforce(account=False))
    assert answer.status == 500 and b"must be an Account" in answer.body


@pytest.mark.parametrize(("prefix", "crlf"), [("soapenv", False), ("soap", False), ("S", True)])
async def test_the_captured_message_as_an_account_is_acknowledged_whatever_its_prefix_and_line_endings(
    prefix: str, crlf: bool
) -> None:
    deps = accepting(intake())
    answer = await post_salesforce(deps, _salesforce(prefix=prefix, crlf=crlf))
    assert answer.status == 200 and b"<Ack>true</Ack>" in answer.body
    [message] = sent(deps)
    assert (message["customer"]["address"]["state"], message["crmAccountId"]) == ("AR", "001e00000000000AAK")


async def test_a_hundred_notifications_are_enqueued_and_a_hundred_and_one_refused() -> None:
    deps = accepting(intake())
    assert (await post_salesforce(deps, _salesforce(copies=100))).status == 200
    assert len({m["requestId"] for m in sent(deps)}) == 100
    refused = await post_salesforce(accepting(intake()), _salesforce(copies=101))
    assert refused.status == 500 and b"1 to 100 notifications" in refused.body


async def test_after_a_fault_the_retry_with_the_records_newest_data_is_enqueued_once() -> None:
    # Salesforce resends a message it got no Ack for, with each record's latest data: the record fixed in the CRM
    # meanwhile is enqueued once, with its fixed data; the one already enqueued is not sent again.
    deps = accepting(intake())
    broken = _salesforce(copies=2).decode().replace("<sf:BillingCity>Little Rock</sf:BillingCity>", "", 1)
    first = await post_salesforce(deps, broken.encode())
    assert first.status == 500 and b"BillingCity is required" in first.body
    assert [m["customer"]["domainPrefix"] for m in sent(deps)] == ["arkansas1"]
    fixed = await post_salesforce(deps, _salesforce(copies=2))
    assert fixed.status == 200 and b"<Ack>true</Ack>" in fixed.body
    assert sorted(m["customer"]["domainPrefix"] for m in sent(deps)) == ["arkansas0", "arkansas1"]
    assert (await post_salesforce(deps, _salesforce(copies=2))).status == 200  # a duplicate delivery: nothing new
    assert len(sent(deps)) == 2
