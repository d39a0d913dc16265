"""Events: the wire form of contract §2, deterministic ids, and the exported schemas."""

from __future__ import annotations

import json
from typing import Any

import jsonschema
import pytest

from handlers.domain.events import CREATED, CreatedData, created_event, event_id, failed_event
from handlers.domain.failures import Failure, Reason
from handlers.domain.schemas import SCHEMA_DIR, contract_schemas, render


def _created(request_id: str = "r-1") -> dict[str, Any]:
    data = CreatedData(
        requestId=request_id,
        crmAccountId="ACC-1",
        customerId="c",
        tenantId="t",
        commerceId="m",
        domain="d.onmicrosoft.com",
        companyName="D",
        relationshipToPartner="reseller",
        adminUserPrincipalName="admin@d.onmicrosoft.com",
        adminCredentialsSecretId=None,
    )
    return created_event(data, source="/s", correlation_id=None).to_json()


def test_created_wire_form() -> None:
    event = _created()
    assert {k: event[k] for k in ("specversion", "type", "source", "subject", "datacontenttype")} == {
        "specversion": "1.0",
        "type": CREATED,
        "source": "/s",
        "subject": "crmAccounts/ACC-1",
        "datacontenttype": "application/json",
    }
    assert "correlationid" not in event
    assert event["data"]["adminCredentialsSecretId"] is None  # present, null
    assert str(event["time"]).endswith("Z")


def test_ids_depend_on_request_and_outcome_only() -> None:
    assert _created("r-1")["id"] == _created("r-1")["id"]
    assert _created("r-1")["id"] != _created("r-2")["id"]
    failure = Failure(Reason.NOT_AUTHORIZED, True, "m")
    failed = failed_event(
        failure, request_id="r-1", crm_account_id=None, correlation_id="c", source="/s", identity="r-1"
    )
    assert failed.id != _created("r-1")["id"]
    assert failed.id == event_id("csp.onboarding.customer.failed", "r-1", "not_authorized")


@pytest.mark.parametrize(("reason", "present"), [(Reason.ADDRESS_INVALID, True), (Reason.INVALID_REQUEST, False)])
def test_suggested_addresses_only_for_address_invalid(reason: Reason, present: bool) -> None:
    failure = Failure(reason, False, "m")
    wire = failed_event(
        failure, request_id="r", crm_account_id="a", correlation_id=None, source="/s", identity="r"
    ).to_json()
    assert ("suggestedAddresses" in wire["data"]) is present
    if present:
        assert wire["data"]["suggestedAddresses"] == []


def test_events_validate_against_the_exported_schemas() -> None:
    schemas = contract_schemas()
    jsonschema.Draft202012Validator(schemas["customer-created.event.schema.json"]).validate(_created())
    failure = Failure(Reason.ADDRESS_INVALID, False, "m")
    failed = failed_event(failure, request_id=None, crm_account_id=None, correlation_id=None, source="/s", identity="x")
    jsonschema.Draft202012Validator(schemas["customer-failed.event.schema.json"]).validate(failed.to_json())
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.Draft202012Validator(schemas["customer-failed.event.schema.json"]).validate(_created())


@pytest.mark.parametrize("name", sorted(contract_schemas()))
def test_committed_schemas_match_the_models(name: str) -> None:
    committed = (SCHEMA_DIR / name).read_text(encoding="utf-8")
    assert committed == render(contract_schemas()[name]), "run: python -m handlers.domain.schemas"


def test_samples_validate_against_the_request_schema() -> None:
    schema = json.loads((SCHEMA_DIR / "customer-request.schema.json").read_text(encoding="utf-8"))
    samples = sorted((SCHEMA_DIR.parent / "samples").glob("*/*.json"))
    requests = [p for p in samples if p.parent.name in ("requests", "failing")]
    assert len(requests) >= 9, "the samples scripts/run enqueues: each must be checked"
    for path in requests:
        jsonschema.Draft202012Validator(schema).validate(json.loads(path.read_text(encoding="utf-8")))
