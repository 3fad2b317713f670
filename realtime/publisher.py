"""The hub's PUBLISH connection: payloads go out the moment they are handed over.

A redis-py pipeline is a coroutine, so each flush waited for a task's turn of the event loop,
which under load is a millisecond or two. Here ``send`` writes the PUBLISH commands to the
socket at once, from whatever callback calls it; a reader task counts the replies. Payloads
stay in ``_unanswered`` until Redis has answered for them: when the connection breaks they are
sent again on the next one, in order (at least once; receivers drop repeats by seq), and what
is handed over while disconnected waits there too. The connection is one of the client's
pool's kind (same URL, TLS, auth), made by redis-py and owned here.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import deque

import redis.asyncio as aioredis
from redis.asyncio.connection import AbstractConnection
from redis.exceptions import RedisError
from redis.exceptions import TimeoutError as RedisTimeoutError

from desk.background import stop_tasks
from routing import connect
from routing.resp import publish as packed_publish

log = logging.getLogger("switchboard.realtime")

RETRY_MAX_S = 2.0
READ_WAIT_S = 1.0


class Publisher:
    def __init__(self, redis: aioredis.Redis, channel: str) -> None:
        self._pool = redis.connection_pool
        self._channel = channel.encode()
        self._conn: AbstractConnection | None = None
        self._unanswered: deque[bytes] = deque()  # packed, oldest first; [:_written] are sent
        self._written = 0
        self._task: asyncio.Task[None] | None = None
        self._drained = asyncio.Event()
        self._drained.set()

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._run(), name="hub-publisher")

    async def stop(self, within_s: float = 2.0) -> None:
        """Give what is unanswered ``within_s`` to be answered, then close."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._drained.wait(), within_s)
        await stop_tasks([self._task])

    @property
    def backlog(self) -> int:
        return len(self._unanswered)

    def send(self, payloads: list[bytes], limit: int) -> None:
        """PUBLISH each payload now if connected (else on the next connection). Past ``limit``
        unanswered payloads, the oldest are dropped (Redis has been away for long)."""
        self._unanswered.extend(packed_publish(self._channel, p) for p in payloads)
        if len(self._unanswered) > limit:
            drop = len(self._unanswered) - limit + limit // 10
            for _ in range(drop):
                self._unanswered.popleft()
            self._written = max(0, self._written - drop)
        self._drained.clear()
        self._write()

    def _write(self) -> None:
        conn = self._conn
        writer = getattr(conn, "_writer", None) if conn is not None else None
        if writer is None or self._written >= len(self._unanswered):
            return
        pending = [self._unanswered[i] for i in range(self._written, len(self._unanswered))]
        self._written = len(self._unanswered)
        writer.writelines(pending)

    async def _run(self) -> None:
        delay = 0.05
        while True:
            conn = self._pool.make_connection()
            try:
                await conn.connect()
                self._conn = conn
                self._written = 0  # everything unanswered goes (again) on this connection
                self._write()
                delay = 0.05
                waited = 0.0
                while True:
                    # A read bounded by the socket timeout fails on an idle connection, which
                    # is healthy (keepalive finds a dead peer): only a reply owed for that long
                    # means the connection is gone.
                    reply = await conn.read_response(timeout=READ_WAIT_S)
                    if reply is None:
                        waited = waited + READ_WAIT_S if self._written else 0.0
                        if waited >= (conn.socket_timeout or connect.SOCKET_TIMEOUT_S):
                            raise RedisTimeoutError("no reply to PUBLISH in time")
                        continue
                    waited = 0.0
                    if self._unanswered:
                        self._unanswered.popleft()
                        self._written -= 1
                    if not self._unanswered:
                        self._drained.set()
            except (RedisError, OSError) as exc:
                log.warning("hub publisher connection lost (%r); reconnecting", exc)
            finally:
                self._conn = None
                with contextlib.suppress(Exception):
                    await conn.disconnect()
            await asyncio.sleep(delay)
            delay = min(delay * 2, RETRY_MAX_S)
