"""Just enough JWT (RS256) for the emulator: sign managed-identity tokens, verify client assertions."""

from __future__ import annotations

import base64
import json
import time
from typing import Any

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def unb64url(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def sign(claims: dict[str, Any], key: rsa.RSAPrivateKey, *, kid: str = "emulator") -> str:
    header = {"alg": "RS256", "typ": "JWT", "kid": kid}
    signing_input = f"{b64url(json.dumps(header).encode())}.{b64url(json.dumps(claims).encode())}"
    signature = key.sign(signing_input.encode("ascii"), padding.PKCS1v15(), hashes.SHA256())
    return f"{signing_input}.{b64url(signature)}"


class InvalidToken(Exception):
    """Why an assertion is refused (the text becomes the AADSTS description)."""


def parse(token: str) -> tuple[dict[str, Any], dict[str, Any], bytes, bytes]:
    """Header, claims, signing input and signature; raises InvalidToken when it is not a JWT."""
    try:
        header_b64, claims_b64, signature_b64 = token.split(".")
        header, claims = json.loads(unb64url(header_b64)), json.loads(unb64url(claims_b64))
    except (ValueError, json.JSONDecodeError) as exc:
        raise InvalidToken("the assertion is not a JWT") from exc
    return header, claims, f"{header_b64}.{claims_b64}".encode("ascii"), unb64url(signature_b64)


def verify(token: str, public_key: rsa.RSAPublicKey, *, audiences: set[str], leeway: float = 60) -> dict[str, Any]:
    """The claims of a valid RS256 token for one of `audiences`; raises InvalidToken."""
    header, claims, signing_input, signature = parse(token)
    if header.get("alg") not in ("RS256", "PS256"):
        raise InvalidToken(f"unsupported algorithm {header.get('alg')}")
    pad = padding.PKCS1v15() if header["alg"] == "RS256" else padding.PSS(padding.MGF1(hashes.SHA256()), 32)
    try:
        public_key.verify(signature, signing_input, pad, hashes.SHA256())
    except InvalidSignature as exc:
        raise InvalidToken("the assertion's signature is invalid") from exc
    now = time.time()
    if float(claims.get("exp", 0)) < now - leeway:
        raise InvalidToken("the assertion has expired")
    if float(claims.get("nbf", 0)) > now + leeway:
        raise InvalidToken("the assertion is not valid yet")
    audience = claims.get("aud")
    if (audience if isinstance(audience, str) else None) not in audiences:
        raise InvalidToken(f"the assertion's audience {audience!r} is not accepted")
    return claims


def certificate_thumbprints(cert: x509.Certificate) -> set[str]:
    """x5t (SHA-1) and x5t#S256 values of a certificate, as they appear in a JWT header."""
    return {b64url(cert.fingerprint(hashes.SHA1())), b64url(cert.fingerprint(hashes.SHA256()))}  # noqa: S303
