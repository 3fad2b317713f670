"""Agent and supervisor commands: offers, transfer, co-chat, monitoring, the live board.

Rights come from the socket's current principal (``conn.groups``, refreshed by realtime.rights):
a supervisor monitors or joins only conversations of their groups; transfer and invite targets
must belong to the conversation's group (or one of the caller's groups); ids outside that get
``forbidden`` — never a hint whether they exist.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from sqlalchemy import delete, select, update

from desk.conversations import set_status
from desk.models import Agent, AgentGroup, Conversation, Group, Participant, utcnow
from realtime import protocol as p
from realtime import records
from realtime.connection import Connection
from realtime.errors import CommandError
from realtime.hub import AUDIENCE_ALL
from realtime.session import Part, Role

if TYPE_CHECKING:
    from realtime.chat import Chat

LIVE_MAX = 200


def _may_see(conn: Connection, info: records.ConvInfo) -> bool:
    return conn.is_admin or (info.group_id is not None and info.group_id in conn.groups) \
        or info.assignee_id == conn.agent_id


async def _open_conv(chat: Chat, conn: Connection, cid: int) -> records.ConvInfo:
    info = await chat.conv(cid, fresh=True)
    if info is None or not _may_see(conn, info):
        raise CommandError("forbidden", "not a conversation of your groups")
    if not info.open:
        raise CommandError("conflict", "conversation is not open")
    return info


def _me(conn: Connection) -> tuple[int, str]:
    ident = conn.session.identity
    assert ident is not None
    return ident.subject_id, ident.name


async def execute(chat: Chat, conn: Connection, frame: p.ClientFrame) -> None:
    match frame:
        case p.Accept(cid):
            await accept(chat, conn, cid)
        case p.Decline(cid):
            if chat.router is not None:
                await chat.router.decline(cid, _me(conn)[0])
            conn.send(p.Done("decline", cid))
        case p.Transfer(cid, agent_id, group_id, note):
            await transfer(chat, conn, cid, agent_id, group_id, note)
        case p.Invite(cid, agent_id):
            await invite(chat, conn, cid, agent_id)
        case p.Join(cid):
            await join(chat, conn, cid)
        case p.Leave(cid):
            await leave(chat, conn, cid)
        case p.Monitor(cid):
            info = await _open_conv(chat, conn, cid)
            name = await records.agent_name(chat.sm, info.assignee_id)
            conn.send(p.State(cid, info.number, info.status, name,
                              await records.last_seq(chat.sm, cid)))
            chat.hub.attach(conn, cid, Part.MONITOR)
            conn.send(p.Done("monitor", cid))
        case p.Unmonitor(cid):
            chat.hub.detach(conn, cid)
            conn.send(p.Done("unmonitor", cid))
        case p.ListLive():
            conn.send(await live_board(chat, conn))
        case p.SetPresence(status):
            agent_id = _me(conn)[0]
            chat.presence[agent_id] = status
            if chat.router is not None:
                await chat.router.set_available(agent_id, status == "online")
            chat.hub.publish_to_supervisors(p.PresenceOut(agent_id, status))
            conn.send(p.Done("presence"))
        case _:
            raise CommandError("forbidden", f"{frame.TYPE} is not available here")


async def accept(chat: Chat, conn: Connection, cid: int) -> None:
    agent_id, name = _me(conn)
    info = await _open_conv(chat, conn, cid)
    if chat.router is not None:
        if not await chat.router.accept(cid, agent_id):
            raise CommandError("conflict", "the offer is no longer yours")
        await set_status(chat.sm, cid, "active", assignee_id=agent_id)
    elif not await _claim_unrouted(chat, cid, agent_id):
        raise CommandError("conflict", "already taken")
    chat.hub.publish_grant(agent_id, cid, Part.ASSIGNEE)
    chat.hub.publish_event(cid, p.Assigned(cid, name), invalidate=True)
    conn.send(p.Done("accept", info.id))


async def _claim_unrouted(chat: Chat, cid: int, agent_id: int) -> bool:
    """Without a router (tests, hub-only deployments) an agent picks from the queue: first wins."""
    async with chat.sm() as s:
        result = await s.execute(
            update(Conversation)
            .where(Conversation.id == cid, Conversation.assignee_id.is_(None))
            .values(assignee_id=agent_id, status="active"))
        await s.commit()
    return bool(getattr(result, "rowcount", 0))


async def _check_target_agent(chat: Chat, conn: Connection, info: records.ConvInfo,
                              agent_id: int) -> str:
    groups = {info.group_id} if conn.is_admin else {info.group_id, *conn.groups}
    async with chat.sm() as s:
        agent = await s.get(Agent, agent_id)
        member = (await s.execute(select(AgentGroup.group_id).where(
            AgentGroup.agent_id == agent_id, AgentGroup.group_id.in_(
                [g for g in groups if g is not None])))).first()
    if agent is None or not agent.is_active or (member is None and not conn.is_admin):
        raise CommandError("forbidden", "not an agent of your groups")
    return agent.display_name


async def transfer(chat: Chat, conn: Connection, cid: int, agent_id: int | None,
                   group_id: int | None, note: str) -> None:
    if (agent_id is None) == (group_id is None):
        raise CommandError("bad_field", "give exactly one of agent_id or group_id")
    me, my_name = _me(conn)
    info = await _open_conv(chat, conn, cid)
    if agent_id is not None:
        if agent_id == me:
            raise CommandError("bad_field", "cannot transfer to yourself")
        await _check_target_agent(chat, conn, info, agent_id)
    else:
        async with chat.sm() as s:
            if await s.get(Group, group_id) is None:
                raise CommandError("forbidden", "no such group")
    if chat.router is None or not await chat.router.transfer(cid, info.assignee_id or me,
                                                                 agent_id, group_id):
        raise CommandError("conflict", "transfer refused by the router")
    if note:
        msg, _ = await records.store_message(
            chat.sm, cid, author_kind="agent" if conn.session.role is Role.AGENT
            else "supervisor", author_id=me, author_name=my_name,
            text=f"Transfer note: {note}", visibility="internal", client_id=None)
        chat.hub.publish_message(msg)
    if group_id is not None:
        async with chat.sm() as s:
            conv = await s.get(Conversation, cid)
            if conv is not None:
                conv.group_id = group_id
                await s.commit()
    if info.assignee_id is not None:
        chat.hub.publish_grant(info.assignee_id, cid, None)
        old = await records.agent_name(chat.sm, info.assignee_id) or "Agent"
        chat.hub.publish_event(cid, p.ParticipantLeft(cid, old, "agent"), invalidate=True)
    conn.send(p.Done("transfer", cid))


async def invite(chat: Chat, conn: Connection, cid: int, agent_id: int) -> None:
    info = await _open_conv(chat, conn, cid)
    name = await _check_target_agent(chat, conn, info, agent_id)
    if agent_id == info.assignee_id:
        raise CommandError("conflict", "already in the conversation")
    await _add_participant(chat, cid, agent_id)
    chat.hub.publish_grant(agent_id, cid, Part.COCHAT)
    chat.hub.publish_event(cid, p.ParticipantJoined(cid, name, "agent"), AUDIENCE_ALL)
    conn.send(p.Done("invite", cid))


async def _add_participant(chat: Chat, cid: int, agent_id: int) -> None:
    async with chat.sm() as s:
        row = await s.get(Participant, (cid, agent_id))
        if row is None:
            s.add(Participant(conversation_id=cid, agent_id=agent_id, role="cochat",
                              created_at=utcnow()))
        else:
            row.role = "cochat"
        await s.commit()


async def join(chat: Chat, conn: Connection, cid: int) -> None:
    me, name = _me(conn)
    info = await _open_conv(chat, conn, cid)
    if conn.session.role is not Role.SUPERVISOR:
        raise CommandError("forbidden", "agents join by invitation")
    await _add_participant(chat, cid, me)
    chat.hub.publish_grant(me, cid, Part.JOINED)
    chat.hub.publish_event(cid, p.ParticipantJoined(cid, name, "supervisor"), AUDIENCE_ALL)
    conn.send(p.Done("join", info.id))


async def leave(chat: Chat, conn: Connection, cid: int) -> None:
    me, name = _me(conn)
    async with chat.sm() as s:
        await s.execute(delete(Participant).where(Participant.conversation_id == cid,
                                                  Participant.agent_id == me))
        await s.commit()
    chat.hub.publish_grant(me, cid, None)
    role = "supervisor" if conn.session.role is Role.SUPERVISOR else "agent"
    chat.hub.publish_event(cid, p.ParticipantLeft(cid, name, role), AUDIENCE_ALL)
    conn.send(p.Done("leave", cid))


async def live_board(chat: Chat, conn: Connection) -> p.Live:
    query = (
        select(Conversation, Agent.display_name)
        .outerjoin(Agent, Agent.id == Conversation.assignee_id)
        .where(Conversation.channel == "chat", Conversation.status.in_(records.OPEN_STATUSES))
        .order_by(Conversation.created_at)
        .limit(LIVE_MAX)
    )
    if not conn.is_admin:
        query = query.where(Conversation.group_id.in_(sorted(conn.groups)))
    async with chat.sm() as s:
        rows = (await s.execute(query)).all()
    now = utcnow()
    out = []
    for conv, agent_name in rows:
        created = conv.created_at if conv.created_at.tzinfo else conv.created_at.replace(
            tzinfo=now.tzinfo)
        out.append(p.LiveConversation(conv.id, conv.number, conv.status, conv.group_id,
                                      agent_name, int((now - created).total_seconds())))
    return p.Live(tuple(out))
