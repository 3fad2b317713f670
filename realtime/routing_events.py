"""Router events (``routing.events`` on ``keys.events_channel``) as frames for local sockets.

Every web process receives every router event through the hub's one subscription and acts only
for the sockets it holds, so nothing here is re-published. Events are handled one at a time in
arrival order (an offer and its expiry must not swap), on a task of their own so the hub's
listener never waits on the records.

Who gets what (each push checked against the socket's current rights):

- ``offer`` -> the agent's console sockets, if the agent is still in that group: ``offer``
- ``offer_expired`` -> the agent's sockets: ``offer_revoked``
- ``assigned`` -> the agent's sockets get a chat (history replayed; a ticket only reaches the
  socket that accepted it); everyone in the conversation: ``assigned`` with the agent's name
- ``requeued`` -> the previous holder's sockets lose it; the conversation: ``participant_left``
- ``queued`` / ``queue`` -> the visitor's sockets: ``queued`` with position and wait, sent only
  when the position changed
- ``released`` -> staff sockets of its group: ``released`` (queue and live lists drop it)
- ``rebuilt`` -> a new epoch: every client reloads
- ``agent_notified`` -> the agent's staff sockets that may see the conversation:
  ``notification`` (an automation rule's notice)
- any of them -> this process's supervisor sockets get a fresh ``board`` shortly after
  (``presence.BoardPush``)
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from dataclasses import replace

from redis.exceptions import RedisError

from desk.background import stop_tasks
from realtime import presence, records
from realtime import protocol as p
from realtime.connection import Connection
from realtime.context import Context
from realtime.session import Part, Role
from routing import events as ev

log = logging.getLogger("switchboard.realtime")

# Rule notices remembered as shown, per process: far more than a worker redoes after a crash
# (the ones it had published but not yet marked done).
NOTICES_SEEN = 4096


class Recent:
    """The last ``size`` ids seen, oldest forgotten first."""

    def __init__(self, size: int) -> None:
        self.size = size
        self._seen: dict[int, None] = {}  # insertion-ordered

    def __contains__(self, key: int) -> bool:
        return key in self._seen

    def see(self, key: int) -> None:
        self._seen[key] = None
        if len(self._seen) > self.size:
            del self._seen[next(iter(self._seen))]


def _eta(seconds: float | None) -> int | None:
    return None if seconds is None else math.ceil(seconds)


def moved(info: records.ConvInfo, event: ev.Event) -> records.ConvInfo:
    """The cached facts of a conversation after a router event about it, as the router wrote
    them to the records with that event (``routing.router``): a burst of assignments keeps
    every chat's facts cached, so the next message of each needs no read."""
    match event:
        case ev.Offer(_, group_id, _, _):
            return replace(info, status="offered", assignee_id=None, group_id=group_id)
        case ev.Assigned(_, group_id, agent_id, _):
            return replace(info, status="active", assignee_id=agent_id, group_id=group_id)
        case ev.OfferExpired():
            return replace(info, status="queued", assignee_id=None)
        case ev.Requeued(_, group_id, _, _) | ev.Queued(_, group_id, _, _):
            return replace(info, status="queued", assignee_id=None, group_id=group_id)
        case ev.Released(_, _, status):
            return replace(info, status=status)
    return info


class RouterEvents:
    def __init__(self, ctx: Context, boards: presence.BoardPush) -> None:
        self.ctx = ctx
        self.hub = ctx.hub
        self._inbox: asyncio.Queue[bytes] = asyncio.Queue()
        self._task: asyncio.Task[None] | None = None
        self._positions: dict[int, int] = {}  # conversation -> last position sent from here
        self._notices = Recent(NOTICES_SEEN)  # notices shown: one published again is not
        self.boards = boards

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._run(), name="router-events")

    async def stop(self) -> None:
        await stop_tasks([self._task])

    def feed(self, raw: bytes) -> None:
        self._inbox.put_nowait(raw)

    async def _run(self) -> None:
        while True:
            raw = await self._inbox.get()
            try:
                await self.handle(ev.parse(raw))
            except ValueError as exc:
                log.warning("bad router event %r: %s", raw[:200], exc)
            except Exception:
                log.exception("router event %r failed", raw[:200])

    # --- helpers ---------------------------------------------------------------------------

    def _owners(self, cid: int) -> list[Connection]:
        return [c for c in self.hub.by_conv.get(cid, ()) if c.session.parts.get(cid) is Part.OWNER]

    def queued(self, cid: int, position: int, eta_s: int | None, *, force: bool = False) -> None:
        """Tell the visitor's sockets here where they stand (if it changed, unless ``force``)."""
        if not force and self._positions.get(cid) == position:
            return
        owners = self._owners(cid)
        if not owners:
            return
        self._positions[cid] = position
        frame = p.serialize_text(p.Queued(cid, position, eta_s))
        for conn in owners:
            conn.push(frame)

    async def tell_position(self, cid: int) -> None:
        """Where a waiting chat stands now (a visitor reconnected, or it went back to a queue)."""
        try:
            position, eta = await self.ctx.router.queue_position(cid)
        except (RedisError, OSError):
            return
        # Position 0: an agent is being offered it right now, so it is next.
        self.queued(cid, max(position, 1), _eta(eta), force=True)

    # --- events ----------------------------------------------------------------------------

    async def handle(self, event: ev.Event) -> None:
        cid = getattr(event, "conversation_id", None)
        if cid is not None:
            cached = self.ctx.convs.get(cid)
            if cached is not None:
                self.ctx.convs[cid] = moved(cached, event)
        self.boards.soon()
        match event:
            case ev.Offer(cid, group_id, agent_id, expires_at_ms):
                await self._offer(cid, group_id, agent_id, expires_at_ms)
            case ev.OfferExpired(cid, agent_id, _):
                frame = p.serialize_text(p.OfferRevoked(cid))
                for conn in self.hub.agent_conns(agent_id):
                    conn.push(frame)
            case ev.Assigned(cid, _, agent_id, _):
                await self._assigned(cid, agent_id)
            case ev.Requeued(cid, _, agent_id, reason):
                await self._requeued(cid, agent_id, reason)
            case ev.Queued(cid, _, position, eta_s):
                self.queued(cid, position, _eta(eta_s))
            case ev.QueueChanged(_, ids, eta_each):
                for i, queued_id in enumerate(ids):
                    if queued_id in self.hub.by_conv:
                        self.queued(queued_id, i + 1,
                                    None if eta_each is None else _eta(eta_each * (i + 1)))
            case ev.Released(cid, _, status):
                self._positions.pop(cid, None)
                await self._released(cid, status)
            case ev.Rebuilt(epoch):
                self.hub.epoch_seen(epoch)
            case ev.AgentNotified(agent_id, cid, number, text, rule_id, notice_id):
                if notice_id not in self._notices:
                    self._notices.see(notice_id)
                    await self._notified(agent_id, cid, number, text, rule_id, notice_id)
            case ev.TaskReminded(agent_id, task_id, title, due_at, reminded_at):
                frame = p.serialize_text(p.TaskReminder(task_id, title, due_at, reminded_at))
                for conn in self.hub.agent_conns(agent_id):
                    if conn.session.role is not Role.VISITOR and not conn.closed:
                        conn.push(frame)

    async def _offer(self, cid: int, group_id: int, agent_id: int, expires_at_ms: int) -> None:
        conns = [c for c in self.hub.agent_conns(agent_id)
                 if c.session.role is Role.AGENT and not c.closed
                 and c.can_access(group_id)]
        if not conns:
            return  # no console here; the offer lapses to the next agent if nobody answers
        held = await self.ctx.router.live(cid)
        info = await self.ctx.conv(cid)
        if held is None or held.state != "offered" or held.agent_id != agent_id or info is None:
            return  # already taken back
        left = max(0.0, round(expires_at_ms / 1000 - time.time(), 1))
        frame = p.serialize_text(p.Offer(cid, info.number, info.topic, left, info.channel))
        for conn in conns:
            conn.push(frame)

    async def _released(self, cid: int, status: str) -> None:
        """Every staff socket here that may see it drops it from its queue and live lists
        (the router wrote the status before the event, so the read is the new one)."""
        staff = [c for conns in self.hub.by_agent.values() for c in conns
                 if c.session.role in (Role.AGENT, Role.SUPERVISOR) and not c.closed]
        if not staff:
            return
        info = await self.ctx.conv(cid)
        if info is None:
            return
        frame = p.serialize_text(p.Released(cid, status))
        for conn in staff:
            if conn.can_access(info.group_id):
                conn.push(frame)

    async def _notified(self, agent_id: int, cid: int, number: str, text: str,
                        rule_id: int, notice_id: int) -> None:
        """A rule's notice, to the agent's consoles that may see the conversation."""
        conns = [c for c in self.hub.agent_conns(agent_id)
                 if c.session.role is not Role.VISITOR and not c.closed]
        info = await self.ctx.conv(cid) if conns else None
        if info is None:
            return
        frame = p.serialize_text(p.Notification(cid, number, text, rule_id, notice_id))
        for conn in conns:
            if conn.can_access(info.group_id):
                conn.push(frame)

    async def _assigned(self, cid: int, agent_id: int) -> None:
        held = await self.ctx.router.live(cid)
        if held is None or held.agent_id != agent_id:
            return  # released or moved on meanwhile
        self._positions.pop(cid, None)
        info = await self.ctx.conv(cid)
        # A ticket is worked in the console's ticket view (HTTP), never as a live chat: only
        # the socket that accepted it (``realtime.staff.accept``) takes part in it live.
        if info is not None and info.channel == "chat":
            for conn in self.hub.agent_conns(agent_id):
                if conn.session.parts.get(cid) is not Part.ASSIGNEE:
                    self.hub.attach(conn, cid, Part.ASSIGNEE)
        if cid in self.hub.by_conv:
            name = await records.agent_name(self.ctx.sm, agent_id) or "Agent"
            self._local(cid, p.Assigned(cid, name))

    async def _requeued(self, cid: int, agent_id: int, reason: str) -> None:
        self._positions.pop(cid, None)
        for conn in self.hub.agent_conns(agent_id):
            if conn.session.parts.get(cid) is not Part.ASSIGNEE:
                continue
            if reason == ev.LEFT_GROUP:  # may arrive before the rights re-check does it
                self.hub.remove(conn, cid)
            else:
                self.hub.detach(conn, cid)
        if cid not in self.hub.by_conv:
            return
        if reason != "transferred":  # a transfer says so itself (realtime.staff.transfer)
            name = await records.agent_name(self.ctx.sm, agent_id) or "Agent"
            self._local(cid, p.ParticipantLeft(cid, name, "agent"))
        await self.tell_position(cid)

    def _local(self, cid: int, frame: p.ServerFrame) -> None:
        """To everyone in the conversation on this process (each process does the same)."""
        text = p.serialize_text(frame)
        for conn in self.hub.by_conv.get(cid, ()):
            if conn.session.sees(cid, False):
                conn.push(text)
