"""How the worker's adapters live: each built once per event loop and reused, and closed when a script or test is
done with them (a worker keeps them for life)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")
log = logging.getLogger("csp_onboarding")


async def close(*adapters: object) -> None:
    """Close the adapters that hold connections (a worker keeps them for life; scripts and tests do not)."""
    for adapter in adapters:
        aclose = getattr(adapter, "aclose", None)
        if aclose is not None:
            await aclose()


def per_event_loop(build: Callable[[], T], what: str) -> Callable[[], T]:
    """A getter of what `build` makes, built on first use on the running event loop and reused after (a worker
    keeps one loop; a test that runs several gets one per loop)."""
    built: dict[asyncio.AbstractEventLoop, T] = {}

    def get() -> T:
        loop = asyncio.get_running_loop()
        if loop not in built:
            built.clear()  # an old loop's clients are of no use on this one
            built[loop] = build()
            log.info("%s built", what)
        return built[loop]

    return get
