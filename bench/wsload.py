"""A minimal WebSocket client for load generation (text frames, no compression, no extensions).

The load generator shares two cores with the servers it measures; the full ``websockets``
client costs several times more CPU per frame than this protocol, which only frames, masks and
splits what the hub sends. Not a general client: it trusts the server it talks to.
"""

from __future__ import annotations

import asyncio
import base64
import os
import random
import struct
from collections.abc import Callable

from websockets.speedups import apply_mask

OnText = Callable[[bytes, float], None]


class WsClient(asyncio.Protocol):
    """One socket: ``send`` text frames; every received text frame goes to ``on_text``."""

    __slots__ = ("_buf", "_loop", "_upgraded", "closed", "on_text", "transport")

    def __init__(self, on_text: OnText) -> None:
        self.on_text = on_text
        self._buf = bytearray()
        self._loop = asyncio.get_running_loop()
        self._upgraded: asyncio.Future[None] = self._loop.create_future()
        self.transport: asyncio.Transport | None = None
        self.closed = self._loop.create_future()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport

    def connection_lost(self, exc: Exception | None) -> None:
        if not self._upgraded.done():
            self._upgraded.set_exception(ConnectionError("closed during handshake"))
        if not self.closed.done():
            self.closed.set_result(None)

    def data_received(self, data: bytes) -> None:
        buf = self._buf
        buf += data
        if not self._upgraded.done():
            end = buf.find(b"\r\n\r\n")
            if end < 0:
                return
            status = bytes(buf[:12])
            del buf[: end + 4]
            if not status.startswith(b"HTTP/1.1 101"):
                self._upgraded.set_exception(ConnectionError(f"upgrade refused: {status!r}"))
                return
            self._upgraded.set_result(None)
        now = self._loop.time()
        while len(buf) >= 2:
            opcode, length = buf[0] & 0x0F, buf[1] & 0x7F
            head = 2
            if length == 126:
                if len(buf) < 4:
                    return
                length, head = struct.unpack_from("!H", buf, 2)[0], 4
            elif length == 127:
                if len(buf) < 10:
                    return
                length, head = struct.unpack_from("!Q", buf, 2)[0], 10
            if len(buf) < head + length:
                return
            payload = bytes(buf[head: head + length])
            del buf[: head + length]
            if opcode == 1:
                self.on_text(payload, now)
            elif opcode == 9:
                self._frame(0xA, payload)
            elif opcode == 8 and self.transport is not None:
                self.transport.close()

    def _frame(self, opcode: int, payload: bytes) -> None:
        if self.transport is None or self.transport.is_closing():
            return
        n = len(payload)
        if n < 126:
            head = struct.pack("!BB", 0x80 | opcode, 0x80 | n)
        elif n < 65536:
            head = struct.pack("!BBH", 0x80 | opcode, 0xFE, n)
        else:
            head = struct.pack("!BBQ", 0x80 | opcode, 0xFF, n)
        # Masking keys only need to be unpredictable to a browser's page script; a load
        # generator takes them from the fast PRNG (os.urandom is a syscall per frame).
        mask = random.randbytes(4)
        self.transport.write(head + mask + apply_mask(payload, mask))

    def send(self, text: bytes) -> None:
        self._frame(1, text)

    def close(self) -> None:
        if self.transport is not None:
            self.transport.close()


async def connect(host: str, port: int, path: str, headers: dict[str, str], on_text: OnText,
                  local_host: str | None = None) -> WsClient:
    loop = asyncio.get_running_loop()
    _, proto = await loop.create_connection(
        lambda: WsClient(on_text), host, port,
        local_addr=(local_host, 0) if local_host else None)
    key = base64.b64encode(os.urandom(16)).decode()
    lines = [f"GET {path} HTTP/1.1", f"Host: {host}:{port}", "Upgrade: websocket",
             "Connection: Upgrade", f"Sec-WebSocket-Key: {key}", "Sec-WebSocket-Version: 13",
             *(f"{k}: {v}" for k, v in headers.items())]
    assert proto.transport is not None
    proto.transport.write(("\r\n".join(lines) + "\r\n\r\n").encode())
    try:
        await asyncio.wait_for(proto._upgraded, 30)
    except BaseException:
        proto.close()
        raise
    return proto
