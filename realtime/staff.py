"""Agent and supervisor commands: offers, transfer, co-ctx, monitoring, the live board.

Offers, picks and transfers go through the router (``ctx.router``), which decides atomically;
what the router decided reaches every process as a router event (``realtime.routing_events``).

Rights come from the socket's current principal (``conn.principal``, refreshed by
realtime.rights) and its one rule, ``Principal.can_access``: a supervisor monitors or joins only
conversations of their groups; a transfer or invite goes to an agent who may see the
conversation (its group's members, admins), a group transfer to a group of the departments the
sender may see; ids outside that get ``forbidden`` — never a hint whether they exist.
"""

from __future__ import annotations

from redis.exceptions import RedisError
from sqlalchemy import delete, select

from desk import audit
from desk.auth import can_access, visible_departments
from desk.models import Agent, Conversation, Group, Participant, utcnow
from realtime import presence, records
from realtime import protocol as p
from realtime.connection import Connection
from realtime.context import Context
from realtime.envelopes import AUDIENCE_ALL
from realtime.errors import CommandError
from realtime.session import Part, Role
from routing.errors import NotOffered, RoutingError

LIVE_MAX = 200


async def _open_conv(ctx: Context, conn: Connection, cid: int) -> records.ConvInfo:
    info = await ctx.conv(cid, fresh=True)
    if info is None or not conn.can_access(info.group_id):
        raise CommandError("forbidden", "not a conversation of your groups")
    if not info.open:
        raise CommandError("conflict", "conversation is not open")
    return info


def _me(conn: Connection) -> tuple[int, str]:
    ident = conn.session.identity
    assert ident is not None
    return ident.subject_id, ident.name


async def execute(ctx: Context, boards: presence.BoardPush, conn: Connection,
                  frame: p.ClientFrame) -> None:
    match frame:
        case p.Accept(cid):
            await accept(ctx, conn, cid)
        case p.Assign(cid, agent_id):
            await assign(ctx, conn, cid, agent_id)
        case p.Decline(cid):
            try:
                await ctx.router.decline(_me(conn)[0], cid)
            except RoutingError as exc:
                raise CommandError("conflict", exc.message) from None
            conn.send(p.Done("decline", cid))
        case p.Transfer(cid, agent_id, group_id, note):
            await transfer(ctx, conn, cid, agent_id, group_id, note)
        case p.Invite(cid, agent_id):
            await invite(ctx, conn, cid, agent_id)
        case p.Join(cid):
            await join(ctx, conn, cid)
        case p.Leave(cid):
            await leave(ctx, conn, cid)
        case p.Monitor(cid):
            info = await _open_conv(ctx, conn, cid)
            name = await records.agent_name(ctx.sm, info.assignee_id)
            conn.send(p.State(cid, info.number, info.status, name,
                              await records.last_seq(ctx.sm, cid)))
            ctx.hub.attach(conn, cid, Part.MONITOR)
            await _audit(ctx, cid, "supervisor.monitor", _me(conn)[0], "started monitoring")
            conn.send(p.Done("monitor", cid))
        case p.Unmonitor(cid):
            ctx.hub.detach(conn, cid)
            conn.send(p.Done("unmonitor", cid))
        case p.ListLive():
            conn.send(await live_board(ctx, conn))
        case p.BoardRequest(follow):
            if follow:
                boards.follow(conn)
            conn.send(await presence.board(ctx, conn))
        case p.SetPresence(status):
            await presence.set_status(ctx, conn, status)
            conn.send(p.Done("presence"))
        case p.ActiveGroups(group_ids):
            await presence.set_groups(ctx, conn, group_ids)
            conn.send(p.Done("active_groups"))
        case _:
            raise CommandError("forbidden", f"{frame.TYPE} is not available here")


async def accept(ctx: Context, conn: Connection, cid: int) -> None:
    """Accept my offer, or cherry-pick the conversation from my groups' queue."""
    agent_id, _ = _me(conn)
    info = await _open_conv(ctx, conn, cid)
    try:
        try:
            await ctx.router.accept(agent_id, cid)
        except NotOffered:
            await ctx.router.cherry_pick(agent_id, cid)
    except RoutingError as exc:
        raise CommandError("conflict", exc.message) from None
    # This socket gets the chat (and its history) before ``done``; the router's ``assigned``
    # event brings it to the agent's other sockets and tells the visitor.
    ctx.hub.attach(conn, cid, Part.ASSIGNEE)
    conn.send(p.Done("accept", info.id))


async def assign(ctx: Context, conn: Connection, cid: int, agent_id: int) -> None:
    """Take a queued ticket (to me) or give it to a colleague who may see it; the router
    decides whether they can (group, online, capacity, skills)."""
    me, _ = _me(conn)
    if agent_id == me:
        await accept(ctx, conn, cid)
        return
    info = await _open_conv(ctx, conn, cid)
    if info.channel == "chat":
        raise CommandError("bad_field", "a chat is offered by the router or taken; "
                                        "transfer it once it is yours")
    name = await _check_target_agent(ctx, info, agent_id)
    try:
        await ctx.router.cherry_pick(agent_id, cid, by_agent_id=me)
    except RoutingError as exc:
        raise CommandError("conflict", exc.message.replace(f"agent {agent_id}", name)) from None
    conn.send(p.Done("assign", info.id))


async def _check_target_agent(ctx: Context, info: records.ConvInfo, agent_id: int) -> str:
    """A transfer or invite goes only to an active agent who may see the conversation (the
    access rule), so nobody is handed a chat they would lose at the next rights check."""
    async with ctx.sm() as s:
        agent = await s.get(Agent, agent_id)
    if agent is None or not agent.is_active or not can_access(
            agent.role, {g.group_id for g in agent.groups}, info.group_id):
        raise CommandError("forbidden", "not an agent of the conversation's group")
    return agent.display_name


async def transfer(ctx: Context, conn: Connection, cid: int, agent_id: int | None,
                   group_id: int | None, note: str) -> None:
    if (agent_id is None) == (group_id is None):
        raise CommandError("bad_field", "give exactly one of agent_id or group_id")
    me, my_name = _me(conn)
    info = await _open_conv(ctx, conn, cid)
    if agent_id is not None:
        if agent_id == me:
            raise CommandError("bad_field", "cannot transfer to yourself")
        await _check_target_agent(ctx, info, agent_id)
    else:
        async with ctx.sm() as s:
            group = await s.get(Group, group_id)
            departments = await visible_departments(s, conn.principal) \
                if conn.principal is not None else set()
        # To a group of the departments the sender may see; ids outside them are refused
        # alike, whether they exist or not.
        if group is None or (departments is not None and group.department_id not in departments):
            raise CommandError("forbidden", "not a group of your departments")
    try:
        await ctx.router.transfer(cid, to_agent_id=agent_id, to_group_id=group_id,
                                   by_agent_id=me, note=note)
    except RoutingError as exc:
        raise CommandError("conflict", exc.message) from None
    if note:
        msg, _ = await records.store_message(
            ctx.sm, cid, author_kind="agent" if conn.session.role is Role.AGENT
            else "supervisor", author_id=me, author_name=my_name,
            text=f"Transfer note: {note}", visibility="internal", client_id=None)
        ctx.hub.publish_message(msg)
    if info.assignee_id is not None:
        # The router's events attach the new agent (or re-queue); the old one leaves visibly.
        ctx.hub.publish_grant(info.assignee_id, cid, None)
        old = await records.agent_name(ctx.sm, info.assignee_id) or "Agent"
        ctx.hub.publish_event(cid, p.ParticipantLeft(cid, old, "agent"), invalidate=True)
    conn.send(p.Done("transfer", cid))


async def invite(ctx: Context, conn: Connection, cid: int, agent_id: int) -> None:
    info = await _open_conv(ctx, conn, cid)
    name = await _check_target_agent(ctx, info, agent_id)
    if agent_id == info.assignee_id:
        raise CommandError("conflict", "already in the conversation")
    await _add_participant(ctx, cid, agent_id)
    ctx.hub.publish_grant(agent_id, cid, Part.COCHAT)
    ctx.hub.publish_event(cid, p.ParticipantJoined(cid, name, "agent"), AUDIENCE_ALL)
    conn.send(p.Done("invite", cid))


async def _add_participant(ctx: Context, cid: int, agent_id: int,
                           audited: str | None = None) -> None:
    """``audited``: the audit action recording it (a supervisor joining)."""
    async with ctx.sm() as s:
        row = await s.get(Participant, (cid, agent_id))
        if row is None:
            s.add(Participant(conversation_id=cid, agent_id=agent_id, role="cochat",
                              created_at=utcnow()))
        else:
            row.role = "cochat"
        if audited is not None:
            audit.record(s, audited, cid, actor_id=agent_id, why="joined the conversation")
        await s.commit()


async def _audit(ctx: Context, cid: int, action: str, actor_id: int, why: str) -> None:
    async with ctx.sm() as s:
        audit.record(s, action, cid, actor_id=actor_id, why=why)
        await s.commit()


async def join(ctx: Context, conn: Connection, cid: int) -> None:
    me, name = _me(conn)
    info = await _open_conv(ctx, conn, cid)
    if conn.session.role is not Role.SUPERVISOR:
        raise CommandError("forbidden", "agents join by invitation")
    await _add_participant(ctx, cid, me, audited="supervisor.join")
    ctx.hub.publish_grant(me, cid, Part.JOINED)
    ctx.hub.publish_event(cid, p.ParticipantJoined(cid, name, "supervisor"), AUDIENCE_ALL)
    conn.send(p.Done("join", info.id))


async def leave(ctx: Context, conn: Connection, cid: int) -> None:
    me, name = _me(conn)
    async with ctx.sm() as s:
        await s.execute(delete(Participant).where(Participant.conversation_id == cid,
                                                  Participant.agent_id == me))
        await s.commit()
    ctx.hub.publish_grant(me, cid, None)
    role = "supervisor" if conn.session.role is Role.SUPERVISOR else "agent"
    ctx.hub.publish_event(cid, p.ParticipantLeft(cid, name, role), AUDIENCE_ALL)
    conn.send(p.Done("leave", cid))


async def live_board(ctx: Context, conn: Connection) -> p.Live:
    """Open chats, and beside them the tickets (email, portal) being routed or worked; a ticket
    waiting for its customer (pending) is not live work. Each kind has its own bound, so a
    backlog of tickets never hides a chat."""
    base = (
        select(Conversation, Agent.display_name)
        .outerjoin(Agent, Agent.id == Conversation.assignee_id)
        .order_by(Conversation.created_at)
        .limit(LIVE_MAX)
    )
    if conn.principal is not None:
        base = base.where(conn.principal.scope(Conversation.group_id))
    chats = base.where(Conversation.channel == "chat",
                       Conversation.status.in_(records.OPEN_STATUSES))
    tickets = base.where(Conversation.channel != "chat",
                         Conversation.status.in_(("queued", "offered", "active")))
    async with ctx.sm() as s:
        rows = [*(await s.execute(chats)).all(), *(await s.execute(tickets)).all()]
    now = utcnow()
    out = []
    for conv, agent_name in rows:
        created = conv.created_at if conv.created_at.tzinfo else conv.created_at.replace(
            tzinfo=now.tzinfo)
        due = conv.sla_due
        if due is not None and due.tzinfo is None:
            due = due.replace(tzinfo=now.tzinfo)
        out.append(p.LiveConversation(
            conv.id, conv.number, conv.status, conv.group_id, agent_name,
            int((now - created).total_seconds()), conv.channel,
            due.isoformat() if due is not None else None, conv.subject))
    return p.Live(tuple(out), await _capacity(ctx, conn))


async def _capacity(ctx: Context, conn: Connection) -> p.Capacity | None:
    """An agent's load and capacities as the router holds them (None: not known live)."""
    if conn.session.role is not Role.AGENT or conn.agent_id is None or not conn.group_ids:
        return None
    try:
        snap, _ = await ctx.router.queue_view(min(conn.group_ids), [conn.agent_id], 0)
    except (RedisError, OSError):  # the list still helps; "Take" then finds out by trying
        return None
    a = snap.agents.get(conn.agent_id)
    return None if a is None else p.Capacity(a.chats, a.max_chats, a.tickets, a.max_tickets)
