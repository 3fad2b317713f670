"""Start and stop the realtime side of a web process (called from realtime/app.py's lifespan)."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
from collections.abc import AsyncIterator
from typing import Any

from starlette.applications import Starlette

from desk.settings import Settings
from realtime import rights
from realtime.chat import Chat
from realtime.hub import Hub


@contextlib.asynccontextmanager
async def running(app: Starlette, settings: Settings) -> AsyncIterator[Chat]:
    """Hub + Chat on ``app.state.chat``; desk hooks rerouted through the hub; timers running."""
    hub = Hub(app.state.redis)
    chat = Chat(settings, app.state.sm, hub, router=None)

    async def control(env: dict[str, Any]) -> None:
        await rights.on_control(chat, env)

    hub.on_control = control
    app.state.chat = chat
    app.state.hub = hub
    deps = app.state.deps
    app.state.deps = dataclasses.replace(deps, hooks=rights.HubHooks(chat, deps.hooks))
    await hub.start()
    interval = max(1.0, settings.presence_ttl_s / 3)
    timer = asyncio.get_running_loop().create_task(rights.maintain(chat, interval))
    try:
        yield chat
    finally:
        timer.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await timer
        await hub.stop()
