"""Team messaging, the records' side: direct threads and rooms between agents, their messages.

Who may talk to whom is ONE rule, ``colleagues``: the active agents of the caller's groups (an
admin: every active agent), the same people the staff API lists. A direct thread is made once
per pair (``dm_key``); a room has a name (plain text, shown as text) and members chosen among
the creator's colleagues. Only members read or write a thread (``member``): others get the
same ``NotFound`` whether it exists or not. Messages take their ``seq`` from ``desk.seq``; a
repeated ``client_id`` is stored once and answered with the first seq.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from desk.auth import Principal
from desk.errors import InvalidInput, NotFound
from desk.models import Agent, AgentGroup, TeamMember, TeamMessage, TeamThread, utcnow
from desk.seq import reserve_thread_seq

ROOM_NAME_MAX = 80
REPLAY_MAX = 500
_UNSHOWN = re.compile("[\x00-\x1f\x7f\u200e\u200f\u202a-\u202e\u2066-\u2069]")


@dataclass(frozen=True, slots=True)
class ThreadView:
    id: int
    kind: str
    name: str
    last_seq: int
    unread: int
    members: tuple[int, ...]


async def colleagues(s: AsyncSession, p: Principal, ids: Iterable[int]) -> dict[int, str]:
    """Those of ``ids`` the principal may message (id -> name)."""
    wanted = sorted(set(ids))
    if not wanted:
        return {}
    q = select(Agent.id, Agent.display_name).where(Agent.id.in_(wanted), Agent.is_active)
    if not p.is_admin:
        q = q.where(Agent.id.in_(select(AgentGroup.agent_id)
                                 .where(AgentGroup.group_id.in_(sorted(p.group_ids)))))
    return {i: n for i, n in (await s.execute(q)).all()}


async def member(s: AsyncSession, thread_id: int, agent_id: int) -> TeamMember:
    row = await s.get(TeamMember, (thread_id, agent_id))
    if row is None:
        raise NotFound("no such thread")
    return row


async def members(s: AsyncSession, thread_id: int) -> list[int]:
    return list((await s.execute(select(TeamMember.agent_id).where(
        TeamMember.thread_id == thread_id).order_by(TeamMember.agent_id))).scalars())


def room_name(raw: str) -> str:
    name = " ".join(_UNSHOWN.sub("", raw).split())
    if not 0 < len(name) <= ROOM_NAME_MAX:
        raise InvalidInput(f"a room name is 1 to {ROOM_NAME_MAX} characters")
    return name


async def open_dm(s: AsyncSession, p: Principal, other_id: int) -> TeamThread:
    if other_id == p.agent_id or not await colleagues(s, p, [other_id]):
        raise NotFound("not a colleague of yours")
    low, high = sorted((p.agent_id, other_id))
    key = f"{low}:{high}"
    by_key = select(TeamThread).where(TeamThread.dm_key == key)
    found = (await s.execute(by_key)).scalar_one_or_none()
    if found is not None:
        return found
    thread = TeamThread(kind="dm", dm_key=key, created_by=p.agent_id)
    try:
        async with s.begin_nested():
            s.add(thread)
            await s.flush()
            s.add_all([TeamMember(thread_id=thread.id, agent_id=a) for a in (low, high)])
            await s.flush()
    except IntegrityError:  # the other one opened it at the same moment
        return (await s.execute(by_key)).scalar_one()
    return thread


async def create_room(s: AsyncSession, p: Principal, name: str,
                      member_ids: Sequence[int]) -> TeamThread:
    clean = room_name(name)
    others = set(member_ids) - {p.agent_id}
    allowed = await colleagues(s, p, others)
    if len(allowed) != len(others):
        raise InvalidInput("members must be active colleagues of your groups")
    thread = TeamThread(kind="room", name=clean, created_by=p.agent_id)
    s.add(thread)
    await s.flush()
    s.add_all([TeamMember(thread_id=thread.id, agent_id=a) for a in {p.agent_id, *others}])
    await s.flush()
    return thread


async def threads(s: AsyncSession, agent_id: int,
                  only: Iterable[int] | None = None) -> list[ThreadView]:
    """The agent's threads (newest activity first), each with unread count and members."""
    q = (select(TeamThread, TeamMember.last_read_seq)
         .join(TeamMember, TeamMember.thread_id == TeamThread.id)
         .where(TeamMember.agent_id == agent_id)
         .order_by(TeamThread.updated_at.desc(), TeamThread.id.desc()).limit(200))
    if only is not None:
        q = q.where(TeamThread.id.in_(sorted(set(only))))
    rows = (await s.execute(q)).all()
    ids = [t.id for t, _ in rows]
    people: dict[int, list[int]] = {i: [] for i in ids}
    for tid, aid in (await s.execute(select(TeamMember.thread_id, TeamMember.agent_id)
                                     .where(TeamMember.thread_id.in_(ids)))).all():
        people[tid].append(aid)
    names = dict((await s.execute(select(Agent.id, Agent.display_name).where(
        Agent.id.in_({a for m in people.values() for a in m})))).all())
    out = []
    for t, read in rows:
        name = t.name or ", ".join(names.get(a, "?") for a in sorted(people[t.id])
                                   if a != agent_id) or "Me"
        out.append(ThreadView(t.id, t.kind, name, t.last_seq, max(0, t.last_seq - read),
                              tuple(sorted(people[t.id]))))
    return out


async def post(s: AsyncSession, thread_id: int, author: Principal, text: str,
               client_id: str) -> tuple[TeamMessage, bool]:
    """Store a message (False: this client_id was stored before; that message is returned)."""
    await member(s, thread_id, author.agent_id)
    earlier = (await s.execute(select(TeamMessage).where(
        TeamMessage.thread_id == thread_id, TeamMessage.client_id == client_id)
    )).scalar_one_or_none()
    if earlier is not None:
        return earlier, False
    seq = await reserve_thread_seq(s, thread_id)
    msg = TeamMessage(thread_id=thread_id, seq=seq, author_id=author.agent_id,
                      author_name=author.display_name, text=text, client_id=client_id,
                      created_at=utcnow())
    s.add(msg)
    await s.flush()
    row = await s.get(TeamMember, (thread_id, author.agent_id))
    if row is not None:
        row.last_read_seq = max(row.last_read_seq, seq)  # my own message is read
    return msg, True


async def after(s: AsyncSession, thread_id: int, agent_id: int,
                after_seq: int) -> tuple[list[TeamMessage], bool]:
    """Messages with seq > after_seq, oldest first, at most REPLAY_MAX (True: more remain)."""
    await member(s, thread_id, agent_id)
    rows = list((await s.execute(select(TeamMessage).where(
        TeamMessage.thread_id == thread_id, TeamMessage.seq > after_seq)
        .order_by(TeamMessage.seq).limit(REPLAY_MAX + 1))).scalars())
    return rows[:REPLAY_MAX], len(rows) > REPLAY_MAX


async def mark_read(s: AsyncSession, thread_id: int, agent_id: int, seq: int) -> None:
    row = await member(s, thread_id, agent_id)
    last = (await s.execute(select(func.coalesce(TeamThread.last_seq, 0)).where(
        TeamThread.id == thread_id))).scalar_one()
    row.last_read_seq = max(row.last_read_seq, min(seq, int(last)))
