"""The emulator keeps its own country facts (copied from partner-center.md); the product must agree with them."""

from __future__ import annotations

import ast
from pathlib import Path

from emulator import countries as emulator_countries
from handlers.domain import countries as product_countries

EMULATOR = Path(emulator_countries.__file__).parent


def test_the_product_requires_a_registration_number_in_exactly_the_emulators_24_countries() -> None:
    assert len(emulator_countries.REGISTRATION_COUNTRIES) == 24
    assert product_countries.REGISTRATION_COUNTRIES == emulator_countries.REGISTRATION_COUNTRIES


def test_the_product_and_the_emulator_know_the_same_iso_countries() -> None:
    assert len(emulator_countries.ISO_ALPHA2) == 249
    assert product_countries.ISO_ALPHA2 == emulator_countries.ISO_ALPHA2


def test_the_emulator_imports_no_product_code() -> None:
    imported: list[tuple[str, str]] = []
    for path in EMULATOR.glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and node.module:
                imported.append((path.name, node.module))
            elif isinstance(node, ast.Import):
                imported.extend((path.name, alias.name) for alias in node.names)
    assert [(f, m) for f, m in imported if m.split(".")[0] == "handlers"] == []
    assert any(m == "emulator.countries" for _, m in imported), "the scan sees the emulator's imports"
