"""The per-process hub: local routes, one Redis subscription, batched publishing, resync.

Fan-out path: a command handler stores a message, then calls ``publish(envelope)``. The hub
delivers to this process's sockets at once (route cache ``conversation -> connections``) and queues
the envelope for Redis; ``flush`` (end of the turn, or right after a message batch) writes what
has accumulated, packed as JSON arrays (one PUBLISH per 256 envelopes), through the
``Publisher``'s connection at once.
Every process holds ONE pub/sub connection subscribed to the hub channel and the router's event
channel, and drops envelopes for conversations it holds no socket of. Each PUBLISH starts with
the sending process's node id, so a process skips its own packs coming back without decoding
them.

When that subscription drops, the hub resubscribes with backoff and then asks every socket to
catch up from the records (``CatchUp``): the per-connection cursor makes that exactly-once.
When the routing epoch changes (Redis was flushed or restarted and rebuilt), every client is told
to ``reload`` and the socket is closed (1012) so it reconnects and resumes.

Envelopes are the typed values of ``realtime.envelopes`` (one encode, one decode); control
envelopes (rights changed, session ended...) go to the registered control handler.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
from collections.abc import Callable, Coroutine, Iterable
from typing import Any

import orjson
import redis.asyncio as aioredis
from redis.exceptions import RedisError

from desk.background import stop_tasks
from realtime import protocol as p
from realtime.connection import CatchUp, Connection, StoredMessage
from realtime.envelopes import (
    AUDIENCE_ALL,
    AUDIENCE_STAFF,
    AUDIENCE_VISITOR,
    Control,
    Envelope,
    Event,
    Grant,
    ToAgent,
    ToSupervisors,
    ToVisitor,
    Typing,
    decode,
    encode,
)
from realtime.errors import CLOSE_RESTART
from realtime.publisher import Publisher
from realtime.session import Part, Role
from routing import keys
from routing.store import db_index

log = logging.getLogger("switchboard.realtime")

Handler = Callable[[Control], Coroutine[Any, Any, None]]
OUTBOX_MAX = 1_000  # PUBLISHes kept unanswered while Redis is away, each of up to PACK
PACK = 256  # envelopes per PUBLISH
NODE_BYTES = 6  # a node id is this many random bytes, in hex at the head of every PUBLISH


class Hub:
    def __init__(self, redis: aioredis.Redis, *, epoch_poll_s: float = 1.0) -> None:
        self.redis = redis
        self.node = secrets.token_hex(NODE_BYTES)
        self._node_prefix = self.node.encode()
        db = db_index(redis)
        self.channel = keys.hub_channel(db)
        self.events_channel = keys.events_channel(db).encode()  # as messages name it
        self.conns: set[Connection] = set()
        self.by_conv: dict[int, set[Connection]] = {}
        self.by_agent: dict[int, set[Connection]] = {}
        self.by_visitor: dict[int, set[Connection]] = {}  # widget sockets by contact
        self.supervisors: set[Connection] = set()
        self.epoch: str | None = None
        self.connected = asyncio.Event()  # the subscription is live
        self.on_control: Handler | None = None
        self.on_router_event: Callable[[bytes], None] | None = None  # raw routing event
        self.on_epoch_lost: Callable[[], Coroutine[Any, Any, None]] | None = None
        self.on_invalidate: Callable[[int], None] | None = None
        self._turn: list[bytes] = []  # envelopes published this turn, not yet sent
        self._flush_due = False
        self.publisher = Publisher(redis, self.channel)
        self._tasks: list[asyncio.Task[None]] = []
        self._jobs: set[asyncio.Task[None]] = set()
        self._epoch_poll_s = epoch_poll_s
        self._next_id = 0
        self._loop: asyncio.AbstractEventLoop | None = None

    # --- lifecycle -------------------------------------------------------------------------

    async def start(self) -> None:
        with contextlib.suppress(RedisError, OSError):
            self.epoch = await self._read_epoch()
        self._loop = loop = asyncio.get_running_loop()
        self.publisher.start()
        self._tasks = [loop.create_task(self._listen(), name="hub-listen"),
                       loop.create_task(self._watch_epoch(), name="hub-epoch")]
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.connected.wait(), 5.0)

    async def stop(self) -> None:
        for conn in list(self.conns):
            conn.kill(CLOSE_RESTART)
        self.flush()
        await self.publisher.stop(2.0)
        await stop_tasks(self._tasks)

    def spawn(self, coro: Coroutine[Any, Any, None]) -> None:
        """Run a background job, keeping a reference until it ends (and logging failures)."""
        task = asyncio.get_running_loop().create_task(coro)
        self._jobs.add(task)
        task.add_done_callback(self._job_done)

    def _job_done(self, task: asyncio.Task[None]) -> None:
        self._jobs.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("hub job failed", exc_info=task.exception())

    def new_id(self) -> int:
        self._next_id += 1
        return self._next_id

    # --- routes ----------------------------------------------------------------------------

    def register(self, conn: Connection) -> None:
        self.conns.add(conn)
        if conn.agent_id is not None:
            self.by_agent.setdefault(conn.agent_id, set()).add(conn)
        elif conn.contact_id is not None and conn.site_id is not None:
            self.by_visitor.setdefault(conn.contact_id, set()).add(conn)
        if conn.session.role is Role.SUPERVISOR:
            self.supervisors.add(conn)

    def unregister(self, conn: Connection) -> None:
        self.conns.discard(conn)
        self.supervisors.discard(conn)
        if conn.agent_id is not None:
            _discard(self.by_agent, conn.agent_id, conn)
        elif conn.contact_id is not None:
            _discard(self.by_visitor, conn.contact_id, conn)
        for cid in list(conn.session.parts):
            _discard(self.by_conv, cid, conn)

    def attach(self, conn: Connection, conversation_id: int, part: Part,
               after_seq: int | None = None) -> None:
        """Give ``conn`` a part and route the conversation's events to it, then catch up.

        The route is in place before the records are read, so nothing falls between the two.
        """
        conn.grant(conversation_id, part)
        self.by_conv.setdefault(conversation_id, set()).add(conn)
        conn.push(CatchUp(conversation_id, after_seq))

    def detach(self, conn: Connection, conversation_id: int) -> None:
        conn.session.revoke(conversation_id)
        _discard(self.by_conv, conversation_id, conn)

    def remove(self, conn: Connection, conversation_id: int) -> None:
        """The socket's rights to the conversation ended: detached, and told so (it gets
        nothing more of it; its writes and resumes are refused)."""
        if conversation_id in conn.session.parts:
            self.detach(conn, conversation_id)
            conn.send(p.ConversationRemoved(conversation_id, "no longer in its group"))

    def agent_conns(self, agent_id: int) -> Iterable[Connection]:
        return tuple(self.by_agent.get(agent_id, ()))

    # --- publishing ------------------------------------------------------------------------

    def publish(self, env: Envelope) -> None:
        """Deliver locally now and to every other process through Redis (batched)."""
        self.dispatch(env, True)
        self._turn.append(encode(env, self.node))
        if not self._flush_due:
            self._flush_due = True
            # Once per turn at most. The loop is looked up once: on Python 3.11 each lookup
            # is a getpid() syscall.
            loop = self._loop
            if loop is None:
                loop = self._loop = asyncio.get_running_loop()
            loop.call_soon(self.flush)

    def publish_message(self, msg: StoredMessage) -> None:
        self.publish(msg)

    def publish_event(self, conversation_id: int, frame: p.ServerFrame,
                      audience: int = AUDIENCE_ALL, invalidate: bool = False) -> None:
        """``invalidate``: the conversation's facts changed; processes drop their cached copy."""
        self.publish(Event(conversation_id, audience, invalidate, p.serialize_text(frame)))

    def publish_to_agent(self, agent_id: int, frame: p.ServerFrame) -> None:
        self.publish(ToAgent(agent_id, p.serialize_text(frame)))

    def publish_to_visitor(self, contact_id: int, site_id: int, frame: p.ServerFrame) -> None:
        self.publish(ToVisitor(contact_id, site_id, p.serialize_text(frame)))

    def publish_to_supervisors(self, frame: p.ServerFrame) -> None:
        self.publish(ToSupervisors(p.serialize_text(frame)))

    def publish_grant(self, agent_id: int, conversation_id: int, part: Part | None) -> None:
        self.publish(Grant(agent_id, conversation_id, part.value if part else None))

    def flush(self) -> None:
        """Send what was published since the last flush: ONE PUBLISH carries the node id and a
        JSON array of up to PACK envelopes, written to Redis at once. Runs at the end of each
        turn that published, and right after a message batch is delivered (so its fan-out
        does not wait a turn), and so Redis and every subscriber do their per-message work once
        per batch, not once per envelope."""
        self._flush_due = False
        turn, self._turn = self._turn, []
        if turn:
            self.publisher.send([self._node_prefix + b"[" + b",".join(turn[i: i + PACK]) + b"]"
                                 for i in range(0, len(turn), PACK)], OUTBOX_MAX)

    # --- receiving -------------------------------------------------------------------------

    async def _listen(self) -> None:
        first = True
        delay = 0.05
        while True:
            pubsub = self.redis.pubsub(ignore_subscribe_messages=True)
            try:
                await pubsub.subscribe(self.channel, self.events_channel)
                # redis-py also reconnects and re-subscribes by itself inside a read, without
                # telling us: hear of every reconnect of this connection, to catch up then.
                assert pubsub.connection is not None
                pubsub.connection.register_connect_callback(self._reconnected)
                self.connected.set()
                delay = 0.05
                if not first:
                    self.resync()
                first = False
                while True:
                    msg = await pubsub.get_message(timeout=5.0)
                    if msg is not None:
                        await self._on_raw(msg["channel"], msg["data"])
            except (RedisError, OSError) as exc:
                self.connected.clear()
                log.warning("hub subscription lost (%r); resubscribing", exc)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 2.0)
            finally:
                if pubsub.connection is not None:  # it goes back to the pool: no more resyncs
                    pubsub.connection.deregister_connect_callback(self._reconnected)
                with contextlib.suppress(RedisError, OSError):
                    await pubsub.aclose()

    def _reconnected(self, _connection: object) -> None:
        """The subscription's connection came back (re-subscribed): catch up on the gap."""
        log.warning("hub subscription reconnected; resyncing")
        self.resync()

    async def _on_raw(self, channel: bytes, data: bytes) -> None:
        if channel == self.events_channel:
            if self.on_router_event is not None:
                self.on_router_event(data)
            return
        if data.startswith(self._node_prefix):
            return  # our own, delivered locally when published
        try:
            envs = orjson.loads(memoryview(data)[2 * NODE_BYTES:])
        except orjson.JSONDecodeError:
            log.warning("undecodable envelope on %r", channel)
            return
        for raw in envs if isinstance(envs, list) else (envs,):
            try:
                env = decode(raw)
            except ValueError as exc:
                log.warning("envelope dropped: %s", exc)
                continue
            self.dispatch(env, False)

    def dispatch(self, env: Envelope, local: bool) -> None:
        """Carry out an envelope for this process's sockets (``local``: published here)."""
        match env:
            case StoredMessage():
                for conn in self.by_conv.get(env.conversation_id, ()):
                    conn.push(env)
            case Typing():
                self._typing(env, local)
            case Event(cid, audience, invalidate, text):
                if invalidate and self.on_invalidate is not None:
                    self.on_invalidate(cid)
                for conn in self.by_conv.get(cid, ()):
                    role = conn.session.role
                    if audience == AUDIENCE_VISITOR and role is not Role.VISITOR:
                        continue
                    if conn.session.sees(cid, staff_only=audience == AUDIENCE_STAFF):
                        conn.push(text)
            case ToAgent(agent_id, text):
                for conn in self.by_agent.get(agent_id, ()):
                    conn.push(text)
            case ToVisitor(contact_id, site_id, text):
                for conn in self.by_visitor.get(contact_id, ()):
                    if conn.site_id == site_id:
                        conn.push(text)
            case ToSupervisors(text):
                for conn in self.supervisors:
                    conn.push(text)
            case Grant(agent_id, cid, part):
                for conn in self.agent_conns(agent_id):
                    if part is None:
                        self.detach(conn, cid)
                    elif conn.session.parts.get(cid) != Part(part):
                        self.attach(conn, cid, Part(part))
            case _:
                if self.on_control is not None:
                    self.spawn(self.on_control(env))

    def _typing(self, env: Typing, local: bool) -> None:
        cid = env.conversation_id
        author_role = Role(env.role)
        views: dict[str | None, str] = {}
        for conn in self.by_conv.get(cid, ()):
            if local and conn.conn_id == env.sender:
                continue
            deliver, draft = conn.session.typing_view(cid, author_role, env.author_visible,
                                                      env.note, env.draft, env.preview)
            if not deliver:
                continue
            text = views.get(draft)
            if text is None:
                text = views[draft] = p.serialize_text(p.TypingOut(
                    cid, env.author_kind, env.author_name, bool(env.draft), draft))
            conn.push(text)

    # --- recovery --------------------------------------------------------------------------

    def resync(self) -> None:
        """After a gap in the subscription: every socket catches up from the records."""
        for conn in list(self.conns):
            for cid in list(conn.session.parts):
                if cid in conn.session.last_seq:
                    conn.push(CatchUp(cid))

    async def _read_epoch(self) -> str | None:
        raw = await self.redis.get(keys.epoch())
        return raw.decode() if isinstance(raw, bytes) else raw

    async def _watch_epoch(self) -> None:
        while True:
            await asyncio.sleep(self._epoch_poll_s)
            try:
                epoch = await self._read_epoch()
            except (RedisError, OSError):
                continue
            if epoch is None:
                # Redis lost the live state (flush, restart): have it rebuilt from the records;
                # the new epoch then reloads every client.
                if self.on_epoch_lost is not None:
                    try:
                        await self.on_epoch_lost()
                    except Exception:
                        log.exception("rebuilding the live state failed; retrying")
                continue
            self.epoch_seen(epoch)

    def epoch_seen(self, epoch: str) -> None:
        """A (possibly new) routing epoch: on a change every client reloads."""
        if epoch == self.epoch:
            return
        previous, self.epoch = self.epoch, epoch
        if previous is not None:
            self.reload_all(epoch)

    def reload_all(self, epoch: str) -> None:
        log.warning("routing epoch changed to %s: clients reload", epoch)
        text = p.serialize_text(p.Reload(epoch))
        for conn in list(self.conns):
            conn.push(text)
            conn.close_after_drain(CLOSE_RESTART)


def _discard(index: dict[int, set[Connection]], key: int, conn: Connection) -> None:
    bucket = index.get(key)
    if bucket is not None:
        bucket.discard(conn)
        if not bucket:
            del index[key]
