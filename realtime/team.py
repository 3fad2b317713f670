"""Team messaging over the agent socket: direct threads and rooms (records in ``desk.team``).

Same guarantee as a chat's messages: a message is stored with its thread ``seq`` before the
sender gets ``team_ack`` (a repeated ``client_id`` gets the first seq, ``duplicate``), then
published to every member's sockets on every process (``ToAgent``). A console keeps the last
seq per thread and, after any reconnect (or on seeing a seq past the next one), sends
``team_resume``: the records replay what came after, so nothing is lost; it drops seqs it holds.
"""

from __future__ import annotations

from datetime import UTC

from sqlalchemy.ext.asyncio import AsyncSession

from desk import team
from desk.errors import InvalidInput, NotFound
from desk.models import TeamMessage
from realtime import protocol_im as im
from realtime.connection import Connection
from realtime.context import Context
from realtime.errors import CommandError


def _out(m: TeamMessage) -> im.TeamMessageOut:
    at = m.created_at if m.created_at.tzinfo else m.created_at.replace(tzinfo=UTC)
    return im.TeamMessageOut(m.thread_id, m.seq, m.author_id or 0, m.author_name, m.text,
                             m.client_id, at.isoformat().replace("+00:00", "Z"))


def _view(t: team.ThreadView) -> im.TeamThread:
    return im.TeamThread(t.id, t.kind, t.name, t.last_seq, t.unread, t.members)


async def execute(ctx: Context, conn: Connection, frame: object) -> None:
    principal = conn.principal
    if principal is None:
        raise CommandError("forbidden", "staff only")
    try:
        async with ctx.sm() as s:
            match frame:
                case im.TeamList():
                    views = await team.threads(s, principal.agent_id)
                    conn.send(im.TeamThreads(tuple(_view(v) for v in views), full=True))
                case im.TeamOpenDm(agent_id):
                    thread = await team.open_dm(s, principal, agent_id)
                    await s.commit()
                    await _announce(ctx, s, thread.id)
                case im.TeamCreateRoom(name, member_ids):
                    thread = await team.create_room(s, principal, name, member_ids)
                    await s.commit()
                    await _announce(ctx, s, thread.id)
                case im.TeamSend(thread_id, client_id, text):
                    msg, created = await team.post(s, thread_id, principal, text, client_id)
                    out, people = _out(msg), await team.members(s, thread_id)
                    await s.commit()
                    conn.send(im.TeamAck(thread_id, client_id, msg.seq, duplicate=not created))
                    if created:
                        for agent_id in people:
                            ctx.hub.publish_to_agent(agent_id, out)
                case im.TeamResume(thread_id, after_seq):
                    more = True
                    while more:
                        rows, more = await team.after(s, thread_id, principal.agent_id,
                                                      after_seq)
                        for m in rows:
                            conn.send(_out(m))
                            after_seq = m.seq
                case im.TeamRead(thread_id, seq):
                    await team.mark_read(s, thread_id, principal.agent_id, seq)
                    await s.commit()
    except NotFound as exc:
        raise CommandError("not_found", exc.message) from None
    except InvalidInput as exc:
        raise CommandError("bad_field", exc.message) from None


async def _announce(ctx: Context, s: AsyncSession, thread_id: int) -> None:
    """Tell every member of a new (or reopened) thread about it, each with their own view."""
    for agent_id in await team.members(s, thread_id):
        views = await team.threads(s, agent_id, only=[thread_id])
        ctx.hub.publish_to_agent(agent_id, im.TeamThreads(tuple(_view(v) for v in views)))
