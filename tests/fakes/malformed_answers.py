"""Partner Center 201s this client cannot read, each with a planted password and the field its error must name, and a
real Partner Center client whose create answers one of them."""

from __future__ import annotations

from typing import Any

import httpx

from handlers.adapters.partner_center import PartnerCenterClient
from tests.fakes import retry_policy
from tests.fakes.budget import FreeBudget

PLANTED = "Zq8vN3rT1pLk!7-planted"


PLANTED_NUMBER = 98765432101234567


PROFILE = {"tenantId": "t-1", "domain": "wingtiptoysab.onmicrosoft.com", "companyName": "Wingtip Toys AB"}


# Each shape of a 201 this client cannot read, with the field its error must name.
SHAPES: dict[str, tuple[Any, str]] = {
    "no id": ({"companyProfile": PROFILE, "userCredentials": {"userName": "admin", "password": PLANTED}}, "id"),
    "credentials as a string": (
        {"id": "5b1e1a4c-0000-4000-8000-0000000000c1", "userCredentials": f"admin:{PLANTED}"},
        "userCredentials",
    ),
    "numeric password": (
        {
            "id": "5b1e1a4c-0000-4000-8000-0000000000c1",
            "userCredentials": {"userName": "admin", "password": PLANTED_NUMBER},
        },
        "userCredentials.password",
    ),
    "profile as a string": (
        {
            "id": "5b1e1a4c-0000-4000-8000-0000000000c1",
            "companyProfile": PLANTED,
            "userCredentials": {"userName": "admin", "password": PLANTED},
        },
        "companyProfile",
    ),
    "password as an object": (
        {
            "id": "5b1e1a4c-0000-4000-8000-0000000000c1",
            "userCredentials": {"userName": "admin", "password": {"value": PLANTED}},
        },
        "userCredentials.password",
    ),
    "a list": ([{"id": "5b1e1a4c-0000-4000-8000-0000000000c1", "userCredentials": {"password": PLANTED}}], "the body"),
}


def partner_center(created: httpx.Response) -> PartnerCenterClient:
    """Pre-flight passes; the create answers `created`."""

    def answer(request: httpx.Request) -> httpx.Response:
        if request.method == "HEAD":
            return httpx.Response(404)
        if request.url.path == "/v1/validations/address":
            return httpx.Response(200, json={"status": "VerifiedShippable"})
        if request.url.path.startswith("/v1/countryvalidationrules/"):
            return httpx.Response(200, json={"iso2Code": "SE"})
        return created

    async def no_wait(seconds: float) -> None:
        return None

    class Tokens:
        async def get_token(self) -> str:
            return "token-for-tests"

    return PartnerCenterClient(
        httpx.AsyncClient(transport=httpx.MockTransport(answer)),
        Tokens(),
        base_url="https://pc.test",
        budget=FreeBudget(),
        retry_policy=retry_policy(max_attempts=2, sleep=no_wait),
    )
