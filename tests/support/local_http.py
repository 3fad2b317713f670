"""A test's own HTTP server (a webhook receiver, an OIDC issuer, a lookup provider): an ASGI
app under uvicorn in the test's event loop, on a free port of a loopback address."""

from __future__ import annotations

import asyncio
import contextlib
import socket
import threading
from collections.abc import AsyncIterator, Iterator

import uvicorn
from starlette.types import ASGIApp


@contextlib.asynccontextmanager
async def serving(app: ASGIApp, host: str = "127.0.0.1") -> AsyncIterator[str]:
    """The base URL (``http://host:port``) while ``app`` is served."""
    sock = socket.socket()
    sock.bind((host, 0))
    config = uvicorn.Config(app, log_level="warning", lifespan="off")
    server = uvicorn.Server(config)
    task = asyncio.get_running_loop().create_task(server.serve(sockets=[sock]))
    for _ in range(500):
        if server.started:
            break
        await asyncio.sleep(0.02)  # uvicorn says started by a flag, not an event
    try:
        yield f"http://{host}:{sock.getsockname()[1]}"
    finally:
        server.should_exit = True
        await task
        sock.close()


@contextlib.contextmanager
def serving_in_thread(app: ASGIApp, host: str = "127.0.0.1") -> Iterator[str]:
    """``serving`` for a sync test (the browser tests): the server's loop in a thread."""
    url: list[str] = []
    started, done = threading.Event(), threading.Event()
    loop = asyncio.new_event_loop()

    async def main() -> None:
        async with serving(app, host) as base:
            url.append(base)
            started.set()
            await asyncio.to_thread(done.wait)

    thread = threading.Thread(target=loop.run_until_complete, args=(main(),), daemon=True)
    thread.start()
    started.wait(30)
    try:
        yield url[0]
    finally:
        done.set()
        thread.join(30)
        loop.close()
