"""Signed tokens for the emulator, through PyJWT: sign managed-identity and user tokens, read and verify client
assertions (RS256 or PS256), as Entra ID does."""

from __future__ import annotations

import base64
from typing import Any

import jwt
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import rsa


class InvalidToken(Exception):
    """Why an assertion is refused (the text becomes the AADSTS description)."""


def sign(claims: dict[str, Any], key: rsa.RSAPrivateKey, *, kid: str = "emulator") -> str:
    """An RS256 JWT of these claims."""
    return jwt.encode(claims, key, algorithm="RS256", headers={"kid": kid})


def parse(token: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """Header and claims, unverified (to find out who signed it); raises InvalidToken when it is not a JWT."""
    try:
        return jwt.get_unverified_header(token), jwt.decode(token, options={"verify_signature": False})
    except jwt.PyJWTError as exc:
        raise InvalidToken("the assertion is not a JWT") from exc


def verify(token: str, public_key: rsa.RSAPublicKey, *, audiences: set[str], leeway: float = 60) -> dict[str, Any]:
    """The claims of a valid RS256 / PS256 token for one of `audiences`; raises InvalidToken."""
    try:
        claims: dict[str, Any] = jwt.decode(
            token, public_key, algorithms=["RS256", "PS256"], audience=sorted(audiences), leeway=leeway,
            options={"require": ["aud"]},
        )  # fmt: skip
    except jwt.InvalidAlgorithmError as exc:
        raise InvalidToken(f"unsupported algorithm {parse(token)[0].get('alg')}") from exc
    except jwt.InvalidSignatureError as exc:
        raise InvalidToken("the assertion's signature is invalid") from exc
    except jwt.ExpiredSignatureError as exc:
        raise InvalidToken("the assertion has expired") from exc
    except jwt.ImmatureSignatureError as exc:
        raise InvalidToken("the assertion is not valid yet") from exc
    except (jwt.InvalidAudienceError, jwt.MissingRequiredClaimError) as exc:
        raise InvalidToken(f"the assertion's audience {parse(token)[1].get('aud')!r} is not accepted") from exc
    except jwt.PyJWTError as exc:
        raise InvalidToken("the assertion is not a JWT") from exc
    return claims


def certificate_thumbprints(cert: x509.Certificate) -> set[str]:
    """x5t (SHA-1) and x5t#S256 values of a certificate, as they appear in a JWT header."""
    return {
        base64.urlsafe_b64encode(cert.fingerprint(algorithm)).rstrip(b"=").decode("ascii")
        for algorithm in (hashes.SHA1(), hashes.SHA256())  # noqa: S303 — x5t is SHA-1 by definition
    }
