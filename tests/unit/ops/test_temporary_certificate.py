"""The temporary certificate of `ops.consent --temporary-certificate` (issue 24, item 5), over a Graph that records
what it is asked: added only to an app with no certificate credential, its key only in a private file while the
sign-in runs, removed afterwards with a proof of possession Graph accepts, also when the sign-in fails; and where it
cannot be removed, the operator is told where, and that it expires within the hour."""

from __future__ import annotations

import base64
import datetime as dt
import stat
from pathlib import Path
from typing import Any

import jwt
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes

from ops.temporary_certificate import PROOF_AUDIENCE, CertificateRefused, temporary_certificate, usable

OBJECT_ID = "33333333-3333-4333-8333-333333333333"


class FakeGraph:
    """The app registration, as Graph answers for it; `refuse_removal` makes removeKey fail."""

    def __init__(self, *, existing: list[dict[str, Any]] | None = None, refuse_removal: bool = False) -> None:
        self.keys: list[dict[str, Any]] = list(existing or [])
        self.certificates: list[x509.Certificate] = []
        self.proofs: list[str] = []
        self.refuse_removal = refuse_removal

    def application(self, client_id: str) -> dict[str, Any]:
        return {"id": OBJECT_ID, "appId": client_id, "keyCredentials": [dict(k) for k in self.keys]}

    def set_certificates(self, object_id: str, certificates: list[x509.Certificate]) -> None:
        assert object_id == OBJECT_ID
        self.certificates = certificates
        self.keys = [
            {"keyId": f"key-{n}", "customKeyIdentifier": base64.b64encode(c.fingerprint(hashes.SHA1())).decode()}  # noqa: S303
            for n, c in enumerate(certificates)
        ]

    def remove_key(self, object_id: str, key_id: str, proof: str) -> None:
        self.proofs.append(proof)
        if self.refuse_removal:
            raise CertificateRefused("Microsoft Graph refused POST /applications/…/removeKey (403)")
        self.keys = [k for k in self.keys if k["keyId"] != key_id]


def test_the_certificate_lives_on_the_app_registration_only_while_the_block_runs() -> None:
    graph, said = FakeGraph(), list[str]()
    with temporary_certificate(graph, "client-id", say=said.append) as pem:  # type: ignore[arg-type]
        assert len(graph.keys) == 1
        assert stat.S_IMODE(pem.stat().st_mode) == 0o600 and stat.S_IMODE(pem.parent.stat().st_mode) == 0o700
        text = pem.read_text()
        assert "PRIVATE KEY" in text and "BEGIN CERTIFICATE" in text
        [certificate] = graph.certificates
        lifetime = certificate.not_valid_after_utc - dt.datetime.now(dt.UTC)
        assert dt.timedelta(minutes=55) < lifetime <= dt.timedelta(hours=1)
        kept = pem
    assert graph.keys == [] and not kept.exists() and not kept.parent.exists()
    [proof] = graph.proofs
    claims = jwt.decode(proof, certificate.public_key(), algorithms=["RS256"], audience=PROOF_AUDIENCE)  # type: ignore[arg-type]
    assert claims["iss"] == OBJECT_ID and claims["exp"] - claims["nbf"] <= 600
    assert said[0].startswith("Added a temporary certificate") and said[-1].startswith("Removed")


def test_it_is_removed_when_the_sign_in_fails() -> None:
    graph = FakeGraph()
    with pytest.raises(RuntimeError), temporary_certificate(graph, "client-id", say=lambda _: None):  # type: ignore[arg-type]
        raise RuntimeError("the browser never came back")
    assert graph.keys == [] and len(graph.proofs) == 1


def test_an_app_with_certificates_of_its_own_is_left_alone() -> None:
    # Graph's PATCH replaces every key credential: adding ours would remove the app's own.
    graph = FakeGraph(existing=[{"keyId": "theirs", "customKeyIdentifier": "abc"}])
    refused = pytest.raises(CertificateRefused, match="PARTNER_CENTER_CLIENT_CERTIFICATE_PATH")
    with refused, temporary_certificate(graph, "client-id", say=lambda _: None):  # type: ignore[arg-type]
        pytest.fail("no certificate may be added")
    assert graph.keys == [{"keyId": "theirs", "customKeyIdentifier": "abc"}] and graph.certificates == []


def test_a_certificate_that_cannot_be_removed_is_named_with_where_and_until_when(tmp_path: Path) -> None:
    graph, said = FakeGraph(refuse_removal=True), list[str]()
    with temporary_certificate(graph, "client-id", say=said.append) as pem:  # type: ignore[arg-type]
        thumbprint = graph.certificates[0].fingerprint(hashes.SHA1()).hex()  # noqa: S303
    assert not pem.exists(), "the key is gone from the disk all the same"
    assert "Certificates & secrets" in said[-1] and thumbprint in said[-1] and "expires by itself at" in said[-1]


def test_usable_waits_for_entra_to_accept_the_new_credential() -> None:
    answers = iter([False, False, True])
    assert usable(lambda: next(answers), within=5, every=0)
    assert not usable(lambda: False, within=0, every=0)
