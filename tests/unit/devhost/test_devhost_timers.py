"""The local host's timer triggers: indexed from the app, fired on their NCRONTAB schedule, failures survived."""

from __future__ import annotations

import asyncio
from typing import Any

import azure.functions as func
import pytest

from devhost.timers import TimerFunction, index_timers, run_timer


def app_module(schedule: str) -> list[Any]:
    """A throwaway app with one timer function, indexed."""
    app = func.FunctionApp()

    @app.timer_trigger(arg_name="timer", schedule=schedule, run_on_startup=True)
    async def tick(timer: func.TimerRequest) -> None:
        return None

    return list(app.get_functions())


def test_timers_are_indexed_with_their_schedule_and_app_settings_resolved() -> None:
    [timer] = index_timers(app_module("%PURGE_AT%"), {"PURGE_AT": "*/1 * * * * *"})
    assert (timer.name, timer.schedule, timer.run_on_startup, timer.arg_name) == (
        "tick",
        "*/1 * * * * *",
        True,
        "timer",
    )


def test_a_schedule_that_is_not_ncrontab_is_refused_at_indexing() -> None:
    with pytest.raises(ValueError, match="NCRONTAB"):
        index_timers(app_module("every day"), {})


async def test_a_timer_fires_on_schedule_and_keeps_going_after_a_failure() -> None:
    fired: list[Any] = []

    async def function(timer: func.TimerRequest) -> None:
        fired.append(timer)
        if len(fired) == 1:
            raise RuntimeError("first run fails")

    stop = asyncio.Event()
    task = asyncio.create_task(
        run_timer(TimerFunction("t", "*/1 * * * * *", False, function, "timer"), stop, function_timeout=5)
    )
    await asyncio.sleep(2.6)
    stop.set()
    await asyncio.wait_for(task, timeout=2)
    assert len(fired) >= 2 and all(isinstance(t, func.TimerRequest) for t in fired)
