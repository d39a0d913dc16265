"""The one-time App+User sign-in (Secure Application Model): an Admin agent signs in interactively, with MFA, and the
refresh token goes straight to the Key Vault secret the function redeems (PARTNER_CENTER_USER_TOKEN_SECRET_URL).

    python -m ops.consent                   # auth-code flow: open the printed URL, sign in; redirect to localhost
    python -m ops.consent --device-code     # device code (public client flows allowed; its token is a public client's)
    python -m ops.consent --temporary-certificate   # a secretless deployment: a one-hour certificate on the app
                                                    # registration signs the auth-code flow, then is removed

    python -m ops.consent --dry-run         # the settings and your role on the token vault; nobody signs in

Settings come from the environment, as the function reads them (PARTNER_CENTER_TENANT_ID, _CLIENT_ID, the app's
credential, PARTNER_CENTER_USER_TOKEN_SECRET_URL, PARTNER_CENTER_CLOUD / _AUTHORITY_HOST). The vault is written with
azure-identity's DefaultAzureCredential: your `az login` (or a managed identity where one is reachable, as on the local
stack), which needs Key Vault Secret Setter on the App+User token vault (`azd provision` grants it to you).
Nothing secret is printed: not the refresh token, not the access token, not a code.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import threading
import urllib.parse
from http.server import BaseHTTPRequestHandler, HTTPServer
from typing import Any

from handlers.api import (
    PARTNER_CENTER_SCOPE,
    USER_IMPERSONATION_SCOPE,
    Settings,
    build_msal_app,
    build_public_msal_app,
    entra_app,
    store_app_user_sign_in,
)
from ops.roles import add_role_arguments, needs, report
from ops.storage import operator_credential, tls
from ops.temporary_certificate import CertificateRefused, Graph, temporary_certificate, usable
from ops.terminal import shown

APP_USER_OFF = (
    "App+User is off here (PARTNER_CENTER_USER_TOKEN_SECRET_URL is not set): turn it on with "
    '`azd env set APP_USER_ENABLED true` and `azd provision`, then `eval "$(azd env get-values)"` and run this again'
)


def _redirect_server(port: int) -> tuple[HTTPServer, dict[str, str]]:
    """A one-shot local server for the redirect; fills the dict with the query parameters it receives."""
    received: dict[str, str] = {}

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            query = urllib.parse.urlparse(self.path).query
            received.update({k: v[0] for k, v in urllib.parse.parse_qs(query).items()})
            self.send_response(200)
            self.send_header("Content-Type", "text/plain; charset=utf-8")
            self.end_headers()
            self.wfile.write(b"Signed in. You can close this window.\n")

        def log_message(self, format: str, *args: Any) -> None:  # the query holds the code: never log it
            pass

    return HTTPServer(("127.0.0.1", port), Handler), received


def sign_in_with_browser(settings: Settings, port: int) -> dict[str, Any]:
    """The auth-code flow (PKCE) of the confidential app, redirecting to http://localhost:<port>."""
    app = build_msal_app(entra_app(settings))
    server, received = _redirect_server(port)
    redirect_uri = f"http://localhost:{server.server_address[1]}"
    flow = app.initiate_auth_code_flow([USER_IMPERSONATION_SCOPE], redirect_uri=redirect_uri, prompt="login")
    print(f"Sign in as an Admin agent of the partner tenant (with MFA):\n  {flow['auth_uri']}", flush=True)
    thread = threading.Thread(target=server.handle_request, daemon=True)
    thread.start()
    thread.join(timeout=600)
    server.server_close()
    if not received:
        raise SystemExit("No sign-in arrived at the redirect within 10 minutes")
    return dict(app.acquire_token_by_auth_code_flow(flow, received, scopes=[USER_IMPERSONATION_SCOPE]) or {})


def sign_in_with_device_code(settings: Settings) -> dict[str, Any]:
    """The device-code flow (a public client flow of the same app registration)."""
    app = build_public_msal_app(entra_app(settings))
    flow = app.initiate_device_flow(scopes=[USER_IMPERSONATION_SCOPE])
    if "user_code" not in flow:
        raise SystemExit(f"Entra refused the device flow: {shown(flow.get('error'))}: "
                         f"{shown(flow.get('error_description', ''))}")  # fmt: skip
    print(shown(flow["message"]), flush=True)  # the verification URL and the short user code: meant to be shown
    return dict(app.acquire_token_by_device_flow(flow) or {})


def sign_in_with_temporary_certificate(port: int) -> tuple[Settings, dict[str, Any]]:
    """The auth-code flow of a secretless deployment's app, signed with a certificate that lives on the app
    registration for the sign-in only (ops.temporary_certificate); raises CertificateRefused."""
    credential = operator_credential()
    try:
        with temporary_certificate(Graph(credential), os.environ.get("PARTNER_CENTER_CLIENT_ID", "")) as pem:
            settings = Settings(  # the certificate, and none of the environment's other credentials
                PARTNER_CENTER_CLIENT_CERTIFICATE_PATH=str(pem), PARTNER_CENTER_CLIENT_SECRET=None,
                PARTNER_CENTER_FEDERATED_CLIENT_ID=None,
            )  # fmt: skip
            app = build_msal_app(entra_app(settings))
            if not usable(lambda: "access_token" in (app.acquire_token_for_client([PARTNER_CENTER_SCOPE]) or {})):
                raise CertificateRefused("Entra did not accept the temporary certificate within 3 minutes: run again")
            return settings, sign_in_with_browser(settings, port)
    finally:
        credential.close()


async def _store(settings: Settings, refresh_token: str, *, public: bool) -> str:
    """The sign-in, into the vault, with the operator's Entra sign-in."""
    from azure.identity.aio import DefaultAzureCredential

    async with DefaultAzureCredential(**tls()) as credential:
        return await store_app_user_sign_in(settings, refresh_token, public=public, credential=credential)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m ops.consent", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--device-code", action="store_true", help="sign in with a device code instead")
    parser.add_argument("--port", type=int, default=8400, help="local redirect port (registered as a redirect URI)")
    parser.add_argument(
        "--temporary-certificate", action="store_true", help="a secretless app: a one-hour certificate signs in"
    )
    parser.add_argument("--dry-run", action="store_true", help="check App+User is on and your role on its vault")
    add_role_arguments(parser)
    args = parser.parse_args(argv)
    if args.device_code and args.temporary_certificate:
        parser.error("--device-code and --temporary-certificate are two ways to sign in: pick one")
    secret_url = os.environ.get("PARTNER_CENTER_USER_TOKEN_SECRET_URL")
    if not secret_url:
        print(APP_USER_OFF, file=sys.stderr)
        return 2
    if args.dry_run:
        print(f"App+User is on: the sign-in goes to {shown(secret_url)}")
        return report(needs("consent", "", "", ""), args, secret_url=secret_url)
    if args.temporary_certificate:
        try:
            settings, result = sign_in_with_temporary_certificate(args.port)
        except CertificateRefused as exc:
            print(f"consent: {exc}", file=sys.stderr)
            return 1
    else:
        settings = Settings()  # from the environment
        result = sign_in_with_device_code(settings) if args.device_code else sign_in_with_browser(settings, args.port)
    if "refresh_token" not in result:
        print(f"Sign-in failed: {shown(result.get('error'))}: {shown(str(result.get('error_description', ''))[:300])}",
              file=sys.stderr)  # fmt: skip
        return 1
    claims = result.get("id_token_claims") or {}
    if "mfa" not in (claims.get("amr") or []):
        print("Warning: the sign-in carried no MFA claim; Partner Center refuses App+User calls without MFA "
              "(401 / 900421). Sign in again with MFA.", file=sys.stderr)  # fmt: skip
    secret_id = asyncio.run(_store(settings, str(result["refresh_token"]), public=args.device_code))
    print(f"Stored the App+User refresh token as a new version of {shown(secret_id)} (signed in as "
          f"{shown(claims.get('preferred_username', 'the Admin agent'))}).")  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
