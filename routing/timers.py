"""The routing timers of the worker process: offer expiry, heartbeat grace, epoch recovery.

``desk.cli`` runs ``run(settings)`` in a thread of ``switchboard worker``. It blocks, driving
``Router.run_timers`` on an event loop of its own, until the process ends or ``stop`` is set.
Several workers may run it at once: every timer step is an atomic script, so only one of them
acts on a given offer or agent.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading

from desk.db import make_engine, make_sessionmaker
from desk.metrics import Metrics
from desk.settings import Settings
from routing import connect
from routing.router import Router

log = logging.getLogger(__name__)

STOP_POLL_S = 0.2


def run(settings: Settings, stop: threading.Event | None = None,
        interval_s: float = 0.5, metrics: Metrics | None = None) -> None:
    """``metrics``: the worker process's (offers expired, decisions); None counts nothing."""
    if not settings.redis_url:
        raise SystemExit("the routing timers need REDIS_URL")
    asyncio.run(_main(settings, stop, interval_s, metrics))


async def _main(settings: Settings, stop: threading.Event | None, interval_s: float,
                metrics: Metrics | None) -> None:
    engine = make_engine(settings)
    redis = connect.async_client(settings.redis_url or "")
    router = Router(settings, redis, make_sessionmaker(engine), metrics=metrics)
    timers = asyncio.get_running_loop().create_task(router.run_timers(interval_s))
    log.info("routing timers running")
    try:
        if stop is None:
            await timers
        else:
            # ``stop`` is a threading.Event set by another thread: polling it is the simplest
            # bridge that also notices the timer task dying.
            while not stop.is_set() and not timers.done():  # noqa: ASYNC110
                await asyncio.sleep(STOP_POLL_S)
    finally:
        timers.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await timers
        await redis.aclose()
        await engine.dispose()
