"""Timer-triggered functions, run on their NCRONTAB schedules (six fields, seconds first, UTC), as the host does."""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from azure.functions.timer import TimerRequest
from croniter import croniter

from devhost.indexing import resolve_app_settings

log = logging.getLogger("devhost")


@dataclass(frozen=True)
class TimerFunction:
    """One indexed timer-triggered function."""

    name: str
    schedule: str
    run_on_startup: bool
    user_function: Callable[..., Any]
    arg_name: str


def index_timers(indexed: Sequence[Any], env: dict[str, str]) -> list[TimerFunction]:
    """The app's timer-triggered functions, from the app's own index."""
    timers = []
    for function in indexed:
        for binding in function.get_bindings():
            if binding.type != "timerTrigger":
                continue
            spec = binding.get_dict_repr()
            schedule = resolve_app_settings(spec["schedule"], env)
            if not croniter.is_valid(schedule, second_at_beginning=True):
                raise ValueError(f"{function.get_function_name()}: not an NCRONTAB expression: {schedule!r}")
            timers.append(
                TimerFunction(
                    name=function.get_function_name(),
                    schedule=schedule,
                    run_on_startup=bool(spec.get("runOnStartup")),
                    user_function=function.get_user_function(),
                    arg_name=spec["name"],
                )
            )
    return timers


async def run_timer(timer: TimerFunction, stop: asyncio.Event, *, function_timeout: float) -> None:
    """Fire the function at each scheduled time until `stop` is set; a failure is logged, as the host does, and the
    schedule goes on."""
    schedule = croniter(timer.schedule, datetime.now(UTC), second_at_beginning=True)
    first = timer.run_on_startup
    while not stop.is_set():
        if not first:
            due: datetime = schedule.get_next(datetime)
            wait = (due - datetime.now(UTC)).total_seconds()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=max(wait, 0.0))
            if stop.is_set():
                return
        first = False
        try:
            result = timer.user_function(**{timer.arg_name: TimerRequest(past_due=False)})
            if inspect.isawaitable(result):
                await asyncio.wait_for(result, timeout=function_timeout)
            log.info("%s ran (timer %s)", timer.name, timer.schedule)
        except Exception as exc:
            log.warning("%s failed: %s", timer.name, exc)
