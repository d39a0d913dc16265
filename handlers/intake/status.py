"""GET /api/customer-requests/{requestId}: where a request stands, from the ledger (contract §6)."""

from __future__ import annotations

from handlers.domain.events import CloudEvent
from handlers.domain.failures import OnboardingError
from handlers.domain.ledger_entry import LedgerEntry
from handlers.domain.request import is_request_id
from handlers.intake.dependencies import IntakeDependencies
from handlers.intake.enqueue import unavailable
from handlers.intake.http_bodies import Answer, error, errors_answer, json_answer

# What the created event carries that the CRM did not send and the status route does not show: whoever holds the
# status route's key reads every request's answer, but the admin's sign-in name and the secret id of its password
# go to event subscribers only.
NOT_SHOWN = ("adminUserPrincipalName", "adminCredentialsSecretId")


def _status_body(request_id: str, entry: LedgerEntry | None) -> dict[str, object]:
    stored = entry.event_json if entry is not None else None
    event = CloudEvent.model_validate_json(stored).to_json() if stored else None  # as subscribers received it
    if event is not None:
        event["data"] = {k: v for k, v in event["data"].items() if k not in NOT_SHOWN}
    return {"requestId": request_id, "state": entry.state if entry is not None else "received", "event": event}


async def request_status(request_id: str, deps: IntakeDependencies) -> Answer:
    """GET /api/customer-requests/{requestId}: the ledger's state and stored outcome event; a request the intake
    enqueued that no delivery has claimed yet is `received`; 404 when unknown."""
    if not is_request_id(request_id):
        return errors_answer(404, [error("unknown_request", "No request has this requestId.", "requestId")])
    try:
        entry = await deps.ledger.read(request_id)
        if entry is None and await deps.records.get(request_id) is None:
            return errors_answer(404, [error("unknown_request", "No request has this requestId.", "requestId")])
    except OnboardingError as exc:
        return unavailable(f"The state could not be read ({exc.message}).", deps.config.timing)
    return json_answer(200, _status_body(request_id, entry))
