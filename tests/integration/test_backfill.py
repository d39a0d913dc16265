"""ops.backfill through the real stack: bad rows reported and never sent, the rest created once, a second run
enqueues nothing and reports the same outcomes."""

from __future__ import annotations

import csv
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from devhost.stack import ROOT
from ops.backfill.sample import make_rows, write_csv
from tests.integration.conftest import Harness

pytestmark = pytest.mark.integration


def backfill(harness: Harness, file: Path, *options: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, **harness.stack.env}
    command = [sys.executable, "-m", "ops.backfill", str(file), "--timeout", "120", *options]
    return subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=300, check=False)


def test_a_backfill_creates_each_good_row_once_and_resumes_without_sending_twice(
    harness: Harness, tmp_path: Path
) -> None:
    file = tmp_path / "accounts.csv"
    write_csv(file, make_rows(30, 0.1, tag=f"it{int(time.time()) % 10000}"))
    first = backfill(harness, file)
    assert first.returncode == 1, first.stderr  # 3 rows are invalid
    assert "30 rows, 27 valid, 3 invalid" in first.stdout
    assert "enqueue: {'sent': 27}" in first.stderr
    with (tmp_path / "accounts.csv.backfill" / "outcomes.csv").open() as out:
        outcomes = list(csv.DictReader(out))
    assert [o["state"] for o in outcomes].count("created") == 27
    assert all(o["customerId"] and o["tenantId"] for o in outcomes if o["state"] == "created")
    assert {o["state"] for o in outcomes if not o["customerId"]} == {"invalid"}
    second = backfill(harness, file)
    assert "enqueue: {'known': 27}" in second.stderr
    assert "27 created, 0 failed, 0 pending" in second.stdout
    harness.settle()
    assert len(harness.calls("customers.create")) == 27
    assert len(harness.stack.admin("GET", "customers")) == 27


def test_preflight_refuses_rows_partner_center_would_refuse_before_anything_is_sent(
    harness: Harness, tmp_path: Path
) -> None:
    rows = make_rows(6, 0, tag=f"pf{int(time.time()) % 10000}")
    rows[2]["customer.domainPrefix"] = "contoso"  # taken in the emulator
    file = tmp_path / "accounts.csv"
    write_csv(file, rows)
    run = backfill(harness, file, "--preflight")
    assert "pre-flight refused 1 row(s)" in run.stderr, run.stderr
    with (tmp_path / "accounts.csv.backfill" / "errors.csv").open() as out:
        [error] = list(csv.DictReader(out))
    assert (error["row"], error["field"], error["code"]) == ("3", "customer.domainPrefix", "domain_unavailable")
    assert "enqueue: {'sent': 5}" in run.stderr
    assert len(harness.calls("customers.create")) == 5
