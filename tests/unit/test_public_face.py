"""handlers/api.py is the public face of handlers: sorted, complete, used, and the only way in from ops/, bench/ and
devhost/ (httpx keeps its __all__ the same way)."""

from __future__ import annotations

import ast
from pathlib import Path

import handlers.api as api

ROOT = Path(__file__).resolve().parents[2]
OUTSIDE = ("ops", "bench", "devhost")


def _imports_of_handlers(folder: str) -> list[tuple[str, str, set[str]]]:
    """(file, module, names) of every `from handlers... import ...` and `import handlers...` in a folder."""
    found = []
    for path in sorted((ROOT / folder).rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and (node.module or "").split(".")[0] == "handlers":
                found.append((str(path.relative_to(ROOT)), node.module or "", {a.name for a in node.names}))
            elif isinstance(node, ast.Import):
                found += [
                    (str(path.relative_to(ROOT)), a.name, set()) for a in node.names if a.name.startswith("handlers")
                ]
    return found


def _isort_style(name: str) -> tuple[int, str]:
    """Constants, then classes, then functions, each alphabetically (ruff's RUF022 order)."""
    return (0 if name.isupper() else 1 if name[0].isupper() else 2, name)


def test_all_is_sorted_and_every_name_is_there() -> None:
    assert api.__all__ == sorted(api.__all__, key=_isort_style)
    missing = [name for name in api.__all__ if not hasattr(api, name)]
    assert missing == []


def test_ops_bench_and_devhost_reach_handlers_only_through_its_public_face() -> None:
    imports = [i for folder in OUTSIDE for i in _imports_of_handlers(folder)]
    assert imports, "ops/, bench/ and devhost/ use handlers: the scan must find those imports"
    assert [(file, module) for file, module, _ in imports if module != "handlers.api"] == []


def test_every_name_of_the_face_is_used_outside_handlers() -> None:
    used = {name for folder in OUTSIDE for _, _, names in _imports_of_handlers(folder) for name in names}
    assert sorted(set(api.__all__) - used) == []
