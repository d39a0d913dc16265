"""Event Grid publisher: a CloudEvents batch to a topic, with a SAS key or an Entra token."""

from __future__ import annotations

import json
from typing import Any

import httpx
from pydantic import SecretStr

from handlers.adapters.http import transport_failure
from handlers.adapters.retry import RetryPolicy, call_with_retries, retry_after_seconds
from handlers.domain.failures import ErrorKind, OnboardingError
from handlers.domain.ports import TokenProvider

CONTENT_TYPE = "application/cloudevents-batch+json; charset=utf-8"


class EventGridPublisher:
    """POSTs CloudEvents 1.0 (structured JSON array) to a topic whose input schema is CloudEvents."""

    def __init__(
        self,
        http: httpx.AsyncClient,
        endpoint: str,
        *,
        key: SecretStr | None,
        tokens: TokenProvider | None,
        retry_policy: RetryPolicy,
    ) -> None:
        if key is None and tokens is None:
            raise ValueError("Event Grid needs EVENTS_TOPIC_KEY or a managed-identity token provider")
        self._http = http
        self._endpoint = endpoint
        self._key = key
        self._tokens = tokens
        self._policy = retry_policy

    async def publish(self, events: list[dict[str, Any]]) -> None:
        """Publish one batch; raises OnboardingError (TRANSIENT when the queue should redeliver)."""
        content = json.dumps(events, ensure_ascii=False, separators=(",", ":")).encode("utf-8")

        async def attempt() -> None:
            headers = {"Content-Type": CONTENT_TYPE}
            if self._key is not None:
                headers["aeg-sas-key"] = self._key.get_secret_value()
            elif self._tokens is not None:
                headers["Authorization"] = f"Bearer {await self._tokens.get_token()}"
            try:
                response = await self._http.post(self._endpoint, content=content, headers=headers)
            except httpx.TransportError as exc:
                raise transport_failure("Event Grid", exc) from None
            if response.status_code in (200, 201, 202):
                return
            # Any refusal fails the invocation: the message returns and the retry publishes again.
            # 401/403 are classified AUTH for the log, but still raised (an event must never be lost).
            kind = ErrorKind.AUTH if response.status_code in (401, 403) else ErrorKind.TRANSIENT
            raise OnboardingError(
                kind,
                f"Event Grid refused the batch with HTTP {response.status_code}",
                retry_after=retry_after_seconds(response.headers.get("Retry-After"), cap=self._policy.max_retry_after),
            )

        await call_with_retries(self._policy, attempt, what="Event Grid publish")
