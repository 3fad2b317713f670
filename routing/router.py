"""The Router service: the one entry point the hub (realtime) and the poller (ingest) call.

Order of every state change: the Lua script decides atomically in Redis, then the records are
written (decision row + conversation status/assignee), then an event is published. If the
record write fails the Redis step is undone, so nothing is acknowledged that the records lack.
Freed capacity pulls the next queued conversation at once (release, activation, coming online).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable, Iterable, Mapping
from datetime import datetime
from typing import Any

import redis.asyncio as aioredis
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from desk.models import Conversation, utcnow
from desk.settings import Settings
from routing import errors, events, keys, records
from routing.policy import AgentView, Decision, Item, Policy, decide, estimate_wait, rejection
from routing.presence import Presence
from routing.records import AgentConfig, GroupConfig
from routing.store import AgentLive, ConvState, Store

log = logging.getLogger(__name__)

HEAD = 20  # queued items considered per dispatch round
TOP = 3  # ranked candidates handed to the claim script (fall-through on a lost race)
ROUNDS = 100  # dispatch rounds per call before yielding to the next trigger


class Router:
    def __init__(self, settings: Settings, redis: aioredis.Redis,
                 sessionmaker: async_sessionmaker[AsyncSession], *,
                 clock: Callable[[], float] = time.time) -> None:
        self.settings = settings
        self.store = Store(redis)
        self.presence = Presence(redis, settings.presence_ttl_s, settings.presence_grace_s)
        self.sessions = sessionmaker
        self.clock = clock
        self._rebuilding: asyncio.Lock = asyncio.Lock()

    def _now_ms(self) -> int:
        return int(self.clock() * 1000)

    # -- configuration from the records ----------------------------------------------------------

    async def _group(self, group_id: int) -> GroupConfig:
        async with self.sessions() as s:
            cfg = await records.group_config(s, group_id)
        if cfg is None:
            raise errors.UnknownGroup(f"group {group_id} does not exist")
        return cfg

    async def _agents(self, ids: Iterable[int]) -> dict[int, AgentConfig]:
        async with self.sessions() as s:
            return await records.agent_configs(s, ids)

    async def _agent(self, agent_id: int) -> AgentConfig:
        found = (await self._agents([agent_id])).get(agent_id)
        if found is None:
            raise errors.UnknownAgent(f"agent {agent_id} does not exist or is disabled")
        return found

    async def _held(self, conversation_id: int) -> ConvState:
        conv = await self.store.conv(conversation_id)
        if conv is None:
            raise errors.NotQueued(f"conversation {conversation_id} is not being routed")
        return conv

    async def _write(self, conversation_id: int, agent_id: int | None, action: str,
                     reason: str, candidates: dict[str, Any] | None = None,
                     **changes: Any) -> None:
        """One decision row plus the conversation's new status/assignee/group, atomically."""
        async with self.sessions() as s, s.begin():
            conv = await s.get(Conversation, conversation_id)
            if conv is None:
                raise errors.UnknownConversation(f"conversation {conversation_id} not found")
            for name, value in changes.items():
                setattr(conv, name, value)
            records.add_decision(s, conversation_id, agent_id, action, reason, candidates)

    async def _publish(self, *evs: events.Event) -> None:
        for ev in evs:
            await self.store.redis.publish(keys.EVENTS, events.dump(ev))

    # -- queueing --------------------------------------------------------------------------------

    async def enqueue(self, conversation_id: int, group_id: int | None = None,
                      channel: str | None = None, priority: int | None = None,
                      sla_due: datetime | None = None,
                      required_skills: Mapping[str, int] | None = None) -> tuple[int, float | None]:
        """Queue a conversation (values given override the record) and route it now.

        Idempotent: a conversation already being routed is left where it is.
        Returns its (position, eta_seconds); position 0 means it was taken at once.
        """
        async with self.sessions() as s, s.begin():
            conv = await s.get(Conversation, conversation_id)
            if conv is None:
                raise errors.UnknownConversation(f"conversation {conversation_id} not found")
            for name, value in (("group_id", group_id), ("channel", channel),
                                ("priority", priority), ("sla_due", sla_due),
                                ("required_skills", dict(required_skills or {}) or None)):
                if value is not None:
                    setattr(conv, name, value)
            if conv.group_id is None:
                raise errors.UnknownGroup(f"conversation {conversation_id} has no group")
            conv.status, conv.assignee_id = "queued", None
            item = Item(conv.id, conv.group_id, conv.channel, conv.priority,
                        records.epoch_seconds(conv.sla_due),
                        records.epoch_seconds(conv.created_at) or self.clock(),
                        {str(k): int(v) for k, v in (conv.required_skills or {}).items()})
            records.add_decision(s, conv.id, None, "queued", f"entered group {conv.group_id}")
        await self._group(item.group_id)
        status, _ = await self.store.enqueue(item)
        if status == "no_epoch":
            await self.rebuild()  # the records already say queued: the rebuild queues it
        await self._dispatch(item.group_id)
        position, eta = await self.queue_position(conversation_id)
        if position:
            await self._publish(events.Queued(conversation_id, item.group_id, position, eta))
        return position, eta

    async def queue_position(self, conversation_id: int) -> tuple[int, float | None]:
        found = await self.store.position(conversation_id)
        if found is None:
            return 0, 0.0
        position, group_id = found
        recent = await self.store.throughput(group_id)
        return position, estimate_wait(position, recent, self.clock())

    async def _publish_queue(self, group_id: int) -> None:
        ids = await self.store.queue_ids(group_id)
        recent = await self.store.throughput(group_id)
        await self._publish(events.QueueChanged(group_id, ids,
                                                estimate_wait(1, recent, self.clock())))

    # -- dispatch --------------------------------------------------------------------------------

    def _views(self, live: Mapping[int, AgentLive],
               cfgs: Mapping[int, AgentConfig]) -> dict[int, AgentView]:
        return {a: AgentView(a, s.online, s.active, s.chats, s.tickets, s.max_chats,
                             s.max_tickets, cfgs[a].skills if a in cfgs else {})
                for a, s in live.items()}

    async def _dispatch(self, group_id: int) -> int:
        """Assign/offer queued conversations of the group while someone can take them."""
        cfg = await self._group(group_id)
        assigned = 0
        if cfg.policy is not Policy.MANUAL:
            cfgs = await self._agents(cfg.members)
            for _ in range(ROUNDS):
                progressed, stop = await self._dispatch_round(cfg, cfgs)
                assigned += progressed
                if stop:
                    break
        await self._publish_queue(group_id)
        return assigned

    async def _dispatch_round(self, cfg: GroupConfig,
                              cfgs: Mapping[int, AgentConfig]) -> tuple[int, bool]:
        """One snapshot, then claims down the queue head. Returns (claims, nothing more to do)."""
        snap = await self.store.snapshot(cfg.group_id, cfg.members, HEAD)
        views = self._views(snap.agents, cfgs)
        cursor = snap.cursor
        done = 0
        for item in snap.items:
            decision = decide(cfg.policy, item, list(views.values()), cursor)
            if decision.agent_id is None:
                continue  # e.g. needs a skill nobody free has: later items may still go
            deadline = (self._now_ms() + cfg.offer_timeout_s * 1000
                        if cfg.offer_timeout_s > 0 else None)
            expect = ("-" if cursor is None else str(cursor)) \
                if cfg.policy is Policy.ROUND_ROBIN else ""
            res = await self.store.claim(item.conversation_id, cfg.group_id,
                                         decision.ranking[:TOP], offer_deadline_ms=deadline,
                                         now_ms=self._now_ms(), expect_cursor=expect)
            if res.status == "no_epoch":
                await self.rebuild()
                return done, False
            if res.agent_id is None:
                return done, False  # the world moved under the snapshot: look again
            await self._record_claim(decision.with_winner(res.agent_id), deadline, res.skipped)
            done += 1
            cursor = res.agent_id
            v = views[res.agent_id]
            views[res.agent_id] = AgentView(
                v.agent_id, v.online, v.active, v.chats + (item.kind == "chat"),
                v.tickets + (item.kind != "chat"), v.max_chats, v.max_tickets, v.skills)
        return done, done == 0

    async def _record_claim(self, decision: Decision, deadline_ms: int | None,
                            skipped: Mapping[int, str], via: str = "auto") -> None:
        agent = decision.agent_id
        assert agent is not None
        cands = decision.to_record()
        if skipped:
            cands["lost_races"] = {str(a): why for a, why in skipped.items()}
        c = decision.conversation_id
        try:
            if deadline_ms is None:
                await self._write(c, agent, "assigned" if via == "auto" else via,
                                  decision.reason, cands, status="active", assignee_id=agent)
            else:
                await self._write(c, agent, "offered", decision.reason, cands,
                                  status="offered", assignee_id=None)
        except Exception:
            conv = await self.store.conv(c)
            if conv is not None:
                await self.store.requeue(conv, agent, conv.group_id, front=conv.item().front,
                                         only_if_offline=False, exclude=False)
            raise
        if deadline_ms is None:
            await self._publish(events.Assigned(c, decision.group_id, agent, via))
        else:
            await self._publish(events.Offer(c, decision.group_id, agent, deadline_ms))

    async def _pull(self, agent_id: int) -> None:
        """Freed or new capacity: serve the agent's active groups' queues now."""
        for group_id in sorted(await self.store.active_groups(agent_id)):
            with contextlib.suppress(errors.UnknownGroup):
                await self._dispatch(group_id)

    # -- agents ----------------------------------------------------------------------------------

    async def heartbeat(self, agent_id: int) -> None:
        cfg = await self._agent(agent_id)
        if await self.presence.beat(agent_id, self._now_ms(), cfg.max_chats, cfg.max_tickets):
            await self._pull(agent_id)

    async def set_active_groups(self, agent_id: int, group_ids: Iterable[int]) -> None:
        cfg = await self._agent(agent_id)
        wanted = set(group_ids)
        if not wanted <= cfg.groups:
            raise errors.NotEligible(f"agent {agent_id} is not a member of "
                                     f"{sorted(wanted - cfg.groups)}")
        async with self.sessions() as s, s.begin():
            await records.set_active(s, agent_id, wanted, True)
            await records.set_active(s, agent_id, cfg.groups - wanted, False)
        before = await self.store.active_groups(agent_id)
        await self.store.set_active(agent_id, wanted, cfg.groups - wanted)
        for g in sorted(wanted - before):
            await self._dispatch(g)

    async def set_group_active(self, agent_id: int, group_id: int, active: bool) -> None:
        current = await self.store.active_groups(agent_id)
        await self.set_active_groups(
            agent_id, current | {group_id} if active else current - {group_id})

    async def go_offline(self, agent_id: int) -> None:
        """The agent signed off: offers go back, chats are re-queued at the front at once."""
        await self.presence.leave(agent_id)
        await self._take_back(agent_id, "agent_offline", only_if_offline=True)
        await self.presence.forget(agent_id)

    async def _take_back(self, agent_id: int, reason: str, *, only_if_offline: bool) -> None:
        groups: set[int] = set()
        for c in sorted(await self.store.agent_convs(agent_id)):
            conv = await self.store.conv(c)
            if conv is None or conv.agent_id != agent_id:
                continue
            if conv.state == "assigned" and conv.kind != "chat":
                continue  # tickets wait for their agent; chats have a visitor waiting now
            front = conv.state == "assigned"
            status = await self.store.requeue(conv, agent_id, conv.group_id, front=front,
                                              only_if_offline=only_if_offline, exclude=False)
            if status != "ok":
                continue
            why = ("agent went offline" if reason == "agent_offline" else
                   "agent's heartbeat lapsed past the grace period")
            action = "requeued" if front else "offer_withdrawn"
            await self._write(c, agent_id, action, f"{why}; back to the "
                              f"{'front of the ' if front else ''}queue",
                              status="queued", assignee_id=None)
            if front:
                await self._publish(events.Requeued(c, conv.group_id, agent_id, reason))
            else:
                await self._publish(events.OfferExpired(c, agent_id, "offline"))
            groups.add(conv.group_id)
        for g in sorted(groups):
            await self._dispatch(g)

    # -- offers and picks ------------------------------------------------------------------------

    async def accept(self, agent_id: int, conversation_id: int) -> None:
        conv = await self._held(conversation_id)
        if await self.store.accept(conversation_id, agent_id) != "ok":
            raise errors.NotOffered(f"conversation {conversation_id} is not offered to "
                                    f"agent {agent_id}")
        await self._write(conversation_id, agent_id, "accepted", "offer accepted",
                          status="active", assignee_id=agent_id)
        await self._publish(events.Assigned(conversation_id, conv.group_id, agent_id,
                                            "accepted"))

    async def decline(self, agent_id: int, conversation_id: int) -> None:
        conv = await self._held(conversation_id)
        if await self.store.return_offer(conversation_id, agent_id, conv.group_id, None) != "ok":
            raise errors.NotOffered(f"conversation {conversation_id} is not offered to "
                                    f"agent {agent_id}")
        await self._write(conversation_id, agent_id, "declined",
                          "agent declined; they are skipped for it from now on",
                          status="queued", assignee_id=None)
        await self._publish(events.OfferExpired(conversation_id, agent_id, "declined"))
        await self._dispatch(conv.group_id)

    async def cherry_pick(self, agent_id: int, conversation_id: int) -> None:
        """An agent takes a queued conversation of one of their groups, capacity permitting."""
        conv = await self._held(conversation_id)
        cfg = await self._agent(agent_id)
        if conv.group_id not in cfg.groups:
            raise errors.NotEligible(f"agent {agent_id} is not in group {conv.group_id}")
        if conv.state != "queued":
            raise errors.NotQueued(f"conversation {conversation_id} is already taken")
        snap = await self.store.snapshot(conv.group_id, [agent_id], 0)
        view = self._views(snap.agents, {agent_id: cfg})[agent_id]
        res = await self.store.claim(conversation_id, conv.group_id, [agent_id],
                                     offer_deadline_ms=None, now_ms=self._now_ms(), checks="")
        if res.status == "not_queued":
            raise errors.NotQueued(f"conversation {conversation_id} is already taken")
        if res.agent_id is None:
            raise errors.NotEligible(f"agent {agent_id} cannot take it: "
                                     f"{res.skipped.get(agent_id, res.status)}")
        decision = decide(Policy.MANUAL, conv.item(), [view], snap.cursor)
        await self._record_claim(decision.with_winner(
            agent_id, f"picked from the queue by agent {agent_id}"), None, {}, via="picked")
        await self._publish_queue(conv.group_id)

    # -- release and transfer --------------------------------------------------------------------

    async def release(self, conversation_id: int, status: str = "closed") -> None:
        """The conversation stops occupying routing (closed, resolved, pending, abandoned)."""
        for _ in range(10):  # 'moved': it changed hands between our read and the script
            conv = await self.store.conv(conversation_id)
            if conv is None or await self.store.release(conv) != "moved":
                break
        else:
            raise errors.RoutingConflict(f"conversation {conversation_id} keeps moving")
        agent = conv.agent_id if conv is not None else None
        extra: dict[str, Any] = {"closed_at": utcnow()} if status in ("closed", "resolved") else {}
        await self._write(conversation_id, agent, "released", f"conversation {status}",
                          status=status, **extra)
        await self._publish(events.Released(conversation_id, agent, status))
        if agent is not None:
            await self._pull(agent)
        elif conv is not None:
            await self._publish_queue(conv.group_id)

    async def transfer(self, conversation_id: int, to_agent_id: int | None = None,
                       to_group_id: int | None = None, by_agent_id: int | None = None,
                       note: str = "") -> None:
        """Move an assigned conversation to an agent (directly) or a group (its queue)."""
        conv = await self._held(conversation_id)
        if conv.state != "assigned" or conv.agent_id is None:
            raise errors.NotHeld(f"conversation {conversation_id} is not assigned")
        old = conv.agent_id
        group_id = to_group_id if to_group_id is not None else conv.group_id
        target = await self._group(group_id)
        by = f" by agent {by_agent_id}" if by_agent_id is not None else ""
        why = f"transferred{by} from agent {old}" + (f": {note}" if note else "")
        if to_agent_id is not None:
            cfg = await self._agent(to_agent_id)
            if to_agent_id not in target.members:
                raise errors.NotEligible(f"agent {to_agent_id} is not in group {group_id}")
            snap = await self.store.snapshot(group_id, [to_agent_id], 0)
            view = self._views(snap.agents, {to_agent_id: cfg})[to_agent_id]
            item = Item(conversation_id, group_id, conv.channel, conv.priority, conv.sla_due,
                        conv.arrival, conv.skills)
            refused = rejection(view, item)
            if refused is not None:
                raise errors.NotEligible(f"agent {to_agent_id}: {refused[0].value} "
                                         f"{refused[1]}".strip())
            status = await self.store.transfer(conversation_id, old, to_agent_id, group_id)
            if status != "ok":
                raise errors.NotEligible(f"agent {to_agent_id}: {status}")
            decision = decide(Policy.MANUAL, item, [view], None).with_winner(to_agent_id, why)
            await self._write(conversation_id, to_agent_id, "transferred", decision.reason,
                              decision.to_record(), assignee_id=to_agent_id, group_id=group_id)
            await self._publish(events.Assigned(conversation_id, group_id, to_agent_id,
                                                "transferred"))
        else:
            status = await self.store.requeue(conv, old, group_id, front=False,
                                              only_if_offline=False, exclude=False)
            if status != "ok":
                raise errors.NotHeld(f"conversation {conversation_id} moved meanwhile")
            await self._write(conversation_id, old, "transferred", why + f" to group {group_id}",
                              status="queued", assignee_id=None, group_id=group_id)
            await self._publish(events.Requeued(conversation_id, group_id, old, "transferred"))
            await self._dispatch(group_id)
        await self._pull(old)

    # -- explanations ----------------------------------------------------------------------------

    async def explain(self, conversation_id: int) -> list[dict[str, Any]]:
        """Every routing decision about the conversation, oldest first, with its evidence."""
        async with self.sessions() as s:
            return await records.decisions(s, conversation_id)

    # -- timers and recovery ---------------------------------------------------------------------

    async def tick(self) -> None:
        """One pass of the timer duties; ``run_timers`` calls it forever."""
        if await self.store.epoch() is None:
            await self.rebuild()
        now = self._now_ms()
        for c in await self.store.due_offers(now):
            conv = await self.store.conv(c)
            if conv is None or conv.agent_id is None:
                continue
            if await self.store.return_offer(c, conv.agent_id, conv.group_id, now) != "ok":
                continue
            await self._write(c, conv.agent_id, "offer_expired",
                              "offer not accepted in time; this agent is skipped for it",
                              status="queued", assignee_id=None)
            await self._publish(events.OfferExpired(c, conv.agent_id, "timeout"))
            await self._dispatch(conv.group_id)
        for agent_id in await self.presence.lapsed(now):
            await self._take_back(agent_id, "agent_lost", only_if_offline=True)
            await self.presence.forget(agent_id)

    async def run_timers(self, interval_s: float = 0.5) -> None:
        while True:
            try:
                await self.tick()
            except Exception:  # a bad pass must not stop offer expiry for everyone
                log.exception("routing timer pass failed")
            await asyncio.sleep(interval_s)

    async def rebuild(self, wait_s: float = 10.0) -> str:
        """Rebuild queues, loads, offers and toggles from the records (after a flush/restart)."""
        async with self._rebuilding:
            epoch = await self.store.epoch()
            if epoch is not None:
                return epoch
            deadline = time.monotonic() + wait_s
            while await self.store.lock_rebuild(int(wait_s * 1000)) is None:
                # Another process is rebuilding: wait for its epoch.
                if (epoch := await self.store.epoch()) is not None:
                    return epoch
                if time.monotonic() > deadline:
                    raise errors.RoutingUnavailable("routing state is being rebuilt")
                await asyncio.sleep(0.05)
            try:
                # Another process may have rebuilt between our first look and taking the lock.
                if (epoch := await self.store.epoch()) is not None:
                    return epoch
                async with self.sessions() as s:
                    state = await records.restored_state(s, self.clock())
                epoch = await self.store.restore(state, self._now_ms())
            finally:
                await self.store.unlock_rebuild()
        log.info("routing state rebuilt from the records: %d conversations, epoch %s",
                 len(state.convs), epoch)
        await self._publish(events.Rebuilt(epoch))
        for g in sorted({c.group_id for c, _ in state.convs if c.state == "queued"}):
            await self._dispatch(g)
        return epoch

