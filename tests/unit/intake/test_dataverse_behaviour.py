"""The Dataverse route as Dataverse behaves (issue 23): it reads only the status code and retries a 502/503/504 once,
so every well-formed record is kept once answered 2xx, a step registered before the record exists is refused with a
400 and an alert, and a lookup's name comes from the post-image. Each test failed on the code before (the commit adding
it says how)."""

from __future__ import annotations

import json
import logging
from typing import Any

import pytest

from handlers.domain.failures import ErrorKind, OnboardingError
from handlers.domain.intake_record import IntakeRecord
from handlers.domain.ports import PendingRecords
from handlers.intake.crm.dataverse_route import MISREGISTERED_ALERT, accept_dataverse
from handlers.intake.dependencies import IntakeDependencies
from handlers.intake.pending import release_pending
from handlers.intake.records import NOT_KEPT_ALERT
from handlers.onboarding.pipeline import handle_message
from tests.fakes import FakeEventSink, FakePartnerCenter, dependencies
from tests.fakes.intake import BASE, body_of, intake, sent
from tests.fakes.storage import FakeIntakeRecords
from tests.unit.intake.test_crm_payloads import CRM

JSON = {"content-type": "application/json"}
ZERO = "00000000-0000-0000-0000-000000000000"


def context(**columns: Any) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((CRM / "dataverse-account-create.json").read_text(encoding="utf-8"))
    for attribute in data["InputParameters"][0]["value"]["Attributes"]:
        if attribute["key"] in columns:
            attribute["value"] = columns[attribute["key"]]
    return data


def pending(deps: IntakeDependencies) -> PendingRecords:
    assert deps.pending is not None
    return deps.pending


def body(data: dict[str, Any]) -> bytes:
    return json.dumps(data).encode()


async def test_an_edit_while_the_first_version_is_undecided_is_kept_and_sent_once_the_first_fails() -> None:
    # Reproduced on the old route: a Create, then an edit of the domain prefix got 503 twice (Dataverse's one retry),
    # the first version failed domain_unavailable, and the corrected prefix was never enqueued.
    taken = FakePartnerCenter()
    taken.taken_domains.add("wingtipdynamicsab.onmicrosoft.com")
    sink = FakeEventSink()
    pipeline = dependencies(taken, sink)
    deps = intake(pipeline)
    first = await accept_dataverse(body(context()), JSON, BASE, deps)
    assert first.status == 202
    statuses = [(await accept_dataverse(body(context(csp_domainprefix="wingtipfixed")), JSON, BASE, deps)).status
                for _ in range(2)]  # the edit, and what Dataverse's one retry would be  # fmt: skip
    assert statuses == [202, 202]  # kept, never a 503 Dataverse will not resend
    assert await release_pending(deps, pending(deps)) == 0  # the first version is still undecided
    await handle_message(json.dumps(sent(deps)[0]).encode(), pipeline)  # → failed: domain taken
    assert sink.events[-1]["data"]["reason"] == "domain_unavailable"
    assert await release_pending(deps, pending(deps)) == 1  # the kept edit is sent now
    assert [m["customer"]["domainPrefix"] for m in sent(deps)] == ["wingtipdynamicsab", "wingtipfixed"]
    await handle_message(json.dumps(sent(deps)[1]).encode(), pipeline)
    assert sink.events[-1]["type"] == "csp.onboarding.customer.created"
    assert [body["companyProfile"]["domain"] for body, _ in taken.created] == ["wingtipfixed.onmicrosoft.com"]
    assert await release_pending(deps, pending(deps)) == 0 and len(sent(deps)) == 2


async def test_a_later_version_is_dropped_once_the_first_created_the_customer() -> None:
    pipeline = dependencies()
    deps = intake(pipeline)
    await accept_dataverse(body(context()), JSON, BASE, deps)
    await accept_dataverse(body(context(address1_city="Uppsala")), JSON, BASE, deps)
    await accept_dataverse(body(context(address1_city="Lund")), JSON, BASE, deps)  # the newest kept version wins
    [row] = await pending(deps).pending(limit=10)
    assert json.loads(row.pending_message or "{}")["customer"]["address"]["city"] == "Lund"
    await handle_message(json.dumps(sent(deps)[0]).encode(), pipeline)  # → created
    assert await release_pending(deps, pending(deps)) == 1
    assert len(sent(deps)) == 1 and await deps.records.pending(limit=10) == []  # type: ignore[attr-defined]


class StorageDownFor(FakeIntakeRecords):
    """The intake's table failing its first `n` reads."""

    def __init__(self, n: int) -> None:
        super().__init__()
        self.failures = n

    async def get(self, key: str) -> IntakeRecord | None:
        if self.failures > 0:
            self.failures -= 1
            raise OnboardingError(ErrorKind.TRANSIENT, "storage read failed (HTTP 503)")
        return await super().get(key)


@pytest.mark.parametrize(("failures", "status"), [(3, 202), (1000, 503)])
async def test_storage_errors_are_tried_again_within_the_request_and_a_503_still_given_is_alerted(
    failures: int, status: int, caplog: pytest.LogCaptureFixture
) -> None:
    waited: list[float] = []

    async def sleep(seconds: float) -> None:
        waited.append(seconds)

    from dataclasses import replace

    deps = replace(intake(), records=StorageDownFor(failures), sleep=sleep)
    with caplog.at_level(logging.ERROR, logger="csp_onboarding"):
        answer = await accept_dataverse(body(context()), JSON, BASE, deps)
    assert answer.status == status
    assert sum(waited) <= deps.config.timing.intake_store_budget < 60  # well under Dataverse's timeout
    alerted = [r for r in caplog.records if getattr(r, "alert", None) == NOT_KEPT_ALERT]
    assert bool(alerted) == (status == 503)


@pytest.mark.parametrize(
    "registration",
    [{"Stage": 20}, {"Stage": 10}, {"PrimaryEntityId": ZERO, "target_id": ZERO},
     {"PrimaryEntityId": None, "target_id": None}],
)  # fmt: skip
async def test_a_step_registered_before_the_record_exists_is_refused_naming_the_fix_and_alerted(
    registration: dict[str, Any], caplog: pytest.LogCaptureFixture
) -> None:
    # Reproduced on the old route over HTTP: a PreOperation Create of "Alfa" was created, and one of "Beta" answered
    # 200 created with Alfa's requestId: every account had the all-zero id.
    deps = intake()
    for name in ("Alfa", "Beta"):
        data = context(name=name, csp_domainprefix=name.lower())
        data["Stage"] = registration.get("Stage", 40)
        if "target_id" in registration:
            data["PrimaryEntityId"] = registration["PrimaryEntityId"]
            data["InputParameters"][0]["value"]["Id"] = registration["target_id"]
            data["InputParameters"][0]["value"]["Attributes"] = [
                a for a in data["InputParameters"][0]["value"]["Attributes"] if a["key"] != "accountid"
            ]
        with caplog.at_level(logging.ERROR, logger="csp_onboarding"):
            answer = await accept_dataverse(body(data), JSON, BASE, deps)
        assert answer.status == 400
        [error] = body_of(answer)["errors"]
        assert error["code"] == "step_misregistered" and "PostOperation (40)" in error["message"]
    assert sent(deps) == []
    assert [r for r in caplog.records if getattr(r, "alert", None) == MISREGISTERED_ALERT]


async def test_a_mapped_lookup_without_its_name_is_refused_naming_the_post_image_and_read_from_it() -> None:
    # Reproduced on the old route: a lookup's GUID was taken as its name.
    from handlers.intake.crm.mapping import load_field_map

    reference = {"__type": "EntityReference:http://schemas.microsoft.com/xrm/2011/Contracts",
                 "Id": "a1b2c3d4-0000-4000-8000-00000000d366", "LogicalName": "csp_country", "Name": None}  # fmt: skip
    data = context(address1_country=reference)
    field_map = load_field_map('{"dataverse": {"customer.address.country": "address1_country"}}')
    from dataclasses import replace

    deps = replace(intake(), field_map=field_map)
    refused = await accept_dataverse(body(data), JSON, BASE, deps)
    assert refused.status == 400
    [error] = body_of(refused)["errors"]
    assert (error["field"], error["code"]) == ("address1_country", "lookup_without_name")
    assert "post-image" in error["message"]
    named = {**reference, "Name": "Sweden"}
    data["PostEntityImages"] = [{"key": "post", "value": {"LogicalName": "account", "Attributes": [
        {"key": "address1_country", "value": named}]}}]  # fmt: skip
    accepted = await accept_dataverse(body(data), JSON, BASE, deps)
    assert accepted.status == 202 and sent(deps)[-1]["customer"]["address"]["country"] == "SE"
