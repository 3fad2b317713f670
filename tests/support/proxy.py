"""A loopback TCP proxy that a test can sever and restore: what a server restart or a network
cut looks like to its clients (every connection reset, new ones refused for a while), without
touching the shared server itself."""

from __future__ import annotations

import asyncio
import contextlib


class CuttableProxy:
    """Loopback TCP proxy to ``target``; ``cut()`` resets every connection and refuses new
    ones until ``restore()``."""

    def __init__(self, host: str, port: int) -> None:
        self.target = (host, port)
        self.port = 0
        self.severed = False
        self._links: set[tuple[asyncio.StreamWriter, asyncio.StreamWriter]] = set()
        self._server: asyncio.Server | None = None

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._client, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        self.cut()
        if self._server is not None:
            self._server.close()

    def cut(self) -> None:
        self.severed = True
        for down, up in list(self._links):
            down.transport.abort()
            up.transport.abort()
        self._links.clear()

    def restore(self) -> None:
        self.severed = False

    async def _client(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if self.severed:
            writer.transport.abort()
            return
        up_reader, up_writer = await asyncio.open_connection(*self.target)
        link = (writer, up_writer)
        self._links.add(link)
        pipes = [asyncio.ensure_future(_pipe(reader, up_writer)),
                 asyncio.ensure_future(_pipe(up_reader, writer))]
        try:
            # Either side closing closes both: a client that closes gracefully (PostgreSQL's
            # Terminate) waits for the server's side to close, which it would never see.
            await asyncio.wait(pipes, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for pipe in pipes:
                pipe.cancel()
            self._links.discard(link)
            writer.transport.abort()
            up_writer.transport.abort()


async def _pipe(src: asyncio.StreamReader, dst: asyncio.StreamWriter) -> None:
    with contextlib.suppress(OSError, asyncio.IncompleteReadError):
        while data := await src.read(65536):
            dst.write(data)
            await dst.drain()
