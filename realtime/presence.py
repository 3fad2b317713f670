"""Agents as the router sees them: heartbeats, online/away, group toggles, the live board.

An agent is online for routing while at least one console socket (``/ws/agent``) of theirs is
open on some web process: each process heartbeats its console agents (``Router.heartbeat``)
every third of the presence TTL. When the last console socket on a process closes, the heartbeat
is dropped at once (no new offers) and the other processes are asked to beat again if they still
hold a socket of that agent; otherwise the router's grace period re-queues the agent's chats
if they do not come back in time.

"Away" keeps the agent's chats but stops new offers: the router gets every group switched off,
and the groups the agent wants (``active_groups``) are kept aside in ``keys.agent_status`` until
they are back online.

The console shows what is kept here, never a guess of its own: a console socket gets
``agent_state`` (status and wanted groups) right after ``welcome``, and every socket of the agent
gets it again after each change. Supervisors hear ``presence`` on every change (their view asks
for a fresh ``board`` then); those who asked to follow the board get a fresh one pushed shortly
after routing moved.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time

import orjson
from redis.exceptions import RedisError
from sqlalchemy import select

from desk.models import Agent, AgentGroup
from realtime import protocol as p
from realtime.connection import Connection
from realtime.context import Context
from realtime.envelopes import Beat
from realtime.errors import CommandError
from realtime.session import Role
from routing import keys
from routing.errors import RoutingError

log = logging.getLogger("switchboard.realtime")

QUEUE_HEAD = 100  # queued conversations read per group for the board's oldest wait
BOARD_DELAY_S = 0.25  # router events come in bursts (offer + queue moves): one board per burst


def console_agents(ctx: Context) -> list[int]:
    """Agents with a console socket on this process: the ones this process heartbeats."""
    return [a for a, conns in ctx.hub.by_agent.items()
            if any(c.session.role is Role.AGENT and not c.closed for c in conns)]


async def beat(ctx: Context, agent_id: int) -> None:
    with contextlib.suppress(RoutingError, RedisError, OSError):
        await ctx.router.heartbeat(agent_id)


async def connected(ctx: Context, conn: Connection) -> None:
    if conn.session.role is not Role.AGENT or conn.agent_id is None:
        return
    await beat(ctx, conn.agent_id)
    try:
        state = await agent_state(ctx, conn.agent_id, conn.group_ids)
    except (RedisError, OSError) as exc:
        log.warning("no agent_state for agent %s: %r", conn.agent_id, exc)
        return
    conn.send(state)
    ctx.hub.publish_to_supervisors(p.PresenceOut(conn.agent_id, state.status))


async def disconnected(ctx: Context, conn: Connection) -> None:
    """After ``hub.unregister``: the agent's last console socket here closing drops the beat."""
    agent_id = conn.agent_id
    if conn.session.role is not Role.AGENT or agent_id is None \
            or agent_id in console_agents(ctx):
        return
    try:
        await ctx.router.drop_heartbeat(agent_id)
    except (RedisError, OSError) as exc:
        log.warning("could not mark agent %s offline: %r", agent_id, exc)
        return
    # Published after the heartbeat is gone, so a process that still holds a console socket
    # of this agent beats again right after, never before.
    ctx.hub.publish(Beat(agent_id))
    ctx.hub.publish_to_supervisors(p.PresenceOut(agent_id, "offline"))


async def _status(ctx: Context, agent_id: int) -> tuple[str, set[int] | None]:
    raw = await ctx.hub.redis.hmget(keys.agent_status(agent_id), "status", "groups")
    status = raw[0].decode() if isinstance(raw[0], bytes) else raw[0]
    groups = set(orjson.loads(raw[1])) if raw[1] else None
    return status or "online", groups


async def agent_state(ctx: Context, agent_id: int, member_of: frozenset[int]) -> p.AgentState:
    """Status and the groups the agent wants on: the router's while online, the ones kept
    aside while away."""
    status, kept = await _status(ctx, agent_id)
    wanted = kept if status == "away" and kept is not None \
        else await ctx.router.active_groups(agent_id)
    return p.AgentState(status, tuple(sorted(wanted & member_of)))


def _changed(ctx: Context, agent_id: int, state: p.AgentState) -> None:
    ctx.hub.publish_to_agent(agent_id, state)
    ctx.hub.publish_to_supervisors(p.PresenceOut(agent_id, state.status))


async def _apply(ctx: Context, agent_id: int, groups: set[int]) -> None:
    try:
        await ctx.router.set_active_groups(agent_id, groups)
    except RoutingError as exc:
        raise CommandError("forbidden", exc.message) from None


async def set_groups(ctx: Context, conn: Connection, group_ids: tuple[int, ...]) -> None:
    """The agent's group toggles; applied now unless away (then kept for coming back)."""
    assert conn.agent_id is not None
    wanted = set(group_ids)
    if not wanted <= conn.group_ids:
        raise CommandError("forbidden", "not a group of yours")
    status, _ = await _status(ctx, conn.agent_id)
    await ctx.hub.redis.hset(keys.agent_status(conn.agent_id), "groups",
                              orjson.dumps(sorted(wanted)))
    if status != "away":
        await _apply(ctx, conn.agent_id, wanted)
    _changed(ctx, conn.agent_id, p.AgentState(status, tuple(sorted(wanted))))


async def set_status(ctx: Context, conn: Connection, status: str) -> None:
    agent_id = conn.agent_id
    assert agent_id is not None
    previous, kept = await _status(ctx, agent_id)
    # While online the router holds the truth (the records may have been changed elsewhere);
    # while away only the kept-aside set knows what the agent wants back.
    wanted = kept if previous == "away" and kept is not None \
        else await ctx.router.active_groups(agent_id)
    await ctx.hub.redis.hset(keys.agent_status(agent_id), mapping={
        "status": status, "groups": orjson.dumps(sorted(wanted))})
    if status == "away":
        await _apply(ctx, agent_id, set())
    elif previous == "away":
        await _apply(ctx, agent_id, wanted & conn.group_ids)
    _changed(ctx, agent_id, p.AgentState(status, tuple(sorted(wanted & conn.group_ids))))


async def board(ctx: Context, conn: Connection) -> p.Board:
    """Agents (status, load, active groups) and queues (length, oldest wait) of my groups."""
    async with ctx.sm() as s:
        query = select(AgentGroup.group_id, Agent.id, Agent.display_name).join(
            Agent, Agent.id == AgentGroup.agent_id).where(Agent.is_active.is_(True))
        if conn.principal is not None:
            query = query.where(conn.principal.scope(AgentGroup.group_id))
        rows = (await s.execute(query)).all()
    members: dict[int, list[int]] = {}
    names: dict[int, str] = {}
    for group_id, agent_id, name in rows:
        members.setdefault(group_id, []).append(agent_id)
        names[agent_id] = name
    groups = sorted(members if conn.principal is not None and conn.principal.is_admin
                    else conn.group_ids)
    router = ctx.router
    now = time.time()
    queues = []
    live: dict[int, p.BoardAgent] = {}
    for group_id in groups:
        snap, length = await router.queue_view(group_id, members.get(group_id, []), QUEUE_HEAD)
        oldest = min((i.arrival for i in snap.items), default=None)
        queues.append(p.BoardQueue(group_id, length,
                                   None if oldest is None else max(0, int(now - oldest))))
        for a in snap.agents.values():
            if a.agent_id in live:
                continue
            status = "offline"
            if a.online:
                status, _ = await _status(ctx, a.agent_id)
            live[a.agent_id] = p.BoardAgent(
                a.agent_id, names[a.agent_id], status, a.chats, a.max_chats, a.tickets,
                a.max_tickets, tuple(sorted(await router.active_groups(a.agent_id))))
    return p.Board(tuple(live[a] for a in sorted(live)), tuple(queues))


class BoardPush:
    """Fresh boards for this process's following supervisor sockets soon after routing moved.

    Every process hears every router event, so each one updates its own followers (sockets that
    sent ``board`` with ``follow``); a process without followers does nothing at all.
    """

    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx
        self.followers: set[Connection] = set()
        self._due: asyncio.TimerHandle | None = None

    def follow(self, conn: Connection) -> None:
        self.followers.add(conn)

    def forget(self, conn: Connection) -> None:
        self.followers.discard(conn)

    def soon(self) -> None:
        if self._due is None and self.followers:
            self._due = asyncio.get_running_loop().call_later(BOARD_DELAY_S, self._fire)

    def _fire(self) -> None:
        self._due = None
        self.ctx.hub.spawn(self._push())

    async def _push(self) -> None:
        for conn in list(self.followers):
            if conn.closed:
                continue
            try:
                conn.send(await board(self.ctx, conn))
            except (RedisError, OSError) as exc:  # the next event or the view's poll retries
                log.warning("board not pushed: %r", exc)
                return
