"""The Router service: the one entry point the hub (realtime) and the poller (ingest) call.

Order of every state change: the Lua script decides atomically in Redis, then the records are
written (decision row + conversation status/assignee), then an event is published. If the
record write fails the Redis step is undone, so nothing is acknowledged that the records lack.
Freed capacity pulls the next queued conversation at once (release, activation, coming online).
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

import redis.asyncio as aioredis
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from desk import audit, automation_store, facts, sla_store
from desk.metrics import Metrics
from desk.models import Conversation, utcnow
from desk.settings import Settings
from routing import errors, events, keys, records
from routing.policy import AgentView, Decision, Item, Policy, decide, estimate_wait, rejection
from routing.presence import Presence
from routing.records import AgentConfig, GroupConfig
from routing.store import AgentLive, ClaimRequest, ConvState, GroupSnapshot, Store, db_index

log = logging.getLogger(__name__)

HEAD = 20  # queued items considered per dispatch round
TOP = 3  # ranked candidates handed to the claim script (fall-through on a lost race)
ROUNDS = 100  # dispatch rounds per call before yielding to the next trigger
# Router decisions that are assignments or transfers: each also goes to the audit trail.
AUDITED = frozenset({"accepted", "active", "transferred"})
SWEEP_S = 5.0  # interval of the sweep for conversations queued in the records only


class Router:
    def __init__(self, settings: Settings, redis: aioredis.Redis,
                 sessionmaker: async_sessionmaker[AsyncSession], *,
                 clock: Callable[[], float] = time.time, metrics: Metrics | None = None) -> None:
        self.settings = settings
        self.metrics = metrics  # None: not counted (tests, tools)
        self.store = Store(redis)
        self.events_channel = keys.events_channel(db_index(redis))
        self.presence = Presence(redis, settings.presence_ttl_s, settings.presence_grace_s)
        self.sessions = sessionmaker
        self.clock = clock
        self._rebuilding: asyncio.Lock = asyncio.Lock()
        self._swept_at = float("-inf")
        self._unseen: dict[int, float] = {}  # last sweep: queued in the records only

    def _now_ms(self) -> int:
        return int(self.clock() * 1000)

    # -- configuration from the records ----------------------------------------------------------

    async def _group(self, group_id: int) -> GroupConfig:
        async with self.sessions() as s:
            cfg = await records.group_config(s, group_id)
        if cfg is None:
            raise errors.UnknownGroup(f"group {group_id} does not exist")
        return cfg

    async def _agent(self, agent_id: int) -> AgentConfig:
        async with self.sessions() as s:
            found = (await records.agent_configs(s, [agent_id])).get(agent_id)
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
            now = datetime.fromtimestamp(self.clock(), UTC)
            if "status" in changes:
                await sla_store.status_changed(s, conv, conv.status, changes["status"], now,
                                               why=reason)
            if action in AUDITED:
                audit.record(s, f"routing.{action}", conversation_id, why=reason, at=now,
                             agent_id=agent_id, group_id=changes.get("group_id", conv.group_id))
                await automation_store.note_events(s, conversation_id, ["assigned"], now)
                group = changes.get("group_id", conv.group_id)
                if action == "transferred":
                    facts.transferred(s, conv, agent_id, now, group)
                if changes.get("assignee_id") is not None:
                    await facts.assigned(s, conv, changes["assignee_id"], now, group)
            for name, value in changes.items():
                setattr(conv, name, value)
            records.add_decision(s, conversation_id, agent_id, action, reason, candidates,
                                 at=self.clock())
        self._decided(action)

    def _decided(self, *outcomes: str) -> None:
        """Count committed decisions (desk.metrics), one per decision row."""
        if self.metrics is not None:
            for outcome in outcomes:
                self.metrics.router_decisions.labels(outcome).inc()

    async def _publish(self, *evs: events.Event) -> None:
        await self.store.publish(self.events_channel, [events.dump(ev) for ev in evs])

    # -- queueing --------------------------------------------------------------------------------

    async def enqueue(self, conversation_id: int, group_id: int | None = None,
                      channel: str | None = None, priority: int | None = None,
                      sla_due: datetime | None = None,
                      required_skills: Mapping[str, int] | None = None) -> tuple[int, float | None]:
        """Queue a conversation (values given override the record) and route it now.

        Idempotent: a conversation already being routed is left where it is.
        Returns its (position, eta_seconds); position 0 means it was taken at once.
        """
        overrides = {"group_id": group_id, "channel": channel, "priority": priority,
                     "sla_due": sla_due, "required_skills": dict(required_skills or {}) or None}
        found = await self._enqueue([conversation_id], strict=True, overrides={
            name: value for name, value in overrides.items() if value is not None})
        return found[conversation_id]

    async def enqueue_for(self, conversation_id: int, agent_id: int,
                          group_id: int | None = None) -> bool:
        """Queue a new conversation for one agent (its visitor accepted that agent's invitation)
        and let them take it, as a pick would: True when they have it. When they cannot (at
        capacity, gone offline), it is routed like any other chat."""
        await self._enqueue([conversation_id], strict=True, dispatch=False,
                            overrides={"group_id": group_id} if group_id else None,
                            reason=f"invitation of agent {agent_id} accepted")
        try:
            await self.cherry_pick(agent_id, conversation_id)
            return True
        except errors.RoutingError as exc:
            log.info("invited chat %s routed: %s", conversation_id, exc)
        await self.enqueue(conversation_id)
        return False

    async def enqueue_many(self, conversation_ids: Iterable[int]
                           ) -> dict[int, tuple[int, float | None]]:
        """``enqueue`` for a batch, as the records describe them (the poller's committed tickets).

        One transaction, one Redis round trip to queue them all, each group dispatched once.
        A conversation that no longer exists or has no group is skipped (absent from the result).
        """
        return await self._enqueue(list(dict.fromkeys(conversation_ids)), strict=False)

    async def _enqueue(self, ids: list[int], *, strict: bool,
                       overrides: Mapping[str, Any] | None = None,
                       reason: str = "", dispatch: bool = True
                       ) -> dict[int, tuple[int, float | None]]:
        items: list[Item] = []
        groups: dict[int, GroupConfig] = {}
        async with self.sessions() as s, s.begin():
            convs = await records.conversations(s, ids)
            for cid in ids:
                conv = convs.get(cid)
                if conv is None:
                    if strict:
                        raise errors.UnknownConversation(f"conversation {cid} not found")
                    continue
                if not strict and conv.status != "queued":
                    # The batch (a poller's committed tickets, the sweep's finds) was read as
                    # queued; an agent resolved or took one since: that stands, not "queued".
                    continue
                for name, value in (overrides or {}).items():
                    setattr(conv, name, value)
                cfg = None if conv.group_id is None else (
                    groups.get(conv.group_id) or await records.group_config(s, conv.group_id))
                if cfg is None:
                    problem = errors.UnknownGroup(
                        f"conversation {cid} has no group" if conv.group_id is None
                        else f"group {conv.group_id} does not exist")
                    if strict:
                        raise problem
                    log.warning("conversation %s not routed: %s", cid, problem)
                    continue
                groups[cfg.group_id] = cfg
                conv.status, conv.assignee_id = "queued", None
                items.append(Item(conv.id, cfg.group_id, conv.channel, conv.priority,
                                  records.epoch_seconds(conv.sla_due),
                                  records.epoch_seconds(conv.created_at) or self.clock(),
                                  {str(k): int(v)
                                   for k, v in (conv.required_skills or {}).items()}))
                records.add_decision(s, conv.id, None, "queued",
                                     reason or f"entered group {cfg.group_id}", at=self.clock())
        if not items:
            return {}
        self._decided(*["queued"] * len(items))
        statuses = await self.store.enqueue_many(items)
        if any(status == "no_epoch" for status, _ in statuses):
            await self.rebuild()  # the records already say queued: the rebuild queues them
        recent = {g: await self._dispatch(g, config) if dispatch else await self.store.throughput(g)
                  for g, config in sorted(groups.items())}
        found = await self.store.positions([item.conversation_id for item in items])
        out: dict[int, tuple[int, float | None]] = {}
        queued: list[events.Event] = []
        for item in items:
            c = item.conversation_id
            if c not in found:
                out[c] = (0, 0.0)
                continue
            position, g = found[c]
            if g not in recent:  # moved to another group meanwhile
                recent[g] = await self.store.throughput(g)
            out[c] = (position, estimate_wait(position, recent[g], self.clock()))
            queued.append(events.Queued(c, g, *out[c]))
        await self._publish(*queued)
        return out

    async def queue_position(self, conversation_id: int) -> tuple[int, float | None]:
        found = await self.store.position(conversation_id)
        if found is None:
            return 0, 0.0
        position, group_id = found
        recent = await self.store.throughput(group_id)
        return position, estimate_wait(position, recent, self.clock())

    async def _publish_queue(self, group_id: int) -> list[float]:
        """Announce the group's queue; returns its recent dequeue times (wait estimates)."""
        ids, recent = await self.store.queue_head(group_id)
        await self._publish(events.QueueChanged(group_id, ids,
                                                estimate_wait(1, recent, self.clock())))
        return recent

    # -- dispatch --------------------------------------------------------------------------------

    def _views(self, live: Mapping[int, AgentLive],
               skills: Mapping[int, Mapping[str, int]]) -> dict[int, AgentView]:
        return {a: AgentView(a, s.online, s.active, s.chats, s.tickets, s.max_chats,
                             s.max_tickets, skills.get(a, {}))
                for a, s in live.items()}

    async def _dispatch(self, group_id: int, cfg: GroupConfig | None = None) -> list[float]:
        """Assign/offer queued conversations of the group while someone can take them.

        Returns the group's recent dequeue times, for wait estimates."""
        if cfg is None:
            cfg = await self._group(group_id)
        if cfg.policy is not Policy.MANUAL:
            for _ in range(ROUNDS):
                if await self._dispatch_round(cfg):
                    break
        return await self._publish_queue(group_id)

    async def _dispatch_round(self, cfg: GroupConfig) -> bool:
        """One snapshot, claims for the whole queue head in one pipeline, one record write.

        Each item is ranked as if the earlier ones went to their first choice; the scripts
        still check every claim. Returns True when there is nothing more to do."""
        snap = await self.store.snapshot(cfg.group_id, cfg.members, HEAD)
        views = self._views(snap.agents, cfg.skills)
        cursor = snap.cursor
        now = self._now_ms()
        deadline = now + cfg.offer_timeout_s * 1000 if cfg.offer_timeout_s > 0 else None
        planned: list[tuple[Decision, ClaimRequest]] = []
        for item in snap.items:
            decision = decide(cfg.policy, item, list(views.values()), cursor)
            if decision.agent_id is None:
                continue  # e.g. needs a skill nobody free has: later items may still go
            expect = ("-" if cursor is None else str(cursor)) \
                if cfg.policy is Policy.ROUND_ROBIN else ""
            planned.append((decision, ClaimRequest(item.conversation_id, cfg.group_id,
                                                   tuple(decision.ranking[:TOP]), deadline,
                                                   expect)))
            cursor = decision.agent_id
            v = views[cursor]
            views[cursor] = AgentView(
                v.agent_id, v.online, v.active, v.chats + (item.kind == "chat"),
                v.tickets + (item.kind != "chat"), v.max_chats, v.max_tickets, v.skills)
        if not planned:
            return True
        results = await self.store.claim_many([req for _, req in planned], now)
        await self._record_claims([
            (decision.with_winner(res.agent_id), req.offer_deadline_ms, res.skipped)
            for (decision, req), res in zip(planned, results, strict=True)
            if res.agent_id is not None])
        if any(res.status == "no_epoch" for res in results):
            await self.rebuild()
            return False
        # A claim that went elsewhere than planned (a lost race: the world moved under the
        # snapshot) or a queue longer than the head read: look again.
        return not snap.more and all(res.agent_id == decision.agent_id
                                     for (decision, _), res in zip(planned, results, strict=True))

    async def _record_claims(self, won: Sequence[tuple[Decision, int | None, Mapping[int, str]]],
                             via: str = "auto") -> None:
        """Decision rows and conversation updates of successful claims in one transaction,
        then their events. If the write fails the claims are undone in Redis."""
        if not won:
            return
        evs: list[events.Event] = []
        gone: list[int] = []
        outcomes: list[str] = []
        try:
            async with self.sessions() as s, s.begin():
                convs = await records.conversations(s, [d.conversation_id for d, _, _ in won])
                for decision, deadline_ms, skipped in won:
                    c, agent = decision.conversation_id, decision.agent_id
                    assert agent is not None
                    conv = convs.get(c)
                    if conv is None:
                        gone.append(c)
                        continue
                    cands = decision.to_record()
                    if skipped:
                        cands["lost_races"] = {str(a): why for a, why in skipped.items()}
                    new = "active" if deadline_ms is None else "offered"
                    now = datetime.fromtimestamp(self.clock(), UTC)
                    await sla_store.status_changed(s, conv, conv.status, new, now,
                                                   why=decision.reason)
                    if deadline_ms is None:
                        kind = "assigned"  # the audit action names the decision, as in _write
                        audit.record(s, f"routing.{kind}", c, why=decision.reason, at=now,
                                     agent_id=agent, group_id=decision.group_id, via=via)
                        await automation_store.note_events(s, c, ["assigned"], now)
                        await facts.assigned(s, conv, agent, now, decision.group_id)
                        conv.status, conv.assignee_id = "active", agent
                        records.add_decision(s, c, agent, "assigned" if via == "auto" else via,
                                             decision.reason, cands, at=self.clock())
                        evs.append(events.Assigned(c, decision.group_id, agent, via))
                    else:
                        conv.status, conv.assignee_id = "offered", None
                        records.add_decision(s, c, agent, "offered", decision.reason, cands,
                                             at=self.clock())
                        evs.append(events.Offer(c, decision.group_id, agent, deadline_ms))
                    outcomes.append("offered" if deadline_ms is not None
                                    else "assigned" if via == "auto" else via)
        except Exception:
            for decision, _, _ in won:
                held = await self.store.conv(decision.conversation_id)
                if held is not None and decision.agent_id is not None:
                    await self.store.requeue(held, decision.agent_id, held.group_id,
                                             front=held.item().front, only_if_offline=False,
                                             exclude=False)
            raise
        self._decided(*outcomes)
        for c in gone:  # deleted meanwhile: nothing left to route
            held = await self.store.conv(c)
            if held is not None:
                await self.store.release(held)
        await self._publish(*evs)

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

    async def heartbeat_many(self, agent_ids: Iterable[int]) -> None:
        """``heartbeat`` for every agent a process holds a console of, in one query and one
        Redis pipeline (a periodic beat of hundreds of agents one by one kept a web process
        busy); unknown or disabled agents are skipped."""
        async with self.sessions() as s:
            cfgs = await records.agent_configs(s, agent_ids)
        back = await self.presence.beat_many(
            [(a, c.max_chats, c.max_tickets) for a, c in sorted(cfgs.items())], self._now_ms())
        for agent_id in back:
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

    async def drop_heartbeat(self, agent_id: int) -> None:
        """No new offers to the agent from now on (their last console socket on a process
        closed); the grace period re-queues their chats unless a heartbeat comes back."""
        await self.presence.leave(agent_id)

    async def is_online(self, agent_id: int) -> bool:
        return await self.presence.online(agent_id)

    async def active_groups(self, agent_id: int) -> set[int]:
        return await self.store.active_groups(agent_id)

    async def live(self, conversation_id: int) -> ConvState | None:
        """The conversation's live routing state (None: not being routed)."""
        return await self.store.conv(conversation_id)

    async def queue_view(self, group_id: int, agent_ids: Sequence[int], head: int
                         ) -> tuple[GroupSnapshot, int]:
        """The group's first ``head`` queued items and its agents' loads, and its queue length."""
        return (await self.store.snapshot(group_id, agent_ids, head),
                await self.store.queue_length(group_id))

    async def withdraw(self, agent_id: int, may_keep: Callable[[int], bool]) -> None:
        """The agent may no longer work in some groups (their memberships changed): what they
        hold in a group for which ``may_keep(group_id)`` is false — an offer, a chat, a ticket
        — goes back to that group's queue (chats and tickets at the front)."""
        await self._take_back(agent_id, events.LEFT_GROUP, only_if_offline=False,
                              may_keep=may_keep)

    async def _take_back(self, agent_id: int, reason: str, *, only_if_offline: bool,
                         may_keep: Callable[[int], bool] | None = None) -> None:
        groups: set[int] = set()
        for c in sorted(await self.store.agent_convs(agent_id)):
            conv = await self.store.conv(c)
            if conv is None or conv.agent_id != agent_id:
                continue
            if may_keep is not None and may_keep(conv.group_id):
                continue
            if may_keep is None and conv.state == "assigned" and conv.kind != "chat":
                continue  # tickets wait for their agent; chats have a visitor waiting now
            front = conv.state == "assigned"
            status = await self.store.requeue(conv, agent_id, conv.group_id, front=front,
                                              only_if_offline=only_if_offline, exclude=False)
            if status != "ok":
                continue
            why = {"agent_offline": "agent went offline",
                   events.LEFT_GROUP: "agent is no longer in the group"}.get(
                reason, "agent's heartbeat lapsed past the grace period")
            action = "requeued" if front else "offer_withdrawn"
            await self._write(c, agent_id, action, f"{why}; back to the "
                              f"{'front of the ' if front else ''}queue",
                              status="queued", assignee_id=None)
            if front:
                await self._publish(events.Requeued(c, conv.group_id, agent_id, reason))
            else:
                await self._publish(events.OfferExpired(
                    c, agent_id, events.LEFT_GROUP if may_keep is not None else "offline"))
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

    async def cherry_pick(self, agent_id: int, conversation_id: int,
                          by_agent_id: int | None = None, by: str | None = None) -> None:
        """An agent takes a queued conversation of one of their groups, capacity permitting;
        with ``by_agent_id`` a colleague assigns it to them (``by``: an automation rule
        does, named so), and then the agent must also hold the skills it needs (the colleague
        or rule chose them, not the agent)."""
        conv = await self._held(conversation_id)
        cfg = await self._agent(agent_id)
        if conv.group_id not in cfg.groups:
            raise errors.NotEligible(f"agent {agent_id} is not in group {conv.group_id}")
        if conv.state != "queued":
            raise errors.NotQueued(f"conversation {conversation_id} is already taken")
        snap = await self.store.snapshot(conv.group_id, [agent_id], 0)
        view = self._views(snap.agents, {agent_id: cfg.skills})[agent_id]
        assigned = by is not None or (by_agent_id is not None and by_agent_id != agent_id)
        by = by or f"agent {by_agent_id}"
        if assigned:
            # Being assigned needs no group toggle and overrides a decline, as a pick does.
            refused = rejection(dataclasses.replace(view, active=True), conv.item())
            if refused is not None:
                raise errors.NotEligible(f"agent {agent_id} cannot take it: {refused[0].value}"
                                         f" {refused[1]}".strip())
        res = await self.store.claim(conversation_id, conv.group_id, [agent_id],
                                     offer_deadline_ms=None, now_ms=self._now_ms(), checks="")
        if res.status == "not_queued":
            raise errors.NotQueued(f"conversation {conversation_id} is already taken")
        if res.agent_id is None:
            why = res.skipped.get(agent_id, res.status).replace("_", " ")
            raise errors.NotEligible(f"agent {agent_id} cannot take it: {why}")
        decision = decide(Policy.MANUAL, conv.item(), [view], snap.cursor)
        why = (f"assigned from the queue to agent {agent_id} by {by}" if assigned
               else f"picked from the queue by agent {agent_id}")
        await self._record_claims([(decision.with_winner(agent_id, why), None, {})],
                                  via="picked")
        await self._publish_queue(conv.group_id)

    # -- release and transfer --------------------------------------------------------------------

    async def release(self, conversation_id: int, status: str = "closed") -> None:
        """The conversation stops occupying routing (closed, resolved, pending)."""
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
            view = self._views(snap.agents, {to_agent_id: cfg.skills})[to_agent_id]
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
            if self.metrics is not None:
                self.metrics.offers_expired.inc()
            await self._publish(events.OfferExpired(c, conv.agent_id, "timeout"))
            await self._dispatch(conv.group_id)
        for agent_id in await self.presence.lapsed(now):
            await self._take_back(agent_id, "agent_lost", only_if_offline=True)
            await self.presence.forget(agent_id)
        if self.clock() - self._swept_at >= SWEEP_S:
            await self._sweep()

    async def _sweep(self) -> None:
        """Queue what the records say is queued but Redis never heard of.

        That is a process that died between its record write and the Redis enqueue (the poller
        between committing tickets and routing them, say). Only a conversation seen so on two
        sweeps with its record unchanged, and older than the interval, counts: one being
        enqueued or released right now (record and Redis change a moment apart) is left alone.
        """
        now = self._swept_at = self.clock()
        async with self.sessions() as s:
            stale = {c: at for c, at in (await records.queued(s)).items() if at <= now - SWEEP_S}
        unseen = {c: stale[c] for c in await self.store.missing(list(stale))} if stale else {}
        lost = [c for c, at in unseen.items() if self._unseen.get(c) == at]
        self._unseen = unseen
        if lost:
            log.warning("conversations %s were queued in the records only: routing them", lost)
            await self._enqueue(lost, strict=False,
                                reason="found queued in the records but not in the live state")

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

