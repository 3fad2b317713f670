"""Stopping background tasks: one way for every long-running loop of a process.

A cancellation can be swallowed on its way through library code (Python 3.11's ``wait_for``
race, a client's reconnect path), and a loop that swallowed it polls on forever: a shutdown that
awaits it hangs. So the cancel is repeated until the task ends, and a task that still runs after
``within_s`` is logged and left behind rather than holding the shutdown.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable
from typing import Any

log = logging.getLogger("switchboard.background")

RECANCEL_S = 0.05


async def stop_tasks(tasks: Iterable[asyncio.Task[Any] | None], within_s: float = 5.0) -> None:
    """Cancel ``tasks`` and wait for them to end; one that failed instead is logged."""
    given = [t for t in tasks if t is not None]
    pending = {t for t in given if not t.done()}
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within_s
    while pending and loop.time() < deadline:
        for task in pending:
            task.cancel()
        _, pending = await asyncio.wait(pending, timeout=RECANCEL_S)
    for task in pending:
        log.error("background task %s did not stop within %.0f s", task.get_name(), within_s)
    for task in given:
        if task.done() and not task.cancelled() and task.exception() is not None:
            log.error("background task %s failed", task.get_name(), exc_info=task.exception())
