"""The docs are real: every module, script, relative link and setting that README.md and docs/*.md name exists, and
the code table in the docs is handlers/domain/error_codes.py's, row for row."""

from __future__ import annotations

import json
import re
from pathlib import Path

from handlers.domain.error_codes import AADSTS_CONSENT_REASONS, PARTNER_CENTER_CODES
from handlers.settings import Settings
from tests.unit.infra.bicep_text import app_setting_values

ROOT = Path(__file__).resolve().parents[2]
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
FENCE = re.compile(r"^```.*?^```", re.MULTILINE | re.DOTALL)
LINK = re.compile(r"\[[^\]]*\]\(([^)\s]+)\)")
# Settings of the Functions host and its Python worker, which the host reads rather than Settings.
HOST_SETTINGS = (
    "AzureWebJobsStorage",
    "AzureFunctionsJobHost__",
    "APPLICATIONINSIGHTS_",
    "PYTHON_APPLICATIONINSIGHTS_",
)


def _texts() -> dict[Path, str]:
    return {page: page.read_text(encoding="utf-8") for page in PAGES}


def _tables(text: str) -> list[list[list[str]]]:
    """Every Markdown table of a text outside code blocks: its rows (header first, the --- row dropped) as cells."""
    tables: list[list[list[str]]] = []
    current: list[list[str]] = []
    for line in [*FENCE.sub("", text).splitlines(), ""]:
        if line.startswith("|"):
            cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
            if not all(set(cell) <= set("-: ") for cell in cells):
                current.append(cells)
        elif current:
            tables.append(current)
            current = []
    return tables


def _table(header_start: list[str]) -> list[dict[str, str]]:
    """The rows, by column name, of the one table in the docs whose header starts with `header_start`."""
    found = [
        table for text in _texts().values() for table in _tables(text) if table[0][: len(header_start)] == header_start
    ]
    assert len(found) == 1, f"exactly one table headed {header_start} in README.md and docs/"
    header, *rows = found[0]
    assert all(len(row) == len(header) for row in rows)
    return [dict(zip(header, row, strict=True)) for row in rows]


def _slug(heading: str) -> str:
    """GitHub's anchor of a heading: lower case, punctuation dropped, spaces as hyphens."""
    return re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")


def _anchors(text: str) -> set[str]:
    anchors: set[str] = set()
    for heading in re.findall(r"^#{1,6} (.+)$", FENCE.sub("", text), re.MULTILINE):
        slug = base = _slug(heading)
        n = 0
        while slug in anchors:
            n += 1
            slug = f"{base}-{n}"
        anchors.add(slug)
    return anchors


def _backticked(cell: str) -> list[str]:
    return re.findall(r"`([^`]+)`", cell)


def test_every_python_module_the_docs_run_exists() -> None:
    named = {name for text in _texts().values() for name in re.findall(r"python3? -m ([A-Za-z_][\w.]*\w)", text)}
    assert {"devhost", "emulator", "ops.status", "ops.replay_poison", "ops.consent", "ops.backfill"} <= named
    missing = [
        name
        for name in sorted(named)
        if not (ROOT / f"{name.replace('.', '/')}.py").is_file()
        and not (ROOT / name.replace(".", "/") / "__main__.py").is_file()
    ]
    assert missing == []


def test_every_script_the_docs_name_exists() -> None:
    named = {name for text in _texts().values() for name in re.findall(r"(?<![\w/.-])scripts/([\w-]+)", text)}
    assert {"run", "test", "send"} <= named
    assert sorted(name for name in named if not (ROOT / "scripts" / name).is_file()) == []


def test_every_relative_link_points_to_a_file_and_heading_that_exist() -> None:
    texts = _texts()
    checked, broken = 0, []
    for page, text in texts.items():
        for target in LINK.findall(FENCE.sub("", text)):
            if re.match(r"[a-z]+:", target):
                continue  # https:, mailto:
            path, _, anchor = target.partition("#")
            resolved = (page.parent / path).resolve() if path else page
            checked += 1
            if not resolved.exists():
                broken.append(f"{page.name}: {target}")
            elif anchor and resolved.suffix == ".md" and anchor not in _anchors(resolved.read_text(encoding="utf-8")):
                broken.append(f"{page.name}: {target} (no such heading)")
    assert checked >= 30
    assert broken == []


def test_the_readme_links_every_docs_page() -> None:
    pages = {path.name for path in (ROOT / "docs").glob("*.md")}
    linked = {Path(target).name for target in LINK.findall((ROOT / "README.md").read_text(encoding="utf-8"))}
    assert {"integrating.md", "operating.md", "behaviour.md", "security.md", "developing.md"} <= pages
    assert pages - linked == set()


def test_every_setting_in_a_settings_table_is_read_or_deployed() -> None:
    deployed = set(app_setting_values())
    known = set(Settings.model_fields) | deployed | {"SSL_CERT_FILE"}
    host_json = json.loads((ROOT / "host.json").read_text(encoding="utf-8"))
    named, unknown = [], []
    for text in _texts().values():
        for table in _tables(text):
            if "setting" not in table[0]:
                continue
            column = table[0].index("setting")
            for row in table[1:]:
                for name in _backticked(row[column]):
                    if re.fullmatch(r"[A-Z][A-Za-z0-9_]*", name):  # an app setting
                        named.append(name)
                        if name not in known and not name.startswith(HOST_SETTINGS):
                            unknown.append(name)
                    elif re.fullmatch(r"[a-z][A-Za-z]*", name):  # a host.json queue setting
                        named.append(name)
                        if name not in host_json["extensions"]["queues"]:
                            unknown.append(name)
    assert len(named) >= 30
    assert {"PARTNER_CENTER_CLIENT_ID", "CRM_FIELD_MAP", "maxDequeueCount"} <= set(named)
    assert unknown == []


def test_the_code_table_is_error_codes_row_for_row() -> None:
    rows = _table(["code", "meaning", "kind", "reason"])
    codes = [row["code"].strip("`") for row in rows]
    assert len(codes) == len(set(codes))
    assert set(codes) == set(PARTNER_CENTER_CODES)

    def value(cell: str) -> str | None:
        return None if cell.startswith("—") else cell.strip("`")

    for code, row in zip(codes, rows, strict=True):
        entry = PARTNER_CENTER_CODES[code]
        assert row["meaning"].endswith(entry.meaning), code
        assert value(row["kind"]) == (entry.kind.value if entry.kind else None), code
        assert value(row["reason"]) == (entry.reason.value if entry.reason else None), code
        assert value(row["effect"]) == (entry.effect.value or None), code
        assert row["operator fix"] == ("yes" if entry.fix else "no"), code


def test_the_consent_table_is_error_codes_row_for_row() -> None:
    rows = _table(["AADSTS code"])
    codes = [int(row["AADSTS code"].strip("`").removeprefix("AADSTS")) for row in rows]
    assert len(codes) == len(set(codes)) == len(AADSTS_CONSENT_REASONS)
    assert {code: row["`consent.required` reason"].strip("`") for code, row in zip(codes, rows, strict=True)} == (
        AADSTS_CONSENT_REASONS
    )
