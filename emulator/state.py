"""Everything the emulator remembers: credentials, tokens, customers, events, calls, faults."""

from __future__ import annotations

import math
import secrets
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import rsa

from emulator.users import AppUser

PARTNER_CENTER_AUDIENCE = "https://api.partnercenter.microsoft.com"
EVENT_GRID_AUDIENCE = "https://eventgrid.azure.net"
KEY_VAULT_AUDIENCE = "https://vault.azure.net"
FEDERATED_AUDIENCE = "api://AzureADTokenExchange"
STORAGE_AUDIENCE = "https://storage.azure.com"  # Azurite (--oauth basic) checks a JWT's issuer and audience
MANAGEMENT_AUDIENCE = "https://management.azure.com"
GRAPH_AUDIENCE = "https://graph.microsoft.com"


@dataclass
class Token:
    audience: str
    client_id: str
    expires_at: float
    user: str | None = None  # an App+User token's user; None for app-only tokens
    mfa: bool = False  # whether the user's sign-in carried MFA


@dataclass
class AppKey:
    """A certificate credential added to the app registration through Graph (ops.consent --temporary-certificate)."""

    key_id: str
    certificate: x509.Certificate
    display_name: str = ""


@dataclass
class RateLimit:
    """Partner Center's per-tenant limit, `per_minute` calls. By default a token bucket refilled continuously and
    bursting to one second's worth; with `window_seconds`, a strict sliding window instead: at most
    `per_minute * window_seconds / 60` calls in any `window_seconds` (a limit scaled in time, no burst at all)."""

    per_minute: float
    window_seconds: float | None = None
    tokens: float = 0.0
    updated: float = field(default_factory=time.monotonic)
    recent: deque[float] = field(default_factory=deque)

    def __post_init__(self) -> None:
        self.tokens = self.capacity

    @property
    def capacity(self) -> float:
        if self.window_seconds is not None:
            return max(1.0, math.floor(self.per_minute * self.window_seconds / 60))
        return max(1.0, self.per_minute / 60)

    def take(self) -> float:
        """0 when the call may go; else the seconds until it could (the Retry-After)."""
        now = time.monotonic()
        if self.window_seconds is not None:
            while self.recent and self.recent[0] <= now - self.window_seconds:
                self.recent.popleft()
            if len(self.recent) < self.capacity:
                self.recent.append(now)
                return 0.0
            return self.recent[0] + self.window_seconds - now
        self.tokens = min(self.capacity, self.tokens + (now - self.updated) * self.per_minute / 60)
        self.updated = now
        if self.tokens >= 1:
            self.tokens -= 1
            return 0.0
        return (1 - self.tokens) * 60 / self.per_minute


_BEHAVIOUR_KEYS = {
    "idempotent": "idempotent",
    "listingLagSeconds": "listing_lag_seconds",
    "idempotencyWindowSeconds": "idempotency_window_seconds",
    "replayWithoutCredentials": "replay_without_credentials",
}


@dataclass
class Behaviour:
    """How Partner Center's customers behave where reality is less tidy than the documentation (issue 13):

    - `idempotent`: a create with a known MS-RequestId replays its customer (off: every id is forgotten at once);
    - `listing_lag_seconds`: a new customer is missing from GET /v1/customers and 404 on GET /v1/customers/{id}
      for this long (real reads lag writes by about 90 s, partner-center.md); its domain is taken at once;
    - `idempotency_window_seconds`: an MS-RequestId is remembered this long after its create (None: forever);
    - `replay_without_credentials`: a replay answers without `userCredentials` (the password is given once).
    """

    idempotent: bool = True
    listing_lag_seconds: float = 0.0
    idempotency_window_seconds: float | None = None
    replay_without_credentials: bool = False

    def update(self, body: dict[str, Any]) -> None:
        """Apply the keys given (camelCase, as POST /_emulator/behaviour takes them); raises ValueError."""
        unknown = set(body) - set(_BEHAVIOUR_KEYS)
        if unknown:
            raise ValueError(f"unknown behaviour keys {sorted(unknown)}; known: {sorted(_BEHAVIOUR_KEYS)}")
        changes: dict[str, Any] = {}
        for key, value in body.items():
            if key in ("idempotent", "replayWithoutCredentials"):
                if not isinstance(value, bool):
                    raise ValueError(f"{key} must be true or false")
            elif value is None and key == "idempotencyWindowSeconds":
                pass
            elif isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value < math.inf:
                raise ValueError(f"{key} must be a number of seconds >= 0")
            changes[_BEHAVIOUR_KEYS[key]] = value
        for name, value in changes.items():
            setattr(self, name, value)

    def as_json(self) -> dict[str, Any]:
        return {key: getattr(self, name) for key, name in _BEHAVIOUR_KEYS.items()}


@dataclass
class Call:
    """One request the emulator answered, as tests inspect it."""

    endpoint: str
    method: str
    path: str
    status: int
    ms_request_id: str | None
    ms_correlation_id: str | None
    at: float
    fault: str | None = None
    connection: int | None = None  # the client's port: calls that share one came over one kept-alive connection


@dataclass
class State:
    tenant_id: str
    client_id: str
    client_secret: str
    topic_key: str | None
    token_lifetime: int = 3600
    app_certificate: x509.Certificate | None = None  # the app registration's certificate credential
    app_object_id: str = "33333333-3333-4333-8333-333333333333"  # the application object's id (Graph's `id`)
    app_keys: list[AppKey] = field(default_factory=list)  # certificate credentials added through Graph
    mi_client_id: str = "22222222-2222-4222-8222-222222222222"  # the user-assigned managed identity
    identity_header: str | None = None  # App Service's X-IDENTITY-HEADER secret
    signing_key: rsa.RSAPrivateKey = field(default_factory=lambda: rsa.generate_private_key(65537, 2048))
    vault: dict[str, list[dict[str, Any]]] = field(default_factory=dict)  # secret name → versions
    assertions: list[str] = field(default_factory=list)
    rate_limit: RateLimit | None = None  # Partner Center's per-tenant limit, when switched on
    behaviour: Behaviour = field(default_factory=Behaviour)
    tokens: dict[str, Token] = field(default_factory=dict)
    customers: dict[str, dict[str, Any]] = field(default_factory=dict)
    by_request_id: dict[str, str] = field(default_factory=dict)  # MS-RequestId → customer id
    created_at: dict[str, float] = field(default_factory=dict)  # customer id → time.monotonic() of its create
    request_id_at: dict[str, float] = field(default_factory=dict)  # MS-RequestId → time.monotonic() of its create
    events: list[dict[str, Any]] = field(default_factory=list)
    calls: list[Call] = field(default_factory=list)
    passwords: list[str] = field(default_factory=list)
    taken_domains: set[str] = field(default_factory=lambda: {"contoso.onmicrosoft.com", "fabrikam.onmicrosoft.com"})
    counters: dict[str, int] = field(default_factory=dict)
    app_user: AppUser = field(default_factory=AppUser)
    # Azure role assignments of the caller (Resource Manager's permissions API): {"scope", "actions", "dataActions"}
    role_assignments: list[dict[str, Any]] = field(default_factory=list)

    def app_certificates(self) -> list[x509.Certificate]:
        """Every certificate credential of the app registration: the one it started with, and those Graph added."""
        return [c for c in (self.app_certificate, *(k.certificate for k in self.app_keys)) if c is not None]

    def issue_token(self, audience: str, *, user: str | None = None, mfa: bool = False) -> tuple[str, int]:
        token = "emu." + secrets.token_urlsafe(32)
        self.tokens[token] = Token(audience, self.client_id, time.time() + self.token_lifetime, user, mfa)
        self.count("user_tokens_issued" if user else "tokens_issued")
        return token, self.token_lifetime - 1

    def token_for(self, authorization: str | None, audience: str) -> Token | None:
        """The valid token an Authorization header carries for `audience`, or None."""
        if not authorization or not authorization.startswith("Bearer "):
            return None
        token = self.tokens.get(authorization[7:].strip())
        return token if token is not None and token.audience == audience and token.expires_at > time.time() else None

    def token_valid(self, authorization: str | None, audience: str) -> bool:
        return self.token_for(authorization, audience) is not None

    def count(self, name: str, by: int = 1) -> None:
        self.counters[name] = self.counters.get(name, 0) + by

    def customer_by_domain(self, domain: str) -> dict[str, Any] | None:
        domain = domain.lower()
        for customer in self.customers.values():
            if customer["companyProfile"]["domain"].lower() == domain:
                return customer
        return None

    def remember_create(self, ms_request_id: str, customer: dict[str, Any]) -> None:
        now = time.monotonic()
        self.customers[customer["id"]] = customer
        self.by_request_id[ms_request_id] = customer["id"]
        self.created_at[customer["id"]] = self.request_id_at[ms_request_id] = now

    def replayable(self, ms_request_id: str) -> dict[str, Any] | None:
        """The customer a create with this MS-RequestId replays, if Partner Center still remembers the id."""
        customer_id = self.by_request_id.get(ms_request_id)
        if customer_id is None or not self.behaviour.idempotent:
            return None
        window = self.behaviour.idempotency_window_seconds
        if window is not None and time.monotonic() - self.request_id_at[ms_request_id] >= window:
            return None
        return self.customers[customer_id]

    def listed(self, customer_id: str) -> bool:
        """Whether reads (list, get) see this customer yet: not within the listing lag after its create."""
        lag = self.behaviour.listing_lag_seconds
        return lag <= 0 or time.monotonic() - self.created_at.get(customer_id, -math.inf) >= lag

    def reset(self) -> None:
        self.vault.clear()
        self.customers.clear()
        self.by_request_id.clear()
        self.created_at.clear()
        self.request_id_at.clear()
        self.behaviour = Behaviour()
        self.events.clear()
        self.calls.clear()
        self.counters.clear()
        self.app_user.reset()
        self.role_assignments.clear()
        self.app_keys.clear()
