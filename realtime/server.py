"""Run the web app under uvicorn with the hub's WebSocket settings (CLI, tests, benches)."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import inspect
import logging
import os
import signal
import socket
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import uvicorn
from starlette.applications import Starlette
from starlette.routing import WebSocketRoute
from starlette.types import Receive, Scope, Send
from uvicorn.protocols.websockets.websockets_sansio_impl import WebSocketsSansIOProtocol
from websockets.protocol import State

from desk import metrics
from desk.settings import Settings
from realtime.app import create_app

log = logging.getLogger("switchboard.realtime")

READ_AHEAD = 16  # frames a socket may queue for the app before reading pauses
LINGER_S = 2.0  # after a refused frame: how long the rest of it is read, so the close arrives


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

    def write_eof(self) -> None:
        self.flush()
        self._real.write_eof()

    def abort(self) -> None:
        self._buf = None
        self._real.abort()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._real, name)


class LeanQueue:
    """What uvicorn's protocol needs of ``asyncio.Queue``, in ~100 bytes instead of ~2.5 KiB
    (an asyncio.Queue holds three deques of 760 bytes each, for every idle socket)."""

    __slots__ = ("_items", "_loop", "_waiter")

    def __init__(self) -> None:
        self._items: list[Any] = []
        self._waiter: asyncio.Future[None] | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    def put_nowait(self, item: Any) -> None:
        self._items.append(item)
        if self._waiter is not None and not self._waiter.done():
            self._waiter.set_result(None)

    async def get(self) -> Any:
        while not self._items:  # one reader: the socket's ASGI task
            if self._loop is None:  # looked up once: on Python 3.11 each lookup is a syscall
                self._loop = asyncio.get_running_loop()
            self._waiter = self._loop.create_future()
            try:
                await self._waiter
            finally:
                self._waiter = None
        return self._items.pop(0)

    def empty(self) -> bool:
        return not self._items

    def qsize(self) -> int:
        return len(self._items)


class LeanEvent:
    """``asyncio.Event`` without its per-instance deque; waiters are rare (write back-pressure)."""

    __slots__ = ("_set", "_waiters")

    def __init__(self) -> None:
        self._set = False
        self._waiters: list[asyncio.Future[None]] | None = None

    def set(self) -> None:
        self._set = True
        waiters, self._waiters = self._waiters, None
        for fut in waiters or ():
            if not fut.done():
                fut.set_result(None)

    def clear(self) -> None:
        self._set = False

    def is_set(self) -> bool:
        return self._set

    async def wait(self) -> None:
        if self._set:
            return
        fut = asyncio.get_running_loop().create_future()
        if self._waiters is None:
            self._waiters = []
        self._waiters.append(fut)
        await fut


class HubWebSocketProtocol(WebSocketsSansIOProtocol):
    """uvicorn's sans-I/O WebSocket protocol, writing through ``CorkedTransport`` and pausing
    reads only when the app falls behind.

    The stock protocol pauses the transport after every received frame and resumes it when
    the app reads, two epoll calls per message (a fifth of the hub's CPU under load). Here
    up to ``READ_AHEAD`` frames may wait; a client that sends faster than its socket's
    commands complete is still held back by TCP, and the per-connection token buckets
    bound what it can make the hub do.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.queue = LeanQueue()  # type: ignore[assignment]
        self.writable = LeanEvent()  # type: ignore[assignment]
        self.writable.set()

    async def send(self, message: Any) -> None:
        await super().send(message)
        if message["type"] == "websocket.accept":
            self.response = None  # type: ignore[assignment]  # handshake headers, kept for nothing

    def send_text_now(self, text: str) -> bool:
        """Write a text frame at once, as ``send`` would, when the socket is open and not
        pushing back; False when the caller must go through ``send`` (and its waits)."""
        if (not self.writable.is_set() or self.disconnected or self.close_sent
                or not self.handshake_complete or self.conn.state is not State.OPEN):
            return False
        self.conn.send_text(text.encode())
        self.transport.write(b"".join(self.conn.data_to_send()))
        return True

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        super().connection_made(CorkedTransport(transport))  # type: ignore[arg-type]

    def handle_parser_exception(self) -> None:
        """Refuse a frame (1009 oversize, 1002 malformed) so that the close code arrives.

        The stock protocol closes the socket at once, with the rest of the refused frame
        unread: the kernel then answers with a reset, and a client whose reads lag behind its
        writes loses the close frame (it sees 1006). Here the close frame goes out with a FIN,
        and what the peer still sends is read and discarded (the parser now discards) until
        its EOF, which closes the socket cleanly, or ``LINGER_S``. Called again for every read
        after that: nothing more to do then.
        """
        if self.close_sent:
            return
        close = self.conn.close_sent
        assert close is not None
        self.queue.put_nowait({"type": "websocket.disconnect", "code": close.code,
                               "reason": close.reason})
        output = self.conn.data_to_send()  # the close frame, then b"" for "send EOF"
        self.transport.write(b"".join(output))
        self.close_sent = True
        if output and output[-1] == b"":
            self.transport.write_eof()
        self.close_timer = self.loop.call_later(LINGER_S, self.transport.close)
        if self.read_paused:
            self.read_paused = False
            self.transport.resume_reading()

    # Set by the endpoint while it serves the socket: takes a text frame on the spot (True),
    # or leaves it to the queue and the endpoint's task (False, having done nothing).
    inline: Callable[[str], bool] | None = None

    def send_receive_event_to_app(self) -> None:
        inline = self.inline
        if (inline is not None and self.curr_msg_data_type == "text" and not self.close_sent
                and self.queue.empty()):
            data = self.frames[0] if len(self.frames) == 1 else b"".join(self.frames)
            try:
                text = data.decode()
            except UnicodeDecodeError:
                pass  # the parent logs it and closes with 1007
            else:
                if inline(text):
                    self.frames = []
                    return
        paused = self.read_paused
        self.read_paused = True  # the parent skips its own pause when it thinks it is paused
        try:
            super().send_receive_event_to_app()
        finally:
            self.read_paused = paused
        if not paused and self.queue.qsize() >= READ_AHEAD and not self.transport.is_closing():
            self.read_paused = True
            self.transport.pause_reading()


class WebSocketFastPath:
    """ASGI front: upgrades to the hub's WebSocket endpoints go straight to them.

    Starlette's middleware only acts on HTTP, yet each of its layers would keep a coroutine
    frame alive for the socket's whole life (~3 KiB per idle socket); HTTP and lifespan pass
    through unchanged.
    """

    def __init__(self, app: Starlette) -> None:
        self.app = app
        self.sockets = {r.path: r.endpoint for r in app.routes
                        if isinstance(r, WebSocketRoute) and not inspect.isfunction(r.endpoint)}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "websocket":
            endpoint = self.sockets.get(scope["path"])
            if endpoint is not None:
                scope["app"] = self.app
                await endpoint(scope, receive, send)
                return
        await self.app(scope, receive, send)


def uvicorn_config(settings: Settings, *, sock_port: int | None = None) -> uvicorn.Config:
    return uvicorn.Config(
        WebSocketFastPath(create_app(settings)),
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
        # uvicorn's lines go through our JSON handler (desk.logs) like every other line.
        log_config=None,
        access_log=False,
        proxy_headers=False,
        server_header=False,
        timeout_graceful_shutdown=5,
        lifespan="on",
    )


GC_YOUNG_THRESHOLD = 20_000


def serve(settings: Settings, sock: socket.socket | None = None) -> None:
    """Serve until SIGINT/SIGTERM (uvicorn installs the handlers)."""
    server = uvicorn.Server(uvicorn_config(settings))
    # Every message makes a few dozen short-lived objects (frames, futures, tasks): at the
    # default threshold (700) the cyclic collector ran thousands of times a second and took
    # an eighth of the hub's CPU. Garbage here is almost all freed by reference counting, so
    # collect rarely, and never rescan what was loaded at start-up.
    gc.freeze()
    gc.set_threshold(GC_YOUNG_THRESHOLD, *gc.get_threshold()[1:])
    asyncio.run(server.serve(sockets=[sock] if sock else None))




BACKLOG = 2048  # uvicorn's default
RESTART_DELAY_S = 1.0


def listening_socket(host: str, port: int, *, listen: bool = True) -> socket.socket:
    """A TCP socket on (host, port) that other processes may bind too (``SO_REUSEPORT``): the
    kernel spreads new connections over every listening one."""
    family, kind, proto, _, address = socket.getaddrinfo(
        host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)[0]
    sock = socket.socket(family, kind, proto)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    sock.bind(address)
    if listen:
        sock.listen(BACKLOG)
        sock.set_inheritable(True)
    return sock


def serve_processes(settings: Settings, processes: int) -> None:
    """``processes`` web processes on one port, each a full hub node (its own Hub, Router and
    Redis subscription) with a listening socket of its own on the port (``SO_REUSEPORT``), under
    this supervisor: a process that dies is started again; SIGTERM or SIGINT stops them all.

    The supervisor binds the port first (without listening, so it takes no connections): a port
    in use fails here, once. Children are forked before any event loop or thread exists here.

    The processes share one metrics directory (desk.metrics), so any of them answers /metrics
    for all: ``Settings.metrics_dir``, or a temporary one for this run when none is set.
    """
    if processes <= 1:
        serve(settings)
        return
    with contextlib.ExitStack() as stack:
        if settings.metrics_dir is None:
            settings = settings.with_(metrics_dir=Path(stack.enter_context(
                tempfile.TemporaryDirectory(prefix="switchboard-metrics-"))))
        _supervise(settings, processes)


def _supervise(settings: Settings, processes: int) -> None:
    metrics_dir = settings.metrics_dir
    assert metrics_dir is not None
    holder = listening_socket(settings.host, settings.port, listen=False)
    settings = settings.with_(port=holder.getsockname()[1])  # port 0: the one the kernel gave
    children: dict[int, int] = {}  # pid -> slot
    stopping = False

    def start(slot: int) -> None:
        pid = os.fork()
        if pid == 0:  # the child: never returns
            code = 1
            try:
                os.setpgid(0, 0)  # a terminal's Ctrl-C reaches the supervisor only
                for sig in (signal.SIGINT, signal.SIGTERM):
                    signal.signal(sig, signal.SIG_DFL)
                holder.close()
                serve(settings, listening_socket(settings.host, settings.port))
                code = 0
            except BaseException:
                log.exception("web process %s failed", slot)
            finally:
                os._exit(code)
        children[pid] = slot

    def stop(*_: object) -> None:
        nonlocal stopping
        stopping = True
        for pid in children:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGTERM)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    for slot in range(processes):
        if not stopping:
            start(slot)
    log.info("%s web processes on port %s", processes, settings.port)
    while children:
        pid, status = os.wait()
        if pid in children:
            metrics.process_exited(metrics_dir, pid)
        if pid not in children or stopping:
            children.pop(pid, None)
            continue
        slot = children.pop(pid)
        log.warning("web process %s (pid %s) exited (%s); starting it again", slot, pid,
                    os.waitstatus_to_exitcode(status))
        time.sleep(RESTART_DELAY_S)
        if not stopping:
            start(slot)
    holder.close()
