"""The doctor's checks, each a line: what it looked at, `ok`, `MISSING` (something to do, said in the line) or `note`.
They read and never write: queue counts, one query of each table, and for what the operator holds no role on (the
vaults, the topic) an unauthenticated call whose 401 proves it is there and reachable from here."""

from __future__ import annotations

import base64
import json
import uuid
from collections.abc import Callable
from dataclasses import dataclass

import httpx
from azure.core.exceptions import AzureError, ResourceNotFoundError

from handlers.api import PARTNER_CENTER_SCOPE, Settings, build_msal_app, entra_app
from ops.storage import Storage, explained
from ops.terminal import shown

OK, MISSING, NOTE = "ok", "MISSING", "note"


@dataclass(frozen=True)
class Finding:
    what: str
    verdict: str
    text: str

    def line(self) -> str:
        return f"{self.what:<13}{self.verdict:<9}{self.text}"


def signed_in(storage: Storage) -> Finding:
    """Who the storage token is for (its upn, else its app id): proves the sign-in works before anything else."""
    try:
        token = storage.credential.get_token("https://storage.azure.com/.default").token
    except AzureError as exc:
        return Finding("signed in", MISSING, explained(exc))
    try:
        payload = token.split(".")[1]
        claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    except (IndexError, ValueError):
        claims = {}
    who = claims.get("upn") or claims.get("unique_name") or claims.get("appid") or claims.get("oid") or "?"
    return Finding("signed in", OK, f"as {shown(who)} (Entra, DefaultAzureCredential)")


def queue(storage: Storage, name: str) -> Finding:
    try:
        count = storage.queue(name).get_queue_properties().approximate_message_count or 0
    except ResourceNotFoundError:
        return Finding("queue", MISSING, f"{shown(name)}: no such queue: run `azd provision` (infra/app/storage.bicep)")
    except AzureError as exc:
        return Finding("queue", MISSING, f"{shown(name)}: {explained(exc)}")
    return Finding("queue", OK, f"{shown(name)}: {count} message(s)")


def table(storage: Storage, name: str) -> Finding:
    client = storage.table(name)
    try:
        next(iter(client.query_entities("PartitionKey eq '~doctor'", results_per_page=1)), None)
    except ResourceNotFoundError:
        return Finding("table", MISSING, f"{shown(name)}: no such table: run `azd provision` (infra/app/storage.bicep)")
    except AzureError as exc:
        return Finding("table", MISSING, f"{shown(name)}: {explained(exc)}")
    finally:
        client.close()
    return Finding("table", OK, f"{shown(name)}: readable")


def reachable(what: str, url: str, *, method: str = "GET", label: str) -> Finding:
    """A service the operator holds no role on answers an unauthenticated call with 401: it is there, and this
    machine reaches it (a firewall or a private endpoint would refuse or time out instead)."""
    try:
        with httpx.Client(timeout=15.0) as http:
            answer = http.request(method, url, json=[] if method == "POST" else None)
    except httpx.HTTPError as exc:
        return Finding(what, MISSING, f"{label} cannot be reached from here ({type(exc).__name__}): with "
                       "RESTRICT_PUBLIC_NETWORK_ACCESS on, run this from inside the VNet")  # fmt: skip
    if answer.status_code in (401, 403):
        return Finding(what, OK, f"{label}: reachable (it asks for a token, as it should)")
    return Finding(what, MISSING, f"{label}: answered {answer.status_code} to a call without a token: is {url} right?")


def partner_center(settings: Settings, get: Callable[..., httpx.Response] | None = None) -> Finding:
    """An app-only token with the app's credential, and one cheap call (the Swedish country rules): where this
    machine holds the credential. The deployment's is the function's managed identity, which only runs in Azure."""
    if settings.credential_kind == "federated":
        return Finding("partner ctr", NOTE, "the app signs in with its managed identity (federated): only the app "
                       "can get a token; if requests fail not_authorized, check the federated credential")  # fmt: skip
    answer = build_msal_app(entra_app(settings)).acquire_token_for_client(scopes=[PARTNER_CENTER_SCOPE]) or {}
    if "access_token" not in answer:
        return Finding("partner ctr", MISSING, f"Entra refused the app's credential: {shown(answer.get('error'))}: "
                       "check PARTNER_CENTER_TENANT_ID, PARTNER_CENTER_CLIENT_ID and the credential")  # fmt: skip
    headers = {"Authorization": f"Bearer {answer['access_token']}", "MS-RequestId": str(uuid.uuid4()),
               "MS-CorrelationId": str(uuid.uuid4()), "Accept": "application/json"}  # fmt: skip
    url = f"{settings.cloud.api_url}/v1/countryvalidationrules/SE"
    try:
        status = (get or httpx.get)(url, headers=headers, timeout=30.0).status_code
    except httpx.HTTPError as exc:
        return Finding("partner ctr", MISSING, f"Partner Center cannot be reached: {type(exc).__name__}")
    if status != 200:
        return Finding("partner ctr", MISSING, f"Partner Center answered {status} to an app-only call: add the app in "
                       "Partner Center (Account settings → App management), step 2")  # fmt: skip
    return Finding("partner ctr", OK, "an app-only token, and Partner Center answers it")


def app_user(settings: Settings) -> Finding:
    if not settings.PARTNER_CENTER_USER_TOKEN_SECRET_URL:
        return Finding("app+user", OK, "off (APP_USER_ENABLED unset): no indirect resellers, no MCA attestation")
    return Finding("app+user", NOTE, "on; whether an Admin agent has signed in is not readable with your role (set "
                   "only): until `python -m ops.consent` runs, the app logs 'App+User not signed in yet'")  # fmt: skip


def summary(findings: list[Finding], missing_roles: list[str], roles_verdict: int) -> tuple[str, int]:
    """The last line: nothing missing, or each thing to do; and the exit status."""
    todo = [f"{f.what}: {f.text.split(': ')[0]}" for f in findings if f.verdict == MISSING]
    todo += [f"role: {role}" for role in missing_roles]
    if not todo:
        return "nothing missing" + (" (roles not checked)" if roles_verdict == 2 else ""), 0
    return f"{len(todo)} thing(s) to do: " + "; ".join(todo), 1
