"""Redis adapter for the router: live queues, loads, offers, through the Lua scripts.

Thin on purpose: every state change is one script call (``routing/lua/*.lua``), every read one
pipeline. Scripts are registered once per Store (one client / connection pool) and run with
EVALSHA; redis-py reloads one transparently after a Redis restart (NOSCRIPT).
"""

from __future__ import annotations

import asyncio
import math
import secrets
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from importlib import resources
from typing import Any

import orjson
import redis.asyncio as aioredis
from redis.commands.core import AsyncScript
from redis.exceptions import NoScriptError, ResponseError
from redis.exceptions import TimeoutError as RedisTimeoutError

from routing import keys
from routing.policy import Item, kind_of, member_conversation, queue_member, queue_score
from routing.resp import bulk, command

SCRIPTS = ("enqueue", "claim", "accept", "return_offer", "requeue", "transfer", "release",
           "queue_stats")
QUEUE_STATS_SCAN = 10_000  # members read per queue for its oldest wait (queue_stats.lua)


def text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def db_index(redis: aioredis.Redis) -> int:
    """The client's Redis database index, which names the pub/sub channels (``keys``)."""
    return int(redis.connection_pool.connection_kwargs.get("db") or 0)


def _opt_int(value: Any) -> int | None:
    s = text(value) if value is not None else ""
    return int(s) if s not in ("", "-") else None


@dataclass(frozen=True, slots=True)
class ConvState:
    """A conversation as Redis holds it."""

    conversation_id: int
    state: str  # queued | offered | assigned
    group_id: int
    channel: str
    agent_id: int | None
    deadline_ms: int | None
    score: int
    member: str
    priority: int
    sla_due: float | None
    arrival: float
    skills: dict[str, int]

    @property
    def kind(self) -> str:
        return kind_of(self.channel)

    def item(self, excluded: Iterable[int] = ()) -> Item:
        return Item(self.conversation_id, self.group_id, self.channel, self.priority,
                    self.sla_due, self.arrival, self.skills, frozenset(excluded),
                    front=self.score < queue_score(0, 0))

    @classmethod
    def parse(cls, conversation_id: int, raw: dict[Any, Any]) -> ConvState | None:
        if not raw:
            return None
        h = {text(k): text(v) for k, v in raw.items()}
        sla = h.get("sla", "")
        return cls(
            conversation_id=conversation_id,
            state=h["state"],
            group_id=int(h["group"]),
            channel=h["channel"],
            agent_id=_opt_int(h.get("agent")),
            deadline_ms=_opt_int(h.get("deadline")),
            score=int(float(h["score"])),
            member=h["member"],
            priority=int(h.get("priority") or 2),
            sla_due=float(sla) if sla else None,
            arrival=float(h.get("arrival") or 0),
            skills={str(k): int(v) for k, v in orjson.loads(h.get("skills") or "{}").items()},
        )


@dataclass(frozen=True, slots=True)
class AgentLive:
    """An agent's live routing state (skills come from the records, not Redis)."""

    agent_id: int
    online: bool
    active: bool
    chats: int
    tickets: int
    max_chats: int
    max_tickets: int


@dataclass(frozen=True, slots=True)
class ClaimResult:
    status: str  # ok | no_agent | not_queued | stale_cursor | no_epoch
    agent_id: int | None = None
    skipped: dict[int, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class ClaimRequest:
    conversation_id: int
    group_id: int
    ranking: tuple[int, ...]
    offer_deadline_ms: int | None = None  # None: assign outright
    expect_cursor: str = ""  # '' = any, '-' = none yet, else the agent id last served
    checks: str = "ax"  # a: must be active in the group, x: skip agents it was excluded for


def _claim_result(reply: Any) -> ClaimResult:
    out = text(reply).split(" ")
    status = out[0]
    skipped: dict[int, str] = {}
    if status in ("ok", "no_agent"):
        for entry in out[2:] if status == "ok" else out[1:]:
            who, why = entry.split(":", 1)
            skipped[int(who)] = why
    return ClaimResult(status, int(out[1]) if status == "ok" else None, skipped)


def _as_dict(reply: Any) -> dict[Any, Any]:
    """HGETALL's reply: a flat field/value list in RESP2, a map in RESP3."""
    return reply if isinstance(reply, dict) else dict(zip(reply[::2], reply[1::2], strict=True))


_ASSIGN, _OFFER = bulk(b"assign"), bulk(b"offer")


def _enqueue_result(out: list[str]) -> tuple[str, str | int]:
    if out[0] == "ok":
        return "ok", int(out[1])
    return out[0], out[1] if len(out) > 1 else ""


@dataclass(frozen=True, slots=True)
class GroupSnapshot:
    cursor: int | None
    items: list[Item]
    agents: dict[int, AgentLive]
    more: bool = False  # the queue holds more than the ``head`` items read


@dataclass(slots=True)
class RestoredState:
    """What a rebuild writes back, derived from the records (see Router.rebuild)."""

    agents: dict[int, tuple[int, int]] = field(default_factory=dict)  # id -> (max chats, tickets)
    active: dict[int, set[int]] = field(default_factory=dict)  # agent -> active groups
    convs: list[tuple[ConvState, set[int]]] = field(default_factory=list)  # with excluded


class Store:
    def __init__(self, redis: aioredis.Redis) -> None:
        self.redis = redis
        lua = resources.files("routing") / "lua"
        self._scripts: dict[str, AsyncScript] = {
            name: redis.register_script((lua / f"{name}.lua").read_text())
            for name in SCRIPTS
        }
        self._encoded_groups: dict[int, tuple[bytes, bytes]] = {}
        self._encoded_agents: dict[int, tuple[bytes, bytes]] = {}
        self._encoded_reads: dict[tuple[int, int], tuple[bytes, bytes]] = {}

    async def _run(self, name: str, keys_: Sequence[str], args: Sequence[Any]) -> list[str]:
        out = await self._scripts[name](keys=list(keys_), args=list(args))
        return [text(v) for v in out]

    async def _run_many(self, name: str, calls: Sequence[tuple[int, bytes]]) -> list[Any]:
        """EVALSHA of one script per call, all in one write (a pipeline); each call is still
        its own atomic script. A call is (argument count, its arguments after the sha —
        numkeys, keys, args — as RESP bulk strings, see ``bulk``).

        This is the router's hot path (every claim), so it talks to a pooled connection
        directly: redis-py's Pipeline costs about as much client CPU as the rest of a claim.
        If Redis lost the script (restart, SCRIPT FLUSH) the refused calls changed nothing:
        load it and resend those.
        """
        script = self._scripts[name]
        head = bulk(b"EVALSHA") + bulk(script.sha.encode())
        todo = list(range(len(calls)))
        out: list[Any] = [None] * len(calls)
        for attempt in range(2):
            replies = await self._exchange(
                b"".join([b"*%d\r\n%s%s" % (calls[i][0] + 2, head, calls[i][1]) for i in todo]),
                len(todo))
            missing = []
            for i, reply in zip(todo, replies, strict=True):
                if isinstance(reply, NoScriptError) and not attempt:
                    missing.append(i)
                elif isinstance(reply, ResponseError):
                    raise reply
                else:
                    out[i] = reply
            if not missing:
                break
            await self.redis.script_load(script.script)
            todo = missing
        return out

    async def _pipeline(self, commands: Sequence[bytes]) -> list[Any]:
        """Commands packed by ``command``, in one round trip; an error reply is raised."""
        out = await self._exchange(b"".join(commands), len(commands))
        for reply in out:
            if isinstance(reply, ResponseError):
                raise reply
        return out

    def _agent_reads(self, group_id: int, agent_id: int) -> tuple[bytes, bytes]:
        """A snapshot's two reads of one member (online? loads, capacities, active?), packed
        once: every dispatch round sends them for every member."""
        found = self._encoded_reads.get((group_id, agent_id))
        if found is None:
            found = (command(b"EXISTS", keys.heartbeat(agent_id).encode()), command(
                b"HMGET", keys.agent(agent_id).encode(), b"chats", b"tickets", b"max_chats",
                b"max_tickets", keys.active_field(group_id).encode()))
            self._encoded_reads[(group_id, agent_id)] = found
        return found

    async def _exchange(self, packed: bytes, replies: int) -> list[Any]:
        """Send pre-packed commands on one pooled connection and read ``replies`` replies
        (error replies returned, not raised), with the client's retry policy."""
        if not replies:
            return []
        pool = self.redis.connection_pool
        conn = await pool.get_connection()

        async def once() -> list[Any]:
            await conn.send_packed_command(packed)
            out: list[Any] = []
            try:  # one timer for the round trip, not one per reply
                async with asyncio.timeout(conn.socket_timeout):
                    for _ in range(replies):
                        try:
                            out.append(await conn.read_response(timeout=math.inf))
                        except ResponseError as exc:
                            out.append(exc)
            except TimeoutError:
                raise RedisTimeoutError(f"no reply from Redis in {conn.socket_timeout} s") from None
            return out

        async def failed(_error: BaseException) -> None:
            await conn.disconnect()  # a half-read stream of replies cannot be reused

        try:
            result: list[Any] = await conn.retry.call_with_retry(once, failed)
            return result
        except BaseException:
            await conn.disconnect()
            raise
        finally:
            await pool.release(conn)

    # -- epoch -----------------------------------------------------------------------------------

    async def epoch(self) -> str | None:
        value = await self.redis.get(keys.epoch())
        return text(value) if value is not None else None

    # -- queue -----------------------------------------------------------------------------------

    async def enqueue(self, item: Item) -> tuple[str, str | int]:
        """('ok', rank) | ('exists', state) | ('no_epoch', '')."""
        return (await self.enqueue_many([item]))[0]

    async def enqueue_many(self, items: Sequence[Item]) -> list[tuple[str, str | int]]:
        """``enqueue`` for each item, in one round trip."""
        calls = []
        for item in items:
            args = [b"3", keys.epoch().encode(), keys.conv(item.conversation_id).encode(),
                    keys.queue(item.group_id).encode(), b"%d" % item.conversation_id,
                    b"%d" % item.group_id, item.channel.encode(), item.kind.encode(),
                    b"%d" % queue_score(item.priority, item.sla_due, item.front),
                    queue_member(item.conversation_id, item.arrival).encode(),
                    b"%d" % item.priority,
                    b"" if item.sla_due is None else repr(item.sla_due).encode(),
                    repr(item.arrival).encode(), orjson.dumps(dict(item.required_skills))]
            calls.append((len(args), b"".join(map(bulk, args))))
        return [_enqueue_result([text(v) for v in out])
                for out in await self._run_many("enqueue", calls)]

    async def conv(self, conversation_id: int) -> ConvState | None:
        raw = await self.redis.hgetall(keys.conv(conversation_id))
        return ConvState.parse(conversation_id, raw)

    async def excluded(self, conversation_id: int) -> set[int]:
        raw = await self.redis.smembers(keys.excluded(conversation_id))
        return {int(text(a)) for a in raw}

    async def position(self, conversation_id: int) -> tuple[int, int] | None:
        """(1-based position, group) of a queued conversation, else None."""
        return (await self.positions([conversation_id])).get(conversation_id)

    async def positions(self, conversation_ids: Sequence[int]) -> dict[int, tuple[int, int]]:
        """(1-based position, group) of each conversation that is queued; two round trips."""
        states = await self._pipeline([
            command(b"HMGET", keys.conv(c).encode(), b"state", b"group", b"member")
            for c in conversation_ids])
        queued = [(c, int(g), m) for c, (state, g, m) in zip(conversation_ids, states, strict=True)
                  if state is not None and text(state) == "queued"]
        if not queued:
            return {}
        ranks = await self._pipeline([
            command(b"ZRANK", keys.queue(g).encode(), m if isinstance(m, bytes) else m.encode())
            for _, g, m in queued])
        return {c: (int(rank) + 1, g) for (c, g, _), rank in zip(queued, ranks, strict=True)
                if rank is not None}

    async def queue_head(self, group_id: int, limit: int = 100) -> tuple[list[int], list[float]]:
        """The first ``limit`` queued conversation ids and the recent dequeue times (s)."""
        members, times = await self._pipeline([
            command(b"ZRANGE", keys.queue(group_id).encode(), b"0", b"%d" % (limit - 1)),
            command(b"LRANGE", keys.throughput(group_id).encode(), b"0", b"-1")])
        return ([member_conversation(text(m)) for m in members], [int(v) / 1000 for v in times])

    async def queue_ids(self, group_id: int, limit: int = 100) -> list[int]:
        return (await self.queue_head(group_id, limit))[0]

    async def publish(self, channel: str, messages: Sequence[bytes]) -> None:
        """PUBLISH each message on ``channel``, in one round trip."""
        if messages:
            name = channel.encode()
            await self._pipeline([command(b"PUBLISH", name, m) for m in messages])

    async def missing(self, conversation_ids: Sequence[int]) -> list[int]:
        """Those of the conversations Redis holds no live state for."""
        pipe = self.redis.pipeline(transaction=False)
        for c in conversation_ids:
            pipe.exists(keys.conv(c))
        found = await pipe.execute()
        return [c for c, there in zip(conversation_ids, found, strict=True) if not there]

    async def queue_length(self, group_id: int) -> int:
        return int(await self.redis.zcard(keys.queue(group_id)))

    async def queue_stats(self, group_ids: Sequence[int]) -> dict[int, tuple[int, int | None]]:
        """Each group's queue length and oldest arrival (ms), in one script call."""
        if not group_ids:
            return {}
        out = await self._run("queue_stats", [keys.queue(g) for g in group_ids],
                              [QUEUE_STATS_SCAN])
        return {g: (int(out[2 * i]), int(out[2 * i + 1]) if out[2 * i + 1] else None)
                for i, g in enumerate(group_ids)}

    async def throughput(self, group_id: int) -> list[float]:
        raw = await self.redis.lrange(keys.throughput(group_id), 0, -1)
        return [int(text(v)) / 1000 for v in raw]

    async def snapshot(self, group_id: int, agent_ids: Sequence[int], head: int) -> GroupSnapshot:
        """The group's cursor, first ``head`` queued items and members' live state."""
        res = await self._pipeline([
            command(b"GET", keys.cursor(group_id).encode()),
            # One more than asked: is there more?
            command(b"ZRANGE", keys.queue(group_id).encode(), b"0", b"%d" % head),
            *(cmd for a in agent_ids for cmd in self._agent_reads(group_id, a))])
        cursor = _opt_int(res[0])
        more = len(res[1]) > head
        ids = [member_conversation(text(m)) for m in res[1]][:head]
        agents: dict[int, AgentLive] = {}
        for i, a in enumerate(agent_ids):
            online, h = res[2 + 2 * i: 4 + 2 * i]
            n = [int(v) if v is not None else 0 for v in h[:4]]
            agents[a] = AgentLive(a, bool(online), h[4] is not None, n[0], n[1], n[2], n[3])
        items: list[Item] = []
        if ids:
            res = await self._pipeline([
                cmd for c in ids for cmd in (command(b"HGETALL", keys.conv(c).encode()),
                                             command(b"SMEMBERS", keys.excluded(c).encode()))])
            for i, c in enumerate(ids):
                st = ConvState.parse(c, _as_dict(res[2 * i]))
                if st is not None and st.state == "queued":
                    items.append(st.item(int(a) for a in res[2 * i + 1]))
        return GroupSnapshot(cursor, items, agents, more)

    # -- state changes ---------------------------------------------------------------------------

    async def claim(self, conversation_id: int, group_id: int, ranking: Sequence[int], *,
                    offer_deadline_ms: int | None, now_ms: int, expect_cursor: str = "",
                    checks: str = "ax") -> ClaimResult:
        """Give the conversation to the first agent of ``ranking`` who passes the checks."""
        req = ClaimRequest(conversation_id, group_id, tuple(ranking), offer_deadline_ms,
                           expect_cursor, checks)
        return (await self.claim_many([req], now_ms))[0]

    async def claim_many(self, requests: Sequence[ClaimRequest], now_ms: int) -> list[ClaimResult]:
        """Several claims in one round trip (a pipeline); each is still its own atomic step."""
        calls: list[tuple[int, bytes]] = []
        now = bulk(b"%d" % now_ms)
        for r in requests:
            group_keys, group_arg = self._group_bulks(r.group_id)
            agents = [self._agent_bulks(a) for a in r.ranking]
            n, c = len(agents), r.conversation_id
            calls.append((15 + 3 * n, b"".join((
                bulk(b"%d" % (7 + 2 * n)), group_keys, bulk(keys.conv(c).encode()),
                bulk(keys.excluded(c).encode()), *(k for k, _ in agents),
                bulk(b"%d" % c), group_arg,
                _ASSIGN if r.offer_deadline_ms is None else _OFFER,
                bulk(b"%d" % (r.offer_deadline_ms or 0)), now, bulk(r.expect_cursor.encode()),
                bulk(r.checks.encode()), *(i for _, i in agents)))))
        return [_claim_result(out) for out in await self._run_many("claim", calls)]

    def _group_bulks(self, group_id: int) -> tuple[bytes, bytes]:
        """Claim's per-group KEYS and the group id, packed once: every claim sends them."""
        found = self._encoded_groups.get(group_id)
        if found is None:
            found = (b"".join(bulk(k.encode()) for k in (
                keys.epoch(), keys.queue(group_id), keys.offers(), keys.cursor(group_id),
                keys.throughput(group_id))), bulk(b"%d" % group_id))
            self._encoded_groups[group_id] = found
        return found

    def _agent_bulks(self, agent_id: int) -> tuple[bytes, bytes]:
        """A candidate's two KEYS (agent hash, heartbeat) and its id, packed once."""
        found = self._encoded_agents.get(agent_id)
        if found is None:
            found = (bulk(keys.agent(agent_id).encode())
                     + bulk(keys.heartbeat(agent_id).encode()), bulk(b"%d" % agent_id))
            self._encoded_agents[agent_id] = found
        return found

    async def accept(self, conversation_id: int, agent_id: int) -> str:
        out = await self._run("accept", [keys.conv(conversation_id), keys.offers()],
                              [conversation_id, agent_id])
        return out[0]

    async def return_offer(self, conversation_id: int, agent_id: int, group_id: int,
                           due_ms: int | None) -> str:
        """Decline (``due_ms`` None) or expire (only if the deadline is <= ``due_ms``)."""
        out = await self._run(
            "return_offer",
            [keys.conv(conversation_id), keys.queue(group_id), keys.offers(),
             keys.excluded(conversation_id), keys.agent(agent_id)],
            [conversation_id, agent_id, group_id, "" if due_ms is None else due_ms],
        )
        return out[0]

    async def requeue(self, conv: ConvState, agent_id: int, group_id: int, *, front: bool,
                      only_if_offline: bool, exclude: bool) -> str:
        score = queue_score(conv.priority, conv.sla_due, front)
        out = await self._run(
            "requeue",
            [keys.conv(conv.conversation_id), keys.queue(group_id), keys.offers(),
             keys.agent(agent_id), keys.heartbeat(agent_id), keys.excluded(conv.conversation_id)],
            [conv.conversation_id, agent_id, group_id, score, "1" if only_if_offline else "0",
             "1" if exclude else "0"],
        )
        return out[0]

    async def transfer(self, conversation_id: int, old: int, new: int, group_id: int) -> str:
        out = await self._run(
            "transfer",
            [keys.conv(conversation_id), keys.agent(old), keys.agent(new), keys.heartbeat(new)],
            [conversation_id, old, new, group_id],
        )
        return out[0]

    async def release(self, conv: ConvState) -> str:
        agent = conv.agent_id
        out = await self._run(
            "release",
            [keys.conv(conv.conversation_id), keys.queue(conv.group_id), keys.offers(),
             keys.excluded(conv.conversation_id), keys.agent(agent or 0)],
            [conv.conversation_id, "" if agent is None else agent, conv.group_id],
        )
        return out[0]

    async def due_offers(self, now_ms: int, limit: int = 100) -> list[int]:
        raw = await self.redis.zrangebyscore(keys.offers(), "-inf", now_ms, start=0, num=limit)
        return [int(text(c)) for c in raw]

    async def agent_convs(self, agent_id: int) -> set[int]:
        fields = await self.redis.hkeys(keys.agent(agent_id))
        return {int(text(f)[2:]) for f in fields if text(f).startswith("c:")}

    async def set_active(self, agent_id: int, on: Iterable[int], off: Iterable[int]) -> None:
        pipe = self.redis.pipeline(transaction=True)
        off_fields = [keys.active_field(g) for g in off]
        if off_fields:
            pipe.hdel(keys.agent(agent_id), *off_fields)
        on_fields: dict[Any, Any] = {keys.active_field(g): 1 for g in on}
        if on_fields:
            pipe.hset(keys.agent(agent_id), mapping=on_fields)
        await pipe.execute()

    async def active_groups(self, agent_id: int) -> set[int]:
        fields = await self.redis.hkeys(keys.agent(agent_id))
        return {int(text(f)[2:]) for f in fields if text(f).startswith("g:")}

    # -- rebuild ---------------------------------------------------------------------------------

    async def lock_rebuild(self, ttl_ms: int) -> str | None:
        token = secrets.token_hex(8)
        ok = await self.redis.set(keys.rebuild_lock(), token, nx=True, px=ttl_ms)
        return token if ok else None

    async def unlock_rebuild(self) -> None:
        await self.redis.delete(keys.rebuild_lock())

    async def restore(self, state: RestoredState, now_ms: int) -> str:
        """Replace all live routing state (heartbeats kept) with ``state``; return the epoch."""
        doomed: list[str] = []
        async for k in self.redis.scan_iter(match=keys.routing_pattern(), count=1000):
            if not keys.survives_rebuild(text(k)):
                doomed.append(text(k))
        pipe = self.redis.pipeline(transaction=False)
        pipe.delete(keys.epoch())
        for i in range(0, len(doomed), 500):
            pipe.unlink(*doomed[i:i + 500])
        loads: dict[int, list[int]] = {a: [0, 0] for a in [*state.agents, *state.active]}
        held: dict[int, list[int]] = {}
        for conv, excluded in state.convs:
            c = conv.conversation_id
            pipe.hset(keys.conv(c), mapping={
                "state": conv.state, "group": conv.group_id, "channel": conv.channel,
                "kind": conv.kind, "agent": conv.agent_id or "", "deadline": conv.deadline_ms or "",
                "score": conv.score, "member": conv.member, "priority": conv.priority,
                "sla": "" if conv.sla_due is None else repr(conv.sla_due),
                "arrival": repr(conv.arrival), "skills": orjson.dumps(conv.skills).decode(),
            })
            if excluded:
                pipe.sadd(keys.excluded(c), *[str(a) for a in excluded])
            if conv.state == "queued":
                pipe.zadd(keys.queue(conv.group_id), {conv.member: conv.score})
                continue
            assert conv.agent_id is not None
            loads.setdefault(conv.agent_id, [0, 0])[0 if conv.kind == "chat" else 1] += 1
            held.setdefault(conv.agent_id, []).append(c)
            # An agent holding work gets a fresh grace period to heartbeat again.
            pipe.zadd(keys.presence(), {str(conv.agent_id): now_ms}, nx=True)
            if conv.state == "offered":
                pipe.zadd(keys.offers(), {str(c): conv.deadline_ms or now_ms})
        for a, (chats, tickets) in loads.items():
            caps = state.agents.get(a, (0, 0))
            fields: dict[Any, Any] = {"chats": chats, "tickets": tickets,
                                      "max_chats": caps[0], "max_tickets": caps[1]}
            fields.update((keys.active_field(g), 1) for g in state.active.get(a, ()))
            fields.update((keys.held_field(c), 1) for c in held.get(a, ()))
            pipe.hset(keys.agent(a), mapping=fields)
        token = secrets.token_hex(8)
        pipe.set(keys.epoch(), token)
        await pipe.execute()
        return token
