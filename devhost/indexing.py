"""The app as the local host indexes it: its own list of functions, and the %NAME% binding expressions of their
triggers resolved from the app settings."""

from __future__ import annotations

import functools
import importlib
import re
from typing import Any


def resolve_app_settings(expression: str, env: dict[str, str]) -> str:
    """Replace %NAME% with the app setting NAME, as binding expressions do; raises KeyError when unset."""
    return re.sub(r"%([^%]+)%", lambda m: env[m.group(1)], expression)


@functools.cache
def app_functions(module_name: str) -> tuple[Any, ...]:
    """The app's own index of its functions, taken once: the library refuses to index the same app twice
    (azure.functions FunctionApp.get_functions: "does not have a unique function name")."""
    return tuple(importlib.import_module(module_name).app.get_functions())
