"""Rights re-checked for every staff socket, on change and on a timer, plus presence beats.

desk tells us what changed through ``DeskHooks`` (logout, password change, group membership,
HTTP-posted messages); ``HubHooks`` turns each call into a hub envelope so every web process
acts on it. On ``session_ended`` the sockets of that session close with 4403 and receive nothing
more; on ``rights_changed`` each socket's principal is resolved again: a dead session closes, and
every conversation the principal may no longer see (``Principal.can_access``: its group is not
theirs, assignee or not) is taken from the socket at once, which is told so
(``conversation_removed``); what the agent held there goes back to its group's queue.
A sweep re-resolves every staff socket every few seconds as a backstop for a missed envelope
(e.g. during a Redis outage); the same loop heartbeats this process's console agents.

The hooks also carry what the HTTP API does to conversations to the router and the mail worker:
a stored message that ``desk.mail_rules.reply_is_mailed`` picks is mailed to the customer, a
ticket closed (or set pending) frees its agent's capacity in the router, and its customer is
told it was closed.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable

from redis.exceptions import RedisError
from sqlalchemy import select

from desk.auth import can_access, resolve_sessions
from desk.errors import RateLimited
from desk.hooks import DeskHooks
from desk.mail_rules import closing_is_mailed, reply_is_mailed
from desk.models import Agent, Conversation, Message
from realtime import presence, records
from realtime.connection import Connection
from realtime.context import Context
from realtime.envelopes import Beat, Control, ConversationChanged, RightsChanged, SessionEnded
from realtime.errors import CLOSE_REVOKED
from routing.errors import RoutingError
from routing.mail_budget import MailRequest, Purpose

log = logging.getLogger("switchboard.realtime")


class HubHooks(DeskHooks):
    """DeskHooks that reach every web process through the hub (wraps the app's own hooks)."""

    def __init__(self, ctx: Context, inner: DeskHooks) -> None:
        self.ctx = ctx
        self.inner = inner

    async def session_ended(self, agent_id: int, session_id: str | None) -> None:
        await self.inner.session_ended(agent_id, session_id)
        self.ctx.hub.publish(SessionEnded(agent_id, session_id))

    async def rights_changed(self, agent_id: int) -> None:
        await self.inner.rights_changed(agent_id)
        self.ctx.hub.publish(RightsChanged(agent_id))
        await take_back_lost(self.ctx, agent_id)

    async def message_posted(self, conversation_id: int, message_id: int) -> None:
        await self.inner.message_posted(conversation_id, message_id)
        async with self.ctx.sm() as s:
            msg = (await s.execute(select(Message).where(Message.id == message_id))
                   ).scalar_one_or_none()
            conv = await s.get(Conversation, conversation_id)
        if msg is None or conv is None:
            return
        self.ctx.hub.publish_message(records.stored(msg))
        if reply_is_mailed(conv.channel, visibility=msg.visibility, author_kind=msg.author_kind,
                           email_message_id=msg.email_message_id):
            await self.ctx.mailer.reply_posted(conversation_id, msg.seq)

    async def conversation_changed(self, conversation_id: int) -> None:
        await self.inner.conversation_changed(conversation_id)
        self.ctx.hub.publish(ConversationChanged(conversation_id))
        async with self.ctx.sm() as s:
            conv = await s.get(Conversation, conversation_id)
        if conv is None or conv.status not in ("pending", "resolved", "closed"):
            return
        try:
            await self.ctx.router.release(conversation_id, conv.status)
        except (RoutingError, RedisError, OSError) as exc:
            log.warning("release of %s failed: %r", conversation_id, exc)
        if closing_is_mailed(conv.channel, conv.status, conv.closed_by):
            await self.ctx.mailer.closed(conversation_id)


    async def admit_mail(self, recipient: str, conversation_id: int, requester: str) -> None:
        await self.inner.admit_mail(recipient, conversation_id, requester)
        verdict = await self.ctx.mail_guard.admit(MailRequest(
            Purpose.FORWARD, recipient, client=requester, conversation_id=conversation_id))
        if not verdict.allowed:
            raise RateLimited(verdict.message, verdict.retry_after_s)

    async def forward_recorded(self, event_id: int) -> None:
        await self.inner.forward_recorded(event_id)
        await self.ctx.mailer.forward(event_id)

    async def conversation_queued(self, conversation_id: int) -> None:
        await self.inner.conversation_queued(conversation_id)
        try:
            await self.ctx.router.enqueue(conversation_id)
        except (RoutingError, RedisError, OSError) as exc:  # the sweep queues it later
            log.warning("routing of %s failed: %r", conversation_id, exc)


async def on_control(ctx: Context, env: Control) -> None:
    match env:
        case SessionEnded(agent_id, sid):
            for conn in ctx.hub.agent_conns(agent_id):
                if sid is None or conn.session_id == sid:
                    conn.shut(CLOSE_REVOKED, "session ended")
        case RightsChanged(agent_id):
            for conn in ctx.hub.agent_conns(agent_id):
                await recheck(ctx, conn)
        case ConversationChanged(cid):
            ctx.forget_conv(cid)
        case Beat(agent_id):
            # Another process dropped this agent's heartbeat (its last console socket there
            # closed): beat again if a console socket of theirs is open here.
            if agent_id in presence.console_agents(ctx):
                await presence.beat(ctx, agent_id)


async def recheck(ctx: Context, conn: Connection) -> None:
    await recheck_all(ctx, [conn])


async def recheck_all(ctx: Context, conns: Iterable[Connection]) -> None:
    """Resolve every given staff socket's session again, in one query for all of them: a dead
    session closes its socket; every conversation its principal may no longer see (its group
    read fresh from the records, one query for all) is taken from it."""
    live = [c for c in conns if c.session_id is not None and not c.closed]
    if not live:
        return
    principals = await resolve_sessions(ctx.sm, [c.session_id for c in live if c.session_id])
    kept: list[Connection] = []
    for conn in live:
        principal = principals.get(conn.session_id or "")
        if principal is None:
            conn.shut(CLOSE_REVOKED, "session ended")
            continue
        conn.principal = principal
        if not principal.is_admin:
            kept.append(conn)
    if not kept:
        return
    infos = await records.get_convs(ctx.sm, {cid for c in kept for cid in c.session.parts})
    ctx.convs.update(infos)  # fresh from the records
    for conn in kept:
        principal = conn.principal
        assert principal is not None
        for cid in list(conn.session.parts):
            info = infos.get(cid)
            if info is None or not principal.can_access(info.group_id):
                ctx.hub.remove(conn, cid)


async def take_back_lost(ctx: Context, agent_id: int) -> None:
    """After a change of the agent's groups: whatever they hold (offer, ctx, ticket) in a
    group they may no longer see goes back to that group's queue, through the router."""
    async with ctx.sm() as s:
        agent = await s.get(Agent, agent_id)
        role, groups = "agent", set()  # gone or disabled: no group left
        if agent is not None and agent.is_active:
            role, groups = agent.role, {g.group_id for g in agent.groups}
    try:
        await ctx.router.withdraw(agent_id, lambda group_id: can_access(role, groups, group_id))
    except (RoutingError, RedisError, OSError) as exc:
        log.warning("taking back agent %s's conversations failed: %r", agent_id, exc)


async def maintain(ctx: Context, interval_s: float) -> None:
    """Every ``interval_s``: heartbeat the console agents and re-check every staff socket,
    each in one batch for the whole process (no query per agent)."""
    while True:
        await asyncio.sleep(interval_s)
        try:
            await ctx.router.heartbeat_many(presence.console_agents(ctx))
        except (RoutingError, RedisError, OSError) as exc:
            log.warning("presence heartbeat failed: %r", exc)
        try:
            await recheck_all(ctx, [c for conns in list(ctx.hub.by_agent.values())
                                    for c in conns])
        except Exception:
            log.exception("rights re-check failed")
