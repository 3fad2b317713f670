"""The Router service: the one entry point the hub (realtime) and the poller (ingest) call.

Its parts, one concept each, stacked as base classes: ``routing.core`` (configuration from the
records, the decision write, events), ``routing.dispatch`` (queueing, claims for the queue's head,
rebuild), ``routing.staffing`` (presence, active groups, taking work back); here the offers and
picks, release and transfer, explanations and the timers.

Order of every state change: the Lua script decides atomically in Redis, then the records are
written (decision row + conversation status/assignee), then an event is published. If the
record write fails the Redis step is undone, so nothing is acknowledged that the records lack.
Freed capacity pulls the next queued conversation at once (release, activation, coming online).
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
from typing import Any

from desk.models import utcnow
from routing import errors, events, records
from routing.dispatch import Then
from routing.policy import Item, Policy, decide, rejection
from routing.staffing import Staffing

log = logging.getLogger(__name__)

SWEEP_S = 5.0  # interval of the sweep for conversations queued in the records only


class Router(Staffing):
    """The public API (docs/routing.md, "Router API")."""

    # -- offers and picks ------------------------------------------------------------------------

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
                          by_agent_id: int | None = None, by: str | None = None,
                          then: Then | None = None) -> None:
        """An agent takes a queued conversation of one of their groups, capacity permitting;
        with ``by_agent_id`` a colleague assigns it to them (``by``: an automation rule
        does, named so), and then the agent must also hold the skills it needs (the colleague
        or rule chose them, not the agent). ``then``: written in the assignment's
        transaction; when it raises, the assignment is undone (a rule's outbox row: an
        assignment done already by another worker is not done twice)."""
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
                                  via="picked", then=then)
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

