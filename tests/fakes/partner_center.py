"""Partner Center fakes: scripted answers and recorded calls, the customer it creates, the App+User calls."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from handlers.domain.failures import ErrorKind, OnboardingError
from handlers.domain.payloads import AddressValidation, CountryRules, CustomerPayload, Relationship
from handlers.domain.ports import CallBudget
from handlers.onboarding.app_user import AppUser

ADMIN_PASSWORD = "Pa55-word-never-to-be-seen!"


def customer_payload(domain: str = "wingtiptoysab.onmicrosoft.com") -> CustomerPayload:
    return CustomerPayload.model_validate(
        {
            "id": "5b1e1a4c-0000-4000-8000-000000000001",
            "commerceId": "c0ffee00-0000-4000-8000-000000000002",
            "companyProfile": {
                "tenantId": "5b1e1a4c-0000-4000-8000-000000000001",
                "domain": domain,
                "companyName": "Wingtip Toys AB",
            },
            "relationshipToPartner": "reseller",
            "userCredentials": {"userName": "admin", "password": ADMIN_PASSWORD},
        }
    )


class FakePartnerCenter:
    """Answers create_customer from a script: a payload, or an error to raise (one entry per call). With a `budget`,
    every call first waits for its slot, as the real client does."""

    def __init__(self, *answers: CustomerPayload | OnboardingError, budget: CallBudget | None = None) -> None:
        self.budget = budget
        self.answers = list(answers) or [customer_payload()]
        self.created: list[tuple[dict[str, Any], str]] = []
        self.calls: list[tuple[str, str]] = []  # (what, MS-RequestId) of every call
        self.taken_domains: set[str] = set()
        self.address = AddressValidation(status="VerifiedShippable")
        self.rules: dict[str, CountryRules | OnboardingError] = {}
        self.existing: CustomerPayload | None = None
        self.preflight_error: OnboardingError | None = None

    async def _slot(self) -> None:
        if self.budget is not None:
            await self.budget.acquire()

    async def create_customer(self, body: dict[str, Any], *, ms_request_id: str) -> CustomerPayload:
        await self._slot()
        self.calls.append(("create", ms_request_id))
        self.created.append((body, ms_request_id))
        answer = self.answers.pop(0) if len(self.answers) > 1 else self.answers[0]
        if isinstance(answer, OnboardingError):
            raise answer
        return answer

    async def domain_exists(self, domain: str, *, ms_request_id: str) -> bool:
        await self._slot()
        self.calls.append(("domain", ms_request_id))
        if self.preflight_error is not None:
            raise self.preflight_error
        return domain in self.taken_domains

    async def validate_address(self, address: dict[str, Any], *, ms_request_id: str) -> AddressValidation:
        await self._slot()
        self.calls.append(("address", ms_request_id))
        return self.address

    async def get_country_rules(self, country: str, *, ms_request_id: str) -> CountryRules:
        await self._slot()
        self.calls.append(("rules", ms_request_id))
        rules = self.rules.get(country, CountryRules(iso2Code=country))
        if isinstance(rules, OnboardingError):
            raise rules
        return rules

    async def find_customer_by_domain(self, domain: str, *, ms_request_id: str) -> CustomerPayload | None:
        await self._slot()
        self.calls.append(("find", ms_request_id))
        return self.existing


RESELLER = "0d3e7c1a-7b7e-4d1c-9d1e-8f1a2b3c4d5e"


INACTIVE_RESELLER = "0d3e7c1a-7b7e-4d1c-9d1e-8f1a2b3c4d00"


class FakeAppUserPartnerCenter:
    """The App+User calls, scripted: resellers, one MCA template, agreements (answers popped per call: True
    created, False 600061, an error raised)."""

    def __init__(self, *agreement_answers: bool | OnboardingError) -> None:
        self.resellers = [
            Relationship(id=RESELLER, state="Active"),
            Relationship(id=INACTIVE_RESELLER, state="Inactive"),
        ]
        self.listing_error: OnboardingError | None = None
        self.template_id = "117a69e2-a4d4-4d5a-a0c8-2a43a2f55d61"
        self.agreement_answers: list[bool | OnboardingError] = list(agreement_answers) or [True]
        self.agreements: list[tuple[str, dict[str, Any], str]] = []
        self.calls: list[str] = []

    async def list_indirect_resellers(self, *, ms_request_id: str) -> list[Relationship]:
        self.calls.append("resellers")
        if self.listing_error is not None:
            raise self.listing_error
        return list(self.resellers)

    async def agreement_template_id(self, agreement_type: str, *, ms_request_id: str) -> str:
        self.calls.append("template")
        return self.template_id

    async def create_agreement(self, customer_id: str, body: dict[str, Any], *, ms_request_id: str) -> bool:
        self.calls.append("agreement")
        answer = self.agreement_answers.pop(0) if len(self.agreement_answers) > 1 else self.agreement_answers[0]
        if isinstance(answer, OnboardingError):
            raise answer
        self.agreements.append((customer_id, body, ms_request_id))
        return answer


class FakeRefresher:
    """The App+User sign-in: counts refreshes and refusals heard."""

    def __init__(self) -> None:
        self.refreshed = 0
        self.refusals: list[OnboardingError] = []

    async def refresh(self) -> None:
        self.refreshed += 1

    async def refused(self, error: OnboardingError) -> OnboardingError:
        self.refusals.append(error)
        return error


def fake_app_user(partner_center: FakeAppUserPartnerCenter | None = None) -> AppUser:
    return AppUser(partner_center or FakeAppUserPartnerCenter(), FakeRefresher())


TAKEN = OnboardingError(ErrorKind.BUSINESS, "taken", http_status=400, code="27100", description="domain already used")


TAKEN_AFTER_DROP = replace(TAKEN, after_unanswered=True)


TIMEOUT = OnboardingError(ErrorKind.TRANSIENT, "timed out")


class LaggingListing(FakePartnerCenter):
    """Partner Center that forgot the create's MS-RequestId and lists the new customer only after `lag` searches."""

    def __init__(self, lag: int) -> None:
        super().__init__(TAKEN_AFTER_DROP)
        self.lag = lag
        self.existing = customer_payload()

    async def find_customer_by_domain(self, domain: str, *, ms_request_id: str) -> CustomerPayload | None:
        self.calls.append(("find", ms_request_id))
        self.lag -= 1
        return self.existing if self.lag < 0 else None
