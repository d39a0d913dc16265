"""The emulator's Partner Center behind aiohttp's test client, with a valid token."""

from __future__ import annotations

import json
import uuid
from typing import Any

from aiohttp.test_utils import TestClient

from emulator.state import PARTNER_CENTER_AUDIENCE, State

DOMAIN = "wingtiptoysab.onmicrosoft.com"


class PartnerCenter:
    """The emulator's app behind aiohttp's test client, with a valid token."""

    def __init__(self, client: TestClient[Any, Any], state: State) -> None:
        self.client, self.state = client, state
        self.token = state.issue_token(PARTNER_CENTER_AUDIENCE)[0]

    def headers(self, ms_request_id: str | None = None) -> dict[str, str]:
        return {
            "Authorization": f"Bearer {self.token}",
            "MS-RequestId": ms_request_id or str(uuid.uuid4()),
            "MS-CorrelationId": str(uuid.uuid4()),
        }

    async def create(self, ms_request_id: str, domain: str = DOMAIN) -> tuple[int, dict[str, Any]]:
        body = {
            "companyProfile": {"domain": domain},
            "billingProfile": {
                "email": "it@wingtiptoys.se", "culture": "sv-SE", "language": "sv", "companyName": "Wingtip Toys AB",
                "defaultAddress": {
                    "firstName": "Astrid", "lastName": "Lindqvist", "addressLine1": "Drottninggatan 1",
                    "city": "Stockholm", "postalCode": "111 51", "country": "SE",
                },
            },
        }  # fmt: skip
        response = await self.client.post("/v1/customers", json=body, headers=self.headers(ms_request_id))
        return response.status, await response.json()

    async def listed_ids(self, prefix: str | None = None) -> list[str]:
        query = {} if prefix is None else {"filter": json.dumps({"Field": "Domain", "Value": prefix})}
        response = await self.client.get("/v1/customers", params=query, headers=self.headers())
        assert response.status == 200
        return [c["id"] for c in (await response.json())["items"]]

    async def get_status(self, customer_id: str) -> int:
        return (await self.client.get(f"/v1/customers/{customer_id}", headers=self.headers())).status

    async def domain_status(self, domain: str = DOMAIN) -> int:
        return (await self.client.head(f"/v1/domains/{domain}", headers=self.headers())).status

    async def admin(self, path: str, body: Any) -> tuple[int, Any]:
        response = await self.client.post(f"/_emulator/{path}", json=body)
        return response.status, (await response.json() if response.content_length else None)
