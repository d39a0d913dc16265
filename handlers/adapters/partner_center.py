"""Partner Center REST client (httpx, async): each call retried, paced, sent with Partner Center's headers, and its
refusals classified (the code table: handlers.domain.error_codes)."""

from __future__ import annotations

import json
import logging
import time
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, replace
from typing import Any
from urllib.parse import quote

import httpx

from handlers.adapters.http import transport_failure
from handlers.adapters.partner_center_answers import classify_response, read_answer
from handlers.adapters.retry import RetryPolicy, call_with_retries
from handlers.domain.error_codes import APP_USER_OFF_CODE, ENDPOINT_MISSING_STATUSES, Effect, has_effect
from handlers.domain.failures import ErrorKind, OnboardingError
from handlers.domain.payloads import (
    AddressValidation,
    AgreementTemplatePage,
    CountryRules,
    CustomerPage,
    CustomerPayload,
    Relationship,
    RelationshipPage,
)
from handlers.domain.ports import CallBudget, TokenProvider
from handlers.observability.http_telemetry import PARTNER_CENTER_CALL

log = logging.getLogger("csp_onboarding")

APPLICATION_NAME = "csp-onboarding-function"


class PartnerCenterClient:
    """The Partner Center calls of the pipeline over one shared AsyncClient.

    Every call carries the request's MS-RequestId (the idempotency key, the same on every retry) and a fresh
    MS-CorrelationId; every attempt waits for its slot of the shared budget (contract rule 8); transient failures
    are retried per the RetryPolicy.
    """

    def __init__(
        self,
        http: httpx.AsyncClient,
        tokens: TokenProvider,
        *,
        base_url: str,
        budget: CallBudget,
        retry_policy: RetryPolicy,
        locale: str = "en-US",
        user_tokens: TokenProvider | None = None,
    ) -> None:
        self._http = http
        self._tokens = tokens
        self._user_tokens = user_tokens
        self._base_url = base_url.rstrip("/")
        self._budget = budget
        self._policy = retry_policy
        self._locale = locale

    async def create_customer(self, body: dict[str, Any], *, ms_request_id: str) -> CustomerPayload:
        """POST /v1/customers — App+User for an indirect reseller's customer, app-only otherwise (rule 11);
        raises OnboardingError."""
        app_user = body.get("associatedPartnerId") is not None
        response = await self._call(
            "POST", "/v1/customers", ms_request_id, json_body=body, ok=(200, 201), app_user=app_user
        )
        return read_answer(response, CustomerPayload, what="POST /v1/customers")

    async def list_indirect_resellers(self, *, ms_request_id: str) -> list[Relationship]:
        """The partner's indirect resellers (App+User); raises OnboardingError."""
        path = "/v1/relationships?relationship_type=IsIndirectCloudSolutionProviderOf"
        response = await self._call("GET", path, ms_request_id, ok=(200,), app_user=True)
        return read_answer(response, RelationshipPage, what="GET /v1/relationships").items

    async def agreement_template_id(self, agreement_type: str, *, ms_request_id: str) -> str:
        """The current template id of an agreement type (App+User); raises OnboardingError."""
        path = f"/v1/agreements?agreementType={quote(agreement_type, safe='')}"
        response = await self._call("GET", path, ms_request_id, ok=(200,), app_user=True)
        items = read_answer(response, AgreementTemplatePage, what="GET /v1/agreements").items
        matching = [t for t in items if t.agreementType in (None, agreement_type)]
        if not matching:
            raise OnboardingError(ErrorKind.TRANSIENT, f"Partner Center listed no {agreement_type} template")
        return matching[0].templateId

    async def create_agreement(self, customer_id: str, body: dict[str, Any], *, ms_request_id: str) -> bool:
        """POST /v1/customers/{id}/agreements (App+User): True when created, False when it already existed
        (600061, success too); raises OnboardingError."""
        path = f"/v1/customers/{quote(customer_id, safe='')}/agreements"
        try:
            await self._call("POST", path, ms_request_id, json_body=body, ok=(200, 201), app_user=True)
        except OnboardingError as error:
            if has_effect(error.code, Effect.AGREEMENT_EXISTS):
                return False
            raise
        return True

    async def domain_exists(self, domain: str, *, ms_request_id: str) -> bool:
        """HEAD /v1/domains/{domain}: 200 means taken, 404 free; a check that cannot be made here (405, 501)
        reads as free, with a warning: the create refuses a taken domain anyway. Raises OnboardingError."""
        path = f"/v1/domains/{quote(domain, safe='')}"
        missing = ENDPOINT_MISSING_STATUSES - {404}  # a 404 here is Partner Center's "no such domain"
        response = await self._call("HEAD", path, ms_request_id, ok=(200, 404, *missing))
        if response.status_code in missing:
            log.warning("The domain check is unavailable (HTTP %d): going on", response.status_code)
        return response.status_code == 200

    async def validate_address(self, address: dict[str, Any], *, ms_request_id: str) -> AddressValidation:
        """POST /v1/validations/address; an endpoint that does not exist here reads as NotValidated (go on, with a
        warning), as when Partner Center cannot check the address. Raises OnboardingError."""
        unavailable = tuple(ENDPOINT_MISSING_STATUSES)
        path = "/v1/validations/address"
        response = await self._call("POST", path, ms_request_id, json_body=address, ok=(200, *unavailable))
        if response.status_code in unavailable:
            message = f"address validation unavailable (HTTP {response.status_code})"
            return AddressValidation(status="NotValidated", validationMessage=message)
        return read_answer(response, AddressValidation, what=f"POST {path}")

    async def get_country_rules(self, country: str, *, ms_request_id: str) -> CountryRules:
        """GET /v1/countryvalidationrules/{iso2}; raises OnboardingError."""
        path = f"/v1/countryvalidationrules/{quote(country, safe='')}"
        response = await self._call("GET", path, ms_request_id, ok=(200,))
        return read_answer(response, CountryRules, what="GET /v1/countryvalidationrules")

    async def find_customer_by_domain(self, domain: str, *, ms_request_id: str) -> CustomerPayload | None:
        """Search the partner's customers for one with this domain; raises OnboardingError."""
        params = json.dumps({"Field": "Domain", "Value": domain, "Operator": "starts_with"})
        response = await self._call(
            "GET", f"/v1/customers?size=50&filter={quote(params, safe='')}", ms_request_id, ok=(200,)
        )
        for customer in read_answer(response, CustomerPage, what="GET /v1/customers").items or []:
            if (customer.companyProfile.domain or "").lower() == domain.lower():
                return customer
        return None

    async def _call(
        self,
        method: str,
        path: str,
        ms_request_id: str,
        *,
        ok: Iterable[int],
        json_body: dict[str, Any] | None = None,
        app_user: bool = False,
    ) -> httpx.Response:
        """One Partner Center call, in layers (as httpx's send): retried by the policy, each attempt paced and
        sent once; an answer outside `ok` is classified into an OnboardingError."""
        accepted = frozenset(ok)
        attempts = _Attempts(f"{method} {path.split('?')[0]}")

        async def attempt() -> httpx.Response:
            response = await self._send_paced(method, path, ms_request_id, json_body, app_user, attempts)
            if response.status_code in accepted:
                return response
            raise self._refusal(response, attempts)

        what = f"Partner Center {attempts.endpoint}"
        return await call_with_retries(self._policy, attempt, what=what, paused=lambda: attempts.paced)

    async def _send_paced(
        self, method: str, path: str, ms_request_id: str, json_body: dict[str, Any] | None, app_user: bool,
        attempts: _Attempts,
    ) -> httpx.Response:  # fmt: skip
        """Wait for a slot of the shared budget (time not counted against the retry budget), then send once."""
        token = await self._token(app_user)
        waiting = time.monotonic()
        await self._budget.acquire()
        attempts.paced += time.monotonic() - waiting
        try:
            return await self._send(method, path, ms_request_id, token, json_body, attempts.endpoint)
        except httpx.TransportError as exc:
            attempts.unanswered = True
            raise transport_failure(attempts.endpoint, exc) from None

    async def _send(
        self, method: str, path: str, ms_request_id: str, token: str, json_body: dict[str, Any] | None, endpoint: str
    ) -> httpx.Response:
        """One HTTP request with Partner Center's headers (a fresh MS-CorrelationId each time); the shared client's
        event hooks log and measure it (handlers.observability.http_telemetry)."""
        headers = {
            "Authorization": f"Bearer {token}",
            "Accept": "application/json",
            "MS-RequestId": ms_request_id,
            "MS-CorrelationId": str(uuid.uuid4()),
            "X-Locale": self._locale,
            "MS-PartnerCenter-Application": APPLICATION_NAME,
        }
        return await self._http.request(
            method, self._base_url + path, headers=headers, json=json_body, extensions={PARTNER_CENTER_CALL: endpoint}
        )

    def _refusal(self, response: httpx.Response, attempts: _Attempts) -> OnboardingError:
        """An answer outside the call's `ok`, classified; a 429 holds the shared budget; a refusal after an attempt
        that got no definitive answer says so (the call may have been carried out)."""
        error = classify_response(response, what=attempts.endpoint, max_retry_after=self._policy.max_retry_after)
        if response.status_code == 429:
            self._budget.throttled(error.retry_after)
        if attempts.unanswered:
            error = replace(error, after_unanswered=True)
        attempts.unanswered = attempts.unanswered or response.status_code == 408 or response.status_code >= 500
        return error

    async def _token(self, app_user: bool) -> str:
        if not app_user:
            return await self._tokens.get_token()
        if self._user_tokens is None:
            raise OnboardingError(
                ErrorKind.AUTH,
                "This needs an App+User token and App+User is off: turn it on (`azd env set APP_USER_ENABLED true`, "
                "`azd provision`) and run `python -m ops.consent` once",
                code=APP_USER_OFF_CODE,
            )
        return await self._user_tokens.get_token()


@dataclass
class _Attempts:
    """What one call's attempts have in common: its endpoint, the time spent waiting for budget slots, and whether
    an attempt got no definitive answer."""

    endpoint: str
    paced: float = 0.0
    unanswered: bool = False
