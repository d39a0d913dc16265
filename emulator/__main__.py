"""Run the emulator: python -m emulator --port 0 --cert-dir .local/emulator (prints its URL when ready)."""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import secrets
import signal
import socket
import ssl
import sys
from pathlib import Path

from aiohttp import web
from cryptography import x509

from emulator.app import STORAGE_FAULTS_KEY, build_app
from emulator.state import State
from emulator.table_proxy import build_table_proxy
from emulator.tls import make_server_context


def _load_certificate(path: str | None) -> x509.Certificate | None:
    if not path:
        return None
    return x509.load_pem_x509_certificate(Path(path).read_bytes())


async def serve(args: argparse.Namespace) -> None:
    ssl_context, ca_path = make_server_context(Path(args.cert_dir))
    state = State(
        tenant_id=args.tenant_id,
        client_id=args.client_id,
        client_secret=os.environ.get("EMULATOR_CLIENT_SECRET") or secrets.token_urlsafe(24),
        topic_key=os.environ.get("EMULATOR_TOPIC_KEY") or secrets.token_urlsafe(24),
        token_lifetime=args.token_lifetime,
        identity_header=os.environ.get("EMULATOR_IDENTITY_HEADER") or secrets.token_urlsafe(16),
        app_certificate=_load_certificate(args.app_certificate),
    )
    app = build_app(state)
    runner = await _serve(app, args.host, args.port, ssl_context)
    port = _port(runner)
    ready: dict[str, object] = {"url": f"https://localhost:{port}", "port": port, "caFile": str(ca_path.resolve())}
    runners = [runner]
    if args.table_proxy_to:  # plain HTTP, as Azurite's own endpoint: the storage SDKs follow the connection string
        proxy = build_table_proxy(args.table_proxy_to, state, app[STORAGE_FAULTS_KEY])
        runners.append(await _serve(proxy, args.host, 0, None))
        ready["tableProxyPort"] = _port(runners[-1])
    print(json.dumps(ready), flush=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    for each in reversed(runners):
        await each.cleanup()


async def _serve(app: web.Application, host: str, port: int, ssl_context: ssl.SSLContext | None) -> web.AppRunner:
    runner = web.AppRunner(app, access_log=None, handle_signals=False)
    await runner.setup()
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    await web.SockSite(runner, sock, ssl_context=ssl_context, backlog=512).start()
    return runner


def _port(runner: web.AppRunner) -> int:
    return int(runner.addresses[0][1])


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m emulator", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0, help="0 picks a free port")
    parser.add_argument("--cert-dir", default=".local/emulator")
    parser.add_argument("--tenant-id", default="00000000-0000-4000-8000-00000000c5b0")
    parser.add_argument("--client-id", default="11111111-1111-4111-8111-111111111111")
    parser.add_argument("--token-lifetime", type=int, default=3600)
    parser.add_argument("--app-certificate", help="PEM certificate registered as the app's credential")
    parser.add_argument(
        "--table-proxy-to", help="Azurite's table endpoint (http://host:port): also serve the table fault proxy"
    )
    args = parser.parse_args()
    try:
        asyncio.run(serve(args))
    except KeyboardInterrupt:
        sys.exit(0)


if __name__ == "__main__":
    main()
