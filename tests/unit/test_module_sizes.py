"""No module over 300 lines: a file that grows past it is split by step, not into 'utils' (the style guide)."""

from __future__ import annotations

import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
LIMIT = 300


def test_no_python_module_is_over_the_limit() -> None:
    tracked = subprocess.run(["git", "ls-files", "*.py"], cwd=ROOT, capture_output=True, text=True, check=True)
    files = tracked.stdout.split()
    assert len(files) > 100, "the scan must see the project's modules"
    sizes = {name: len((ROOT / name).read_text(encoding="utf-8").splitlines()) for name in files}
    assert {name: lines for name, lines in sizes.items() if lines > LIMIT} == {}
