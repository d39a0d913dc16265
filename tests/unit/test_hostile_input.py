"""Issue 21's findings, each reproduced: input that could stall, steer or read the function. Each test failed on the
code before its fix (the commit that adds it says how)."""

from __future__ import annotations

import json
import logging
from dataclasses import replace
from typing import Any

import httpx
import pytest

from handlers.adapters.entra import MsalTokenProvider
from handlers.adapters.key_vault import KeyVaultSecrets
from handlers.adapters.partner_center_answers import classify_response
from handlers.domain.bounded_json import loads
from handlers.domain.failures import ErrorKind, OnboardingError
from handlers.domain.ledger_entry import LedgerEntry
from handlers.http_triggers import answered
from handlers.intake.crm.dataverse_route import accept_dataverse
from handlers.intake.http_bodies import Answer
from handlers.observability.redaction import remember_secret
from handlers.onboarding.pipeline import handle_message
from handlers.onboarding.poison import handle_poison
from tests.fakes import (
    FakeEventSink,
    FakeLedgerRows,
    FakePartnerCenter,
    customer_payload,
    dependencies,
    message,
    retry_policy,
    sample,
)
from tests.fakes.intake import BASE, intake
from tests.fakes.malformed_answers import partner_center
from tests.fakes.storage import FakeVault
from tests.unit.intake.test_crm_payloads import CRM


# 1. Readers: what the linear reader decides is what the old one decided (its speed is bench/fuzz.py's to report).
@pytest.mark.parametrize(
    ("text", "code"),
    [("[" * 32 + "]" * 32, None), ("[" * 33 + "]" * 33, "too_deep"), ('{"a":' * 33 + "1" + "}" * 33, "too_deep"),
     ("[" * 5000 + "]" * 5000, "too_deep"), ('["[[[[' + "[" * 40 + '"]', None),
     ("[" * 33 + '"' + '\\"' * 500, "not_json"), ("[" + "{}," * 5000 + "{}]", None),
     ('{"a": [' * 16 + "1" + "]}" * 16, None), ('{"a": [' * 17 + "1" + "]}" * 17, "too_deep"),
     ('{"a": [' * 16 + "1" + "]}" * 15 + "}", "not_json")],
)  # fmt: skip
def test_nesting_is_measured_outside_strings_and_refused_past_32(text: str, code: str | None) -> None:
    value, errors = loads(text)
    assert [e.code for e in errors] == ([code] if code else [])
    assert (value is None) == (code is not None)


# 2. Ids are checked before they name anything.
async def test_a_201_whose_id_is_a_path_writes_no_secret_and_is_retried_as_malformed() -> None:
    steering = customer_payload().model_dump(mode="json") | {"id": "x/../partner-center-app-user"}
    vault = FakeVault()
    deps = replace(dependencies(), partner_center=partner_center(httpx.Response(201, json=steering)), vault=vault)
    with pytest.raises(OnboardingError) as raised:
        await handle_message(message(sample()), deps)
    assert vault.names == []
    assert raised.value.kind is ErrorKind.TRANSIENT and "id is not of the expected form" in raised.value.message


async def test_a_vault_name_is_one_path_segment_whatever_it_holds() -> None:
    seen: list[str] = []

    def answer(request: httpx.Request) -> httpx.Response:
        seen.append(request.url.raw_path.decode())
        return httpx.Response(200, json={"id": "x"})

    class Tokens:
        async def get_token(self) -> str:
            return "t" * 12

        def invalidate(self) -> None:
            pass

    vault = KeyVaultSecrets(httpx.AsyncClient(transport=httpx.MockTransport(answer)), "https://vault.test", Tokens(),
                            retry_policy=retry_policy())  # fmt: skip
    from pydantic import SecretStr

    await vault.set_secret("a/../b", SecretStr("v"), tags={}, expires_in_days=1, content_type="text/plain")
    assert seen == ["/secrets/a%2F..%2Fb?api-version=7.4"]


class RowsARealTableRefuses(FakeLedgerRows):
    """Table storage cannot hold `/` in a RowKey: a read of such a key fails, as Azurite's and Azure's do."""

    async def read(self, request_id: str) -> LedgerEntry | None:
        if "/" in request_id:
            raise OnboardingError(ErrorKind.TRANSIENT, "storage read failed (HTTP 400)")
        return await super().read(request_id)


@pytest.mark.parametrize("handler", [handle_message, handle_poison])
async def test_a_request_id_no_ledger_key_can_hold_is_answered_without_a_read(handler: Any) -> None:
    from handlers.onboarding.ledger import Ledger

    sink = FakeEventSink()
    bad = sample() | {"requestId": "crm/../0001"}
    await handler(message(bad), dependencies(sink=sink, ledger=Ledger(RowsARealTableRefuses())))
    [event] = sink.events
    assert event["data"]["reason"] in ("invalid_request", "retries_exhausted")


# 3. Upstream text is redacted before it is stored or published.
async def test_an_entra_refusal_that_echoes_the_secret_names_its_codes_only() -> None:
    secret = "Zx8~" + "q" * 36  # an Entra client secret's shape
    refusal = {
        "error": "invalid_client",
        "error_description": f"AADSTS7000215: Invalid client secret provided. client_secret={secret}\r\nTrace ID: x",
        "error_codes": [7000215],
    }
    tokens = MsalTokenProvider(lambda: refusal)
    with pytest.raises(OnboardingError) as raised:
        await tokens.get_token()
    assert secret not in str(raised.value) and "\r" not in raised.value.message
    assert "AADSTS7000215" in raised.value.message and raised.value.kind is ErrorKind.AUTH


def test_a_partner_center_description_is_redacted_before_it_is_cut() -> None:
    token = "eyJ" + "a" * 400 + "." + "b" * 40 + "." + "c" * 40  # a JWT longer than the 500-character cut
    remember_secret("Known-Client-Secret-Value")
    body = {"code": "600002", "description": f"refused\r{' ' * 100}Known-Client-Secret-Value bearer {token}"}
    error = classify_response(httpx.Response(400, json=body), what="POST /v1/customers", max_retry_after=60)
    for text in (error.description or "", error.message):
        assert "Known-Client-Secret-Value" not in text and "aaaaaaaaaa" not in text and "\r" not in text


async def test_no_failed_event_carries_a_secret_partner_center_echoed() -> None:
    remember_secret("Known-Topic-Key-Value-42")
    refusal = OnboardingError(ErrorKind.BUSINESS, "Partner Center refused: Known-Topic-Key-Value-42", http_status=400,
                              code="600002", description="echo Known-Topic-Key-Value-42")  # fmt: skip
    sink = FakeEventSink()
    await handle_message(message(sample()), dependencies(FakePartnerCenter(refusal), sink))
    [event] = sink.events
    assert event["data"]["reason"] == "rejected_by_partner_center"
    assert "Known-Topic-Key-Value-42" not in json.dumps(event)


# 4. HTTP functions are wrapped like the queue functions.
async def test_an_http_function_that_raises_answers_a_logged_500_and_raises_nothing(
    caplog: pytest.LogCaptureFixture,
) -> None:
    async def broken() -> Answer:
        raise ValueError("the library quoted its input: Known-Input-Text")

    with caplog.at_level(logging.ERROR, logger="csp_onboarding"):
        response = await answered("accept_customer_request", broken)
    assert response.status_code == 500 and json.loads(response.get_body())["errors"][0]["code"] == "internal"
    assert "Known-Input-Text" not in caplog.text and "ValueError raised in broken" in caplog.text
    soap = await answered("accept_salesforce_message", broken, soap=True)
    assert soap.status_code == 500 and b"soapenv:Fault" in soap.get_body()


@pytest.mark.parametrize(
    ("where", "old", "new", "status"),
    [("an attribute", '"value": "Wingtip', '"value": "\\ud800Wingtip', 400),
     ("OrganizationId", '"OrganizationId": "c2e4a6b8', '"OrganizationId": "\\udfffc2e4a6b8', 403),
     ("CorrelationId", '"CorrelationId": "5e2b', '"CorrelationId": "\\ud8005e2b', 202)],
)  # fmt: skip
async def test_a_lone_surrogate_in_a_dataverse_context_is_answered_not_a_crash(
    where: str, old: str, new: str, status: int
) -> None:
    text = (CRM / "dataverse-account-create.json").read_text(encoding="utf-8")
    assert old in text
    answer = await accept_dataverse(text.replace(old, new, 1).encode(), {"content-type": "application/json"}, BASE,
                                    intake())  # fmt: skip
    assert answer.status == status, where


# 5. Senders beyond the function key.
async def test_a_dataverse_record_of_an_organization_not_listed_is_refused() -> None:
    text = (CRM / "dataverse-account-create.json").read_text(encoding="utf-8")
    other = text.replace("c2e4a6b8-1d3f-4a5b-9c7d-0e2f4a6b8c0d", "0badc0de-1d3f-4a5b-9c7d-0e2f4a6b8c0d")
    deps = intake()
    answer = await accept_dataverse(other.encode(), {"content-type": "application/json"}, BASE, deps)
    assert (answer.status, json.loads(answer.body)["errors"][0]["code"]) == (403, "organization_not_allowed")
    closed = replace(deps, senders=type(deps.senders)())  # the settings unset: the route accepts no organization
    assert (await accept_dataverse(text.encode(), {"content-type": "application/json"}, BASE, closed)).status == 403
    assert deps.queue.sent == []  # type: ignore[attr-defined]
