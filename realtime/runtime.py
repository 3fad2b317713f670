"""Start and stop the realtime side of a web process (called from realtime/app.py's lifespan).

One of each per process: the Hub (one Redis subscription), the Router (``app.state.router``, also
used by the public widget endpoints), the Mailer (RQ jobs by name) and the Chat service. The
live routing state is rebuilt from the records before the hub starts if Redis lost it, and again
whenever the hub sees the epoch vanish (flush, restart).
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
from collections.abc import AsyncIterator

from redis.exceptions import RedisError
from starlette.applications import Starlette

from desk.background import stop_tasks
from desk.settings import Settings
from realtime import rights
from realtime.chat import Chat
from realtime.envelopes import Control
from realtime.hub import Hub
from realtime.mail import Mailer
from routing.errors import RoutingError
from routing.router import Router

log = logging.getLogger("switchboard.realtime")


@contextlib.asynccontextmanager
async def running(app: Starlette, settings: Settings) -> AsyncIterator[Chat]:
    """Hub + Router + Chat on ``app.state``; desk hooks rerouted through the hub; timers."""
    hub = Hub(app.state.redis)
    router = Router(settings, app.state.redis, app.state.sm, metrics=app.state.metrics)
    mailer = Mailer(settings.redis_url or "")
    chat = Chat(settings, app.state.sm, hub, router, mailer, app.state.metrics)

    async def control(env: Control) -> None:
        await rights.on_control(chat.ctx, env)

    async def rebuild() -> None:
        log.warning("routing epoch missing (Redis flushed or restarted): rebuilding")
        await router.rebuild()

    hub.on_control = control
    hub.on_epoch_lost = rebuild
    app.state.chat = chat
    app.state.context = chat.ctx
    app.state.hub = hub
    app.state.router = router
    deps = app.state.deps
    app.state.deps = dataclasses.replace(deps, hooks=rights.HubHooks(chat.ctx, deps.hooks))
    try:
        await router.rebuild()  # returns at once when the live state is there
    except (RoutingError, RedisError, OSError) as exc:
        log.warning("routing state not rebuilt at start (%r); the hub retries", exc)
    chat.routed.start()
    await hub.start()
    interval = max(1.0, settings.presence_ttl_s / 3)
    timer = asyncio.get_running_loop().create_task(rights.maintain(chat.ctx, interval))
    try:
        yield chat
    finally:
        await stop_tasks([timer])
        await hub.stop()
        await chat.writer.close()
        await chat.routed.stop()
        await chat.visits.stop()
        mailer.close()
