"""Run the web app under uvicorn with the hub's WebSocket settings (CLI, tests, benches)."""

from __future__ import annotations

import asyncio
import socket

import uvicorn

from desk.settings import Settings
from realtime.app import create_app


def uvicorn_config(settings: Settings, *, sock_port: int | None = None) -> uvicorn.Config:
    return uvicorn.Config(
        create_app(settings),
        host=settings.host,
        port=sock_port if sock_port is not None else settings.port,
        # The sans-I/O websockets implementation holds ~25% less memory per idle socket.
        ws="websockets-sansio",
        ws_max_size=settings.ws_max_size,
        ws_max_queue=16,
        ws_ping_interval=settings.ws_ping_interval_s,
        ws_ping_timeout=settings.ws_ping_interval_s,
        # Deflate costs ~30 KiB per socket and opens inflate bombs; off unless budgeted.
        ws_per_message_deflate=False,
        log_level=settings.log_level,
        access_log=False,
        proxy_headers=False,
        server_header=False,
        timeout_graceful_shutdown=5,
        lifespan="on",
    )


def serve(settings: Settings, sock: socket.socket | None = None) -> None:
    """Serve until SIGINT/SIGTERM (uvicorn installs the handlers)."""
    server = uvicorn.Server(uvicorn_config(settings))
    asyncio.run(server.serve(sockets=[sock] if sock else None))


