"""python -m devhost: run function_app's queue functions against the queues in its app settings."""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import signal
from pathlib import Path

from devhost.console import configure_console_logging
from devhost.host import run_host
from devhost.hostjson import load_queue_options
from devhost.http import HttpOptions, route_prefix


async def _main(args: argparse.Namespace) -> None:
    options = load_queue_options(Path(args.host_json)).with_overrides(
        max_polling_interval=args.max_polling_interval,
        batch_size=args.batch_size,
        new_batch_threshold=args.new_batch_threshold,
    )
    logging.getLogger("devhost").info("Queue options: %s", options)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    http = None
    if args.http_port is not None:
        prefix = route_prefix(Path(args.host_json))
        http = HttpOptions(args.http_port, Path(args.keys_file), prefix, options.function_timeout)
    await run_host(
        args.app, options, stop, lease_seconds=args.lease_seconds, max_concurrency=args.max_concurrency, http=http
    )


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m devhost", description=__doc__)
    parser.add_argument("--app", default="function_app", help="module that defines `app`")
    parser.add_argument("--host-json", default="host.json")
    parser.add_argument(
        "--lease-seconds", type=float, help="visibility of a received message while it runs (default 600, as the host)"
    )
    # visibilityTimeout and maxDequeueCount are read from host.json and its AzureFunctionsJobHost__… app settings only,
    # as the real host does: the function app reads the same values for its timing model (handlers/domain/timing.py).
    parser.add_argument("--max-polling-interval", type=float, help="override: longest wait between empty polls")
    parser.add_argument("--batch-size", type=int, help="override")
    parser.add_argument("--new-batch-threshold", type=int, help="override")
    parser.add_argument("--max-concurrency", type=int, help="benchmarks: exactly this many messages in flight")
    parser.add_argument("--http-port", type=int, help="serve the HTTP functions on 127.0.0.1:PORT")
    parser.add_argument("--keys-file", default=".local/function-keys.json", help="the function keys (JSON)")
    parser.add_argument("--log-level", default="INFO")
    args = parser.parse_args()
    configure_console_logging(args.log_level)
    asyncio.run(_main(args))
    # The Functions worker's process ends without closing what the app holds for the worker's life (its HTTP and
    # storage clients). So does this one: the interpreter's finalizers would log each as an "Unclosed client
    # session" ERROR after a clean stop.
    logging.shutdown()
    os._exit(0)


if __name__ == "__main__":
    main()
