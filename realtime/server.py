"""Run the web app under uvicorn with the hub's WebSocket settings (CLI, tests, benches)."""

from __future__ import annotations

import asyncio
import socket
from typing import Any

import uvicorn
from uvicorn.protocols.websockets.websockets_sansio_impl import WebSocketsSansIOProtocol

from desk.settings import Settings
from realtime.app import create_app

READ_AHEAD = 16  # frames a socket may queue for the app before reading pauses


class CorkedTransport:
    """A transport that sends what one event-loop tick writes with ONE syscall.

    On loopback and in small VMs a send() costs as much as the Python that produced the frame;
    the hub writes several frames to a socket per tick (an ack and the message echo, a burst
    of messages of an agent's chats), so they are joined and sent at the end of the tick.
    """

    __slots__ = ("_buf", "_loop", "_real")

    def __init__(self, real: asyncio.Transport) -> None:
        self._real = real
        self._loop = asyncio.get_running_loop()
        self._buf: list[bytes] | None = None

    def write(self, data: bytes) -> None:
        if self._buf is None:
            self._buf = [data]
            self._loop.call_soon(self.flush)
        else:
            self._buf.append(data)

    def flush(self) -> None:
        buf, self._buf = self._buf, None
        if buf and not self._real.is_closing():
            self._real.write(b"".join(buf))

    def close(self) -> None:
        self.flush()
        self._real.close()

    def abort(self) -> None:
        self._buf = None
        self._real.abort()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._real, name)


class HubWebSocketProtocol(WebSocketsSansIOProtocol):
    """uvicorn's sans-I/O WebSocket protocol, writing through ``CorkedTransport`` and pausing
    reads only when the app falls behind.

    The stock protocol pauses the transport after every received frame and resumes it when
    the app reads, two epoll calls per message (a fifth of the hub's CPU under load). Here
    up to ``READ_AHEAD`` frames may wait; a client that sends faster than its socket's
    commands complete is still held back by TCP, and the per-connection token buckets
    bound what it can make the hub do.
    """

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        super().connection_made(CorkedTransport(transport))  # type: ignore[arg-type]

    def send_receive_event_to_app(self) -> None:
        paused = self.read_paused
        self.read_paused = True  # the parent skips its own pause when it thinks it is paused
        try:
            super().send_receive_event_to_app()
        finally:
            self.read_paused = paused
        if not paused and self.queue.qsize() >= READ_AHEAD and not self.transport.is_closing():
            self.read_paused = True
            self.transport.pause_reading()


def uvicorn_config(settings: Settings, *, sock_port: int | None = None) -> uvicorn.Config:
    return uvicorn.Config(
        create_app(settings),
        host=settings.host,
        port=sock_port if sock_port is not None else settings.port,
        # The sans-I/O websockets implementation holds ~25% less memory per idle socket.
        ws=HubWebSocketProtocol,
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


