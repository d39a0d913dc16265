"""A short-lived certificate credential on the app registration, for `ops.consent --temporary-certificate`: the way a
secretless deployment (whose only credential is the function's federated managed identity, which no laptop can use)
still gets an App+User sign-in bound to the app, not a public client's (the device code's).

    1. a key and a self-signed certificate valid for one hour are made in memory (written only to a mode-600 file
       in a private temporary folder, for MSAL, and deleted after);
    2. the certificate is added to the app registration (Microsoft Graph: PATCH /applications/{id} keyCredentials;
       addKey cannot be used, it needs a certificate the app already has) — only when the app has no certificate
       credential, since that PATCH replaces the whole collection;
    3. the caller signs the Admin agent in with it (the auth-code redemption is signed with the certificate);
    4. it is removed (POST /applications/{id}/removeKey, its proof signed with the same key), also on failure; if that
       fails too, the certificate still expires within the hour, and the message says where to remove it.

The operator signs in to Graph with DefaultAzureCredential (`az login`) and must be allowed to change the app
registration: its owner, or an Application Administrator. Entra may take a minute to accept a new credential:
`usable` waits for it.
"""

from __future__ import annotations

import base64
import contextlib
import datetime as dt
import os
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import jwt
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID

PUBLIC_GRAPH = "https://graph.microsoft.com"
GRAPH_AUDIENCES = {PUBLIC_GRAPH: PUBLIC_GRAPH, "https://graph.microsoft.us": "https://graph.microsoft.us",
                   "https://microsoftgraph.chinacloudapi.cn": "https://microsoftgraph.chinacloudapi.cn"}  # fmt: skip
PROOF_AUDIENCE = "00000002-0000-0000-c000-000000000000"  # Graph's (AAD Graph's) application id: removeKey's proof
DISPLAY_NAME = "ops.consent temporary certificate"


class CertificateRefused(Exception):
    """The temporary certificate cannot be used: its text says why and what to do instead."""


@dataclass(frozen=True)
class Certificate:
    key: rsa.RSAPrivateKey
    certificate: x509.Certificate

    @property
    def thumbprint(self) -> bytes:
        return self.certificate.fingerprint(hashes.SHA1())  # noqa: S303 — x5t and Graph's customKeyIdentifier

    def pem(self) -> bytes:
        """The private key and the certificate, as MSAL's certificate credential reads them."""
        key = self.key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                     serialization.NoEncryption())  # fmt: skip
        return key + self.certificate.public_bytes(serialization.Encoding.PEM)

    def proof(self, object_id: str) -> str:
        """removeKey's proof of possession: signed with this key, for Graph, issued by the application object."""
        now = int(time.time())
        claims = {"aud": PROOF_AUDIENCE, "iss": object_id, "nbf": now, "exp": now + 600, "jti": str(uuid.uuid4())}
        x5t = base64.urlsafe_b64encode(self.thumbprint).rstrip(b"=").decode()
        return jwt.encode(claims, self.key, algorithm="RS256", headers={"x5t": x5t})


def make_certificate(lifetime: dt.timedelta) -> Certificate:
    """A fresh RSA key and a self-signed certificate, valid from five minutes ago for `lifetime`."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, DISPLAY_NAME)])
    now = dt.datetime.now(dt.UTC)
    certificate = (
        x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
        .serial_number(x509.random_serial_number()).not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + lifetime).sign(key, hashes.SHA256())
    )  # fmt: skip
    return Certificate(key, certificate)


class Graph:
    """The app registration through Microsoft Graph, signed in with the operator's credential (sync)."""

    def __init__(self, credential: Any, url: str | None = None) -> None:
        self.url = (url or os.environ.get("MICROSOFT_GRAPH_URL") or PUBLIC_GRAPH).rstrip("/")
        self._credential = credential
        self._scope = f"{GRAPH_AUDIENCES.get(self.url, PUBLIC_GRAPH)}/.default"

    def _headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self._credential.get_token(self._scope).token}"}

    def _call(self, method: str, path: str, body: Any = None) -> httpx.Response:
        with httpx.Client(timeout=30.0) as http:
            answer = http.request(method, f"{self.url}/v1.0{path}", json=body, headers=self._headers())
        if answer.status_code >= 300:
            code = (answer.json().get("error") or {}).get("code") if answer.content else None
            raise CertificateRefused(
                f"Microsoft Graph refused {method} {path.split('?')[0]} ({answer.status_code} {code or ''}): the "
                "signed-in user must own the app registration or be an Application Administrator"
            )
        return answer

    def application(self, client_id: str) -> dict[str, Any]:
        """The application object (id, keyCredentials without their keys)."""
        return dict(self._call("GET", f"/applications(appId='{client_id}')?$select=id,appId,keyCredentials").json())

    def set_certificates(self, object_id: str, certificates: list[x509.Certificate]) -> None:
        """Replace the app's certificate credentials (Graph's PATCH replaces the whole collection)."""
        credentials = [{"type": "AsymmetricX509Cert", "usage": "Verify", "displayName": DISPLAY_NAME,
                        "key": base64.b64encode(c.public_bytes(serialization.Encoding.DER)).decode()}
                       for c in certificates]  # fmt: skip
        self._call("PATCH", f"/applications/{object_id}", {"keyCredentials": credentials})

    def remove_key(self, object_id: str, key_id: str, proof: str) -> None:
        self._call("POST", f"/applications/{object_id}/removeKey", {"keyId": key_id, "proof": proof})


@contextlib.contextmanager
def temporary_certificate(
    graph: Graph, client_id: str, *, lifetime: dt.timedelta = dt.timedelta(hours=1), say: Callable[[str], None] = print
) -> Iterator[Path]:
    """The path of a PEM file holding a certificate the app registration accepts, for as long as the block runs;
    raises CertificateRefused (nothing is left on the app registration when it does, but what it says)."""
    app = graph.application(client_id)
    if app.get("keyCredentials"):
        raise CertificateRefused(
            "the app registration has certificate credentials already, and adding one through Graph replaces them "
            "all: sign in with one of them (PARTNER_CENTER_CLIENT_CERTIFICATE_PATH), or use --device-code"
        )
    made = make_certificate(lifetime)
    graph.set_certificates(app["id"], [made.certificate])
    ours = base64.b64encode(made.thumbprint).decode()
    keys = graph.application(client_id).get("keyCredentials") or []
    key_id = next((k["keyId"] for k in keys if k.get("customKeyIdentifier") == ours), None)
    until = made.certificate.not_valid_after_utc.strftime("%Y-%m-%d %H:%M UTC")
    say(f"Added a temporary certificate to the app registration (thumbprint {made.thumbprint.hex()}, expires {until})")
    with tempfile.TemporaryDirectory(prefix="ops-consent-") as folder:
        path = Path(folder) / "temporary-certificate.pem"
        path.touch(mode=0o600)
        path.write_bytes(made.pem())
        try:
            yield path
        finally:
            path.unlink(missing_ok=True)
            try:
                if key_id is None:
                    raise CertificateRefused("Graph did not list the certificate just added")
                graph.remove_key(app["id"], key_id, made.proof(app["id"]))
                say("Removed the temporary certificate from the app registration")
            except (CertificateRefused, httpx.HTTPError) as exc:
                where = f"App registrations → Certificates & secrets, thumbprint {made.thumbprint.hex()}"
                say(f"Could not remove the temporary certificate ({exc}): remove it in the portal ({where}); "
                    f"it expires by itself at {until}")  # fmt: skip


def usable(try_sign_in: Callable[[], bool], *, within: float = 180.0, every: float = 5.0) -> bool:
    """Wait until Entra accepts the new credential (`try_sign_in` answers whether an app-only token was issued):
    a new key credential can take a minute to reach every sign-in server. False when it never does."""
    deadline = time.monotonic() + within
    while not try_sign_in():
        if time.monotonic() > deadline:
            return False
        time.sleep(every)
    return True
