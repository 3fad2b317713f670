"""Rule actions done after the firing's commit, exactly once: an assignment through the router
and a notice for one agent's console.

The sweep (``ingest.due``) writes each as a ``rule_outbox`` row in the firing's own
transaction, so a worker that dies after the commit leaves the row, not a lost action. Any
worker then does the rows (``perform``: after each of its sweeps, and on starting), leasing
them first (``LEASE_S``) so two workers do not both try one; a lease that ran out (its worker
died) is taken again.

- An assignment is ``Router.cherry_pick(agent, conversation, by="rule N")``, and its row is
  deleted IN the router's transaction that records the assignment: done exactly when the
  row is gone. A redo whose row another worker deleted meanwhile undoes its own claim (the
  router requeues it), so the conversation is never assigned twice by one firing. A refusal
  (offline, full, lacking a skill, taken) is a ``rule.assign_refused`` audit row, written with
  the row's deletion: once.
- A notice is published on the router's events channel as ``agent_notified`` carrying the
  row's id, then the row is deleted. A worker that dies in between publishes it again; the
  hub shows a notice id once (``realtime.routing_events``).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from desk import audit
from desk.db import SessionMaker
from desk.models import RuleOutbox
from routing import events
from routing.errors import RoutingError
from routing.router import Router

log = logging.getLogger(__name__)

LEASE_S = 30.0
BATCH = 100


class _DoneElsewhere(Exception):
    """The row was deleted by another worker: this claim is undone."""


@dataclass(frozen=True, slots=True)
class Pending:
    id: int
    kind: str  # assign | notice
    conversation_id: int
    rule_id: int
    agent_id: int
    number: str
    text: str


async def perform(router: Router, sm: SessionMaker, now: datetime) -> int:
    """Do the outbox rows no live worker holds; how many were taken."""
    rows = await _lease(sm, now)
    notices = [r for r in rows if r.kind == "notice"]
    if notices:
        await router.store.publish(router.events_channel, [events.dump(events.AgentNotified(
            r.agent_id, r.conversation_id, r.number, r.text, r.rule_id, r.id))
            for r in notices])
        async with sm() as s:
            await s.execute(delete(RuleOutbox).where(RuleOutbox.id.in_([r.id for r in notices])))
            await s.commit()
    for r in rows:
        if r.kind == "assign":
            await _assign(router, sm, r)
    return len(rows)


async def _lease(sm: SessionMaker, now: datetime) -> list[Pending]:
    free = or_(RuleOutbox.lease_until.is_(None), RuleOutbox.lease_until < now)
    async with sm() as s:
        pg = sm.kw["bind"].dialect.name == "postgresql"
        q = select(RuleOutbox.id).where(free).order_by(RuleOutbox.id).limit(BATCH)
        ids = (await s.scalars(q.with_for_update(skip_locked=True) if pg else q)).all()
        if not ids:
            return []
        # The condition again: on PostgreSQL a row another worker leased meanwhile is
        # re-read after its commit and left out.
        taken = (await s.execute(
            update(RuleOutbox).where(RuleOutbox.id.in_(ids), free)
            .values(lease_until=now + timedelta(seconds=LEASE_S))
            .returning(RuleOutbox.id, RuleOutbox.kind, RuleOutbox.conversation_id,
                       RuleOutbox.rule_id, RuleOutbox.agent_id, RuleOutbox.number,
                       RuleOutbox.text))).all()
        await s.commit()
    return sorted((Pending(*t) for t in taken), key=lambda p: p.id)


async def _assign(router: Router, sm: SessionMaker, r: Pending) -> None:
    async def done(s: AsyncSession) -> None:
        if not await _delete(s, r.id):
            raise _DoneElsewhere

    try:
        await router.cherry_pick(r.agent_id, r.conversation_id, by=f"rule {r.rule_id}",
                                 then=done)
    except _DoneElsewhere:
        log.info("rule outbox %s was done by another worker", r.id)
    except RoutingError as refused:
        async with sm() as s:
            if await _delete(s, r.id):
                audit.record(s, "rule.assign_refused", r.conversation_id, rule=r.rule_id,
                             agent_id=r.agent_id, why=refused.message)
            await s.commit()


async def _delete(s: AsyncSession, outbox_id: int) -> bool:
    gone = await s.scalar(delete(RuleOutbox).where(RuleOutbox.id == outbox_id)
                          .returning(RuleOutbox.id))
    return gone is not None
