"""Partner Center 201s this client cannot read, each with a planted password and the field its error must name."""

from __future__ import annotations

from typing import Any

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
