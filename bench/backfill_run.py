"""The backfill on the local stack: a file of N rows with a share of bad ones, interrupted during the enqueue and
run again; prints the figures (times, what each run enqueued, customers and creates per request).

    .venv/bin/python -m bench.backfill_run --rows 2000 --bad 0.05 --interrupt-at 40
"""

from __future__ import annotations

import argparse
import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from pathlib import Path
from typing import Any

from devhost.stack import LOCAL, ROOT, Stack
from ops.backfill.sample import make_rows, write_csv


def run_backfill(file: Path, env: dict[str, str], *, interrupt_at: int | None, log: Path) -> dict[str, Any]:
    """One `python -m ops.backfill` run; with `interrupt_at`, SIGINT once its enqueue bar reaches that percent."""
    started = time.monotonic()
    command = [sys.executable, "-m", "ops.backfill", str(file), "--timeout", "1200"]
    process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    interrupted = threading.Event()
    err_lines: list[str] = []

    def watch() -> None:
        assert process.stderr is not None
        buffer = ""
        while chunk := process.stderr.read(64):
            buffer += chunk
            for part in re.split(r"[\r\n]", buffer)[:-1]:
                err_lines.append(part)
                found = re.search(r"enqueue:\s+(\d+)%", part)
                if (
                    interrupt_at is not None
                    and found
                    and int(found.group(1)) >= interrupt_at
                    and not interrupted.is_set()
                ):
                    interrupted.set()
                    process.send_signal(signal.SIGINT)
            buffer = re.split(r"[\r\n]", buffer)[-1]

    reader = threading.Thread(target=watch, daemon=True)
    reader.start()
    out, _ = process.communicate(timeout=1800)
    reader.join(timeout=5)
    log.write_text("\n".join(err_lines) + "\n" + out)
    enqueue = next((line for line in err_lines if line.startswith("enqueue: {")), None)
    return {
        "seconds": round(time.monotonic() - started, 1),
        "exit": process.returncode,
        "interrupted": interrupted.is_set(),
        "enqueue": enqueue,
        "summary": out.strip().splitlines()[-1] if out.strip() else None,
        "last_bars": [line for line in err_lines if re.match(r"(enqueue|outcomes):", line)][-2:],
    }


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.backfill_run", description=__doc__)
    parser.add_argument("--rows", type=int, default=2000)
    parser.add_argument("--bad", type=float, default=0.05)
    parser.add_argument("--interrupt-at", type=int, default=40, help="percent of the enqueue bar")
    parser.add_argument("--rate", default="12000", help="PARTNER_CENTER_MAX_REQUESTS_PER_MINUTE of the stack")
    args = parser.parse_args()
    folder = LOCAL / "bench-backfill"
    folder.mkdir(parents=True, exist_ok=True)
    file = folder / f"backfill-{args.rows}.csv"
    tag = f"b{int(time.time()) % 100000}"
    write_csv(file, make_rows(args.rows, args.bad, tag=tag))
    stack = Stack(log_dir=folder / "logs", host_args=["--max-polling-interval", "0.5"],
                  extra_env={"PARTNER_CENTER_MAX_REQUESTS_PER_MINUTE": args.rate})  # fmt: skip
    try:
        stack.start()
        env = {**os.environ, **stack.env}
        first = run_backfill(file, env, interrupt_at=args.interrupt_at, log=folder / "run1.log")
        customers_after_first = len(stack.admin("GET", "customers"))
        second = run_backfill(file, env, interrupt_at=None, log=folder / "run2.log")
        customers = stack.admin("GET", "customers")
        creates = [c for c in stack.admin("GET", "calls") if c["endpoint"] == "customers.create"]
        events = stack.events()
        figures = {
            "rows": args.rows,
            "bad_rows": sum(1 for line in (file.read_text().splitlines()[1:]) if not line)
            or round(args.rows * args.bad),
            "first_run": first,
            "customers_after_first_run": customers_after_first,
            "second_run": second,
            "customers": len(customers),
            "distinct_domains": len({c["companyProfile"]["domain"] for c in customers}),
            "creates": len(creates),
            "creates_per_request_max": max(Counter(c["ms_request_id"] for c in creates).values(), default=0),
            "events": dict(Counter(e["type"].rsplit(".", 1)[-1] for e in events)),
            "events_duplicated_ids": len(events) - len({e["id"] for e in events}),
            "report": str(file.with_name(file.name + ".backfill") / "report.html"),
        }
        print(json.dumps(figures, indent=2, ensure_ascii=False))
        return 0
    finally:
        stack.stop()


if __name__ == "__main__":
    sys.exit(main())
