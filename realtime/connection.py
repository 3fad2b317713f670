"""One live socket on this process: its Session, a bounded outbox and a short-lived drainer.

Everything for the socket goes through ``push`` (never an await on the pusher's side), so one
client that stops reading can only fill its own outbox; past ``Settings.ws_send_queue`` items it is
cut (transport aborted, close code 4408 recorded) and nobody else waits. The drainer task exists
only while there is something to send, which keeps idle sockets cheap.

The per-conversation cursor (``Session.on_message``) is applied to each stored message as it
leaves, in delivery order, by ``_through_cursor`` (the drainer's, or the direct send's when
nothing is queued ahead), so ordering and exactly-once are decided in one place whatever the
event came through: local publish, Redis, a replay after ``resume`` or a gap fill.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Union

from prometheus_client import Counter

from desk.auth import Principal
from realtime import protocol as p
from realtime.errors import CLOSE_INTERNAL, CLOSE_TOO_SLOW
from realtime.session import Part, Phase, Session, Verdict

log = logging.getLogger("switchboard.realtime")


@dataclass(frozen=True, slots=True)
class StoredMessage:
    """A message as the hub moves it: the pre-serialized frame plus what filtering needs."""

    conversation_id: int
    seq: int
    visibility: str
    whisper_to: int | None
    text: str  # serialized MessageOut


@dataclass(frozen=True, slots=True)
class CatchUp:
    """Replay from the records everything after the connection's cursor (or ``after_seq``)."""

    conversation_id: int
    after_seq: int | None = None


@dataclass(frozen=True, slots=True)
class CloseAfter:
    """Close the socket with a handshake once everything queued before it is sent."""

    code: int
    reason: str = ""


Item = Union[str, StoredMessage, CatchUp, CloseAfter]  # noqa: UP007  (str: a ready frame)
# (conversation, after seq, viewer) -> (messages in order, last seq covered, more to fetch?)
Fetch = Callable[[int, int, Session], Awaitable[tuple[Sequence[StoredMessage], int, bool]]]
SendText = Callable[[str], Awaitable[None]]
SendNow = Callable[[str], bool]  # write a frame at once if the socket can take it
CloseSocket = Callable[[int, str], Awaitable[None]]


class Connection:
    __slots__ = ("_close", "_drainer", "_fetch", "_limit", "_loop", "_out", "_send", "_send_now",
                 "abort",
                 "agent_id", "client", "closed", "conn_id", "contact_id", "outbox", "principal",
                 "session", "session_id", "site_id", "typing_preview")

    def __init__(self, conn_id: int, session: Session, *, send: SendText, close: CloseSocket,
                 abort: Callable[[int], None], fetch: Fetch, limit: int,
                 frames_out: Counter, send_now: SendNow | None = None) -> None:
        self.conn_id = conn_id
        self.session = session
        self._send = send
        self._send_now = send_now
        self._loop = asyncio.get_running_loop()
        self._close = close
        self.abort = abort
        self._fetch = fetch
        self._limit = limit
        self._out = frames_out  # this socket kind's series (desk.metrics), bound once
        self.outbox: deque[Item] | None = None  # made on first use: idle sockets hold none
        self._drainer: asyncio.Task[None] | None = None
        self.closed = False
        self.agent_id: int | None = None
        self.contact_id: int | None = None
        self.session_id: str | None = None
        self.site_id: int | None = None
        self.client: str | None = None  # the peer's address: what mail budgets count per client
        self.typing_preview = True  # the visitor's site setting
        self.principal: Principal | None = None  # staff: the current rights (realtime.rights)

    def push(self, item: Item) -> None:
        if not self.closed and self.session.phase is not Phase.CLOSED:
            self._enqueue(item)

    def _enqueue(self, item: Item) -> None:
        if self._drainer is None and not self.outbox and self._send_now is not None:
            # Nothing queued ahead: a frame goes out now, without a drainer task (the common
            # case, a socket keeping up). The cursor is applied here as the drainer would.
            if isinstance(item, StoredMessage):
                after = self._through_cursor(item)
                if after is None:
                    return
                item = after
            if isinstance(item, str) and self._send_now(item):
                self._out.inc()
                return
        if self.outbox is None:
            self.outbox = deque(maxlen=self._limit + 1)
        self.outbox.append(item)
        if len(self.outbox) == self.outbox.maxlen:
            log.info("connection %s too slow; disconnecting", self.conn_id)
            self.kill(CLOSE_TOO_SLOW)
            return
        if self._drainer is None:
            self._drainer = self._loop.create_task(self._drain())

    def send(self, frame: p.ServerFrame) -> None:
        self.push(p.serialize_text(frame))

    def grant(self, conversation_id: int, part: Part) -> None:
        self.session.grant(conversation_id, part)

    def close_after_drain(self, code: int, reason: str = "") -> None:
        if not self.closed:
            self._enqueue(CloseAfter(code, reason))

    def shut(self, code: int, reason: str) -> None:
        """Rights ended: drop whatever is queued, deliver nothing more, close with ``code``."""
        if self.closed:
            return
        self.outbox = None
        self.session.closed()
        self._enqueue(CloseAfter(code, reason))

    def kill(self, code: int) -> None:
        """Drop the socket now (slow consumer): a close handshake would wait on a non-reader."""
        if self.closed:
            return
        self.closed = True
        self.session.closed()
        self.outbox = None
        self.abort(code)

    async def _drain(self) -> None:
        try:
            while self.outbox and not self.closed:
                item = self.outbox.popleft()
                if isinstance(item, StoredMessage):
                    after = self._through_cursor(item)
                    if after is None:
                        continue
                    item = after
                if isinstance(item, str):
                    await self._send(item)
                    self._out.inc()
                elif isinstance(item, CatchUp):
                    if not await self._caught_up(item):
                        return
                else:
                    self.closed = True
                    self.session.closed()
                    await self._close(item.code, item.reason)
        except Exception as exc:  # the socket went away mid-send; the endpoint cleans up
            log.debug("drain of %s ended: %r", self.conn_id, exc)
            self.closed = True
        finally:
            self._drainer = None
            if not self.outbox:
                self.outbox = None

    def _through_cursor(self, msg: StoredMessage) -> str | CatchUp | None:
        """What a stored message comes to for this socket, its cursor advanced: the frame to
        send, a catch-up (it is ahead of the cursor) or nothing (seen, or not for this viewer)."""
        verdict = self.session.on_message(msg.conversation_id, msg.seq, msg.visibility,
                                          msg.whisper_to)
        if verdict is Verdict.DELIVER:
            return msg.text
        if verdict is Verdict.GAP:
            # Stored before published, so the records hold this one and any before it.
            return CatchUp(msg.conversation_id)
        return None

    async def _caught_up(self, item: CatchUp) -> bool:
        """Catch up; a failure (the records unreachable, a bug) closes the socket with 1011,
        since the cursor can no longer vouch for what it holds: the client reconnects and
        resumes. Never a socket left open that sends nothing."""
        try:
            await self._catch_up(item)
            return True
        except Exception:
            log.exception("catch-up of conversation %s on %s failed", item.conversation_id,
                          self.conn_id)
        self.outbox = None
        self.closed = True
        self.session.closed()
        await self._close(CLOSE_INTERNAL, "internal error")
        return False

    async def _catch_up(self, item: CatchUp) -> None:
        session = self.session
        cid = item.conversation_id
        if cid not in session.parts:
            return
        if item.after_seq is not None:
            session.last_seq[cid] = item.after_seq
        while True:
            cursor = session.last_seq.setdefault(cid, 0)
            batch, upto, more = await self._fetch(cid, cursor, session)
            for msg in batch:
                if self.closed:
                    return
                if msg.seq <= session.last_seq.get(cid, 0):
                    continue
                session.synced(cid, msg.seq)
                if session.may_see(session.parts.get(cid), msg.visibility, msg.whisper_to):
                    await self._send(msg.text)
                    self._out.inc()
            # Seqs up to ``upto`` that were not returned are invisible to this viewer.
            session.synced(cid, upto)
            if not more or cid not in session.parts:
                return

    def can_access(self, group_id: int | None) -> bool:
        """Staff: may this socket see the group and its conversations (``Principal``'s rule)."""
        return self.principal is not None and self.principal.can_access(group_id)

    @property
    def group_ids(self) -> frozenset[int]:
        """Staff: the groups the agent belongs to now."""
        return self.principal.group_ids if self.principal is not None else frozenset()

    def __repr__(self) -> str:
        return f"Connection({self.conn_id}, {self.session.role})"

