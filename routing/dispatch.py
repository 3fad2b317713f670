"""Queueing and dispatch: conversations the records describe go into their group's live queue,
and the queue's head is claimed for agents (offers or assignments), while someone can take them.
Freed capacity pulls the next queued conversation at once (``_pull``); a lost live state is
rebuilt from the records (``rebuild``).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from desk import audit, automation_store, facts, sla_store
from routing import errors, events, records
from routing.core import RouterCore
from routing.policy import AgentView, Decision, Item, Policy, decide, estimate_wait
from routing.records import GroupConfig
from routing.store import ClaimRequest

log = logging.getLogger(__name__)

HEAD = 20  # queued items considered per dispatch round
TOP = 3  # ranked candidates handed to the claim script (fall-through on a lost race)
ROUNDS = 100  # dispatch rounds per call before yielding to the next trigger
# A caller's write in an assignment's transaction (``Router.cherry_pick``).
Then = Callable[[AsyncSession], Awaitable[None]]


class Dispatcher(RouterCore):
    """Queues and the claims for their heads."""

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
                             via: str = "auto", then: Then | None = None) -> None:
        """Decision rows and conversation updates of successful claims in one transaction,
        then their events. If the write fails the claims are undone in Redis. ``then``: the
        caller's own write in that transaction (its record that the claim was done)."""
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
                if then is not None:
                    await then(s)
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

    # -- recovery --------------------------------------------------------------------------------

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

