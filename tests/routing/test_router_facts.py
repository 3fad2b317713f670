"""The Router records reporting facts (desk.facts) with its decisions: the first assignment
carries the queue wait, by the Router's clock; a transfer names what it left."""

from __future__ import annotations

from datetime import UTC

from sqlalchemy import select

from desk.db import SessionMaker
from desk.models import ReportFact
from routing.router import Router
from tests.routing.conftest import Clock
from tests.support.routing_desk import Desk, online


async def _facts(sm: SessionMaker, conversation_id: int) -> list[ReportFact]:
    async with sm() as s:
        return list(await s.scalars(select(ReportFact).where(
            ReportFact.conversation_id == conversation_id).order_by(ReportFact.id)))


async def test_assignments_and_transfers_are_facts(router: Router, desk: Desk,
                                                   sm: SessionMaker, clock: Clock) -> None:
    g, other = await desk.group(), await desk.group(offer_timeout_s=30)
    ana, bob = await desk.agent([g]), await desk.agent([other])
    c = await desk.conversation(g)
    created = (await desk.get(c)).created_at.replace(tzinfo=UTC)
    clock.now = created.timestamp() + 42
    await online(router, ana, [g])
    await router.enqueue(c)  # assigned straight away (no offer timeout)
    await online(router, bob, [other])
    await router.transfer(c, to_group_id=other, by_agent_id=ana)
    clock.advance(8)
    await router.accept(bob, c)  # offered, then accepted: a second assignment
    got = [(f.kind, f.agent_id, f.group_id) for f in await _facts(sm, c)]
    assert got == [("assigned", ana, g), ("transferred", ana, other),
                   ("assigned", bob, other)]
    first, _, second = await _facts(sm, c)
    assert first.value is not None and abs(first.value - 42) < 0.01
    assert second.value is None
