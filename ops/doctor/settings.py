"""The settings the app runs with, as the doctor reads them: the environment (after `eval "$(azd env get-values)"`),
over which a settings file wins: the app's own (`az functionapp config appsettings list -g <group> -n <app> -o json`,
a list of {name, value}), an azd environment file (`.azure/<env>/.env`) or a local.settings.json. Checked with the
function's own model (handlers' Settings), so a setting the function would refuse is named here first."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from handlers.api import Settings

CREDENTIALS = ("PARTNER_CENTER_CLIENT_SECRET", "PARTNER_CENTER_CLIENT_CERTIFICATE_PATH",
               "PARTNER_CENTER_FEDERATED_CLIENT_ID")  # fmt: skip


def read_file(path: Path) -> dict[str, str]:
    """A settings file's values: JSON (a list of {name, value}, a {"Values": …} or a flat object) or KEY=value lines;
    raises ValueError when it is neither."""
    text = path.read_text(encoding="utf-8")
    try:
        data: Any = json.loads(text)
    except ValueError:
        pairs = re.findall(r"^\s*(?:export\s+)?([A-Za-z_][A-Za-z0-9_]*)=(.*)$", text, re.MULTILINE)
        if not pairs:
            raise ValueError(f"{path}: neither JSON app settings nor KEY=value lines") from None
        return {name: _unquoted(value.strip()) for name, value in pairs}
    if isinstance(data, list):
        return {str(item["name"]): str(item.get("value") or "") for item in data if isinstance(item, dict)}
    if isinstance(data, dict):
        values = data.get("Values", data)
        return {str(k): str(v) for k, v in values.items() if isinstance(v, str | int | float | bool)}
    raise ValueError(f"{path}: not app settings")


def _unquoted(value: str) -> str:
    if len(value) >= 2 and value[0] == value[-1] and value[0] in "\"'":
        return value[1:-1].replace('\\"', '"')
    return value


def gather(path: Path | None) -> tuple[dict[str, str], str]:
    """The settings to check and where they come from."""
    values = dict(os.environ)
    where = "the environment"
    if path is not None:
        values.update(read_file(path))
        where = f"{path} (over the environment)"
    if not any(values.get(name) for name in CREDENTIALS) and values.get("AZURE_CLIENT_ID"):
        # An azd environment names the identity (AZURE_CLIENT_ID), not the setting the deployment makes of it.
        values["PARTNER_CENTER_FEDERATED_CLIENT_ID"] = values["AZURE_CLIENT_ID"]
    return values, where


def check(values: dict[str, str]) -> tuple[Settings | None, list[str]]:
    """The function's settings, or what is wrong with them, one line a setting (named, never quoted)."""
    try:
        return Settings(**values), []  # type: ignore[arg-type]
    except ValidationError as exc:
        problems = []
        for error in exc.errors():
            name = ".".join(str(part) for part in error["loc"]) or "settings"
            problems.append(f"{name}: {error['msg']}" if name != "settings" else str(error["msg"]))
        return None, problems
