"""The emulator's own CA and server certificate (trustme), written where clients can trust it."""

from __future__ import annotations

import ssl
from pathlib import Path

import trustme


def make_server_context(cert_dir: Path) -> tuple[ssl.SSLContext, Path]:
    """Create (or reuse) a CA in cert_dir; returns the server's SSL context and the CA bundle's path."""
    cert_dir.mkdir(parents=True, exist_ok=True)
    ca_path = cert_dir / "ca.pem"
    key_path = cert_dir / "server.pem"
    if not (ca_path.exists() and key_path.exists()):
        ca = trustme.CA(organization_name="CSP onboarding local emulator CA")
        server = ca.issue_cert("localhost", "127.0.0.1", "::1")
        ca.cert_pem.write_to_path(str(ca_path))
        server.private_key_and_cert_chain_pem.write_to_path(str(key_path))
        key_path.chmod(0o600)
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(str(key_path))
    return context, ca_path
