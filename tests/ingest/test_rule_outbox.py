"""A rule's assignment and console notice happen exactly once even when the worker dies
between the firing's commit and the action (``ingest.rule_outbox``): the crash is the sweep
committed and its outbox not done, then one or two workers starting. Real Redis and
records; an injected clock."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import redis.asyncio as aioredis
from sqlalchemy import func, select

from desk import automation_store
from desk.db import SessionMaker
from desk.models import AuditEvent, AutomationRule, RoutingDecision, RuleOutbox
from desk.settings import Settings
from ingest import due, rule_outbox
from routing import events
from routing.router import Router
from tests.support.routing_desk import Desk, online

NOW = datetime(2026, 12, 1, 10, 0, tzinfo=UTC)


@pytest.fixture
async def router(settings: Settings, redis: aioredis.Redis, sm: SessionMaker) -> Router:
    r = Router(settings, redis, sm)
    await r.rebuild()
    return r


@pytest.fixture
def desk(sm: SessionMaker) -> Desk:
    return Desk(sm)


async def _fired(sm: SessionMaker, settings: Settings) -> None:
    """A rule on ``created`` fired and committed for each conversation noted; its outbox is
    left undone: the worker died right after the commit."""
    while (await due.sweep(sm, settings, NOW)).taken:
        pass


async def _rule(sm: SessionMaker, actions: list[dict[str, Any]]) -> int:
    async with sm() as s:
        row = AutomationRule(name="r", enabled=True,
                             definition={"event": "created", "actions": actions})
        s.add(row)
        await s.commit()
        return row.id


async def _created(sm: SessionMaker, cid: int) -> None:
    async with sm() as s:
        await automation_store.note_events(s, cid, ["created"], NOW)
        await s.commit()


async def _count(sm: SessionMaker, model: Any, *where: Any) -> int:
    async with sm() as s:
        return int(await s.scalar(select(func.count()).select_from(model).where(*where)) or 0)


@pytest.fixture
async def heard(redis: aioredis.Redis, router: Router
                ) -> AsyncIterator[list[events.AgentNotified]]:
    """The notices published on the router's events channel while the test runs."""
    got: list[events.AgentNotified] = []
    pubsub = redis.pubsub(ignore_subscribe_messages=True)
    await pubsub.subscribe(router.events_channel)

    async def listen() -> None:
        async for msg in pubsub.listen():
            event = events.parse(msg["data"])
            if isinstance(event, events.AgentNotified):
                got.append(event)

    task = asyncio.create_task(listen())
    try:
        yield got
    finally:
        task.cancel()
        await pubsub.aclose()


async def _settled(got: list[events.AgentNotified], n: int) -> None:
    for _ in range(100):  # the subscriber runs beside the test: wait for what was published
        if len(got) >= n:
            return
        await asyncio.sleep(0.02)


async def test_a_crash_after_the_commit_loses_nothing_and_two_workers_do_it_once(
        settings: Settings, sm: SessionMaker, redis: aioredis.Redis, router: Router,
        desk: Desk, heard: list[events.AgentNotified]) -> None:
    g = await desk.group(policy="manual")
    ana = await desk.agent([g])
    await online(router, ana, [])
    rid = await _rule(sm, [{"type": "assign", "value": ana},
                           {"type": "notify", "value": {"text": "yours", "console": ana}}])
    cid = await desk.conversation(g, "email")
    await router.enqueue(cid)
    await _created(sm, cid)
    await _fired(sm, settings)
    assert await _count(sm, RuleOutbox) == 2  # committed with the firing, not done
    assert (await desk.get(cid)).assignee_id is None

    # Two workers start at once and do the outbox.
    other = Router(settings, redis, sm)
    done = await asyncio.gather(rule_outbox.perform(router, sm, NOW),
                                rule_outbox.perform(other, sm, NOW))
    assert sum(done) == 2
    assert await rule_outbox.perform(router, sm, NOW + timedelta(hours=1)) == 0
    conv = await desk.get(cid)
    assert conv.status == "active" and conv.assignee_id == ana
    assert await _count(sm, RoutingDecision, RoutingDecision.conversation_id == cid,
                        RoutingDecision.action == "picked") == 1
    assert await _count(sm, AuditEvent, AuditEvent.action == "rule.assign_refused") == 0
    await _settled(heard, 1)
    assert [(e.agent_id, e.text, e.rule_id) for e in heard] == [(ana, "yours", rid)]
    assert await _count(sm, RuleOutbox) == 0


async def test_a_worker_dead_holding_the_lease_is_redone_once(
        settings: Settings, sm: SessionMaker, router: Router, desk: Desk,
        heard: list[events.AgentNotified]) -> None:
    g = await desk.group(policy="manual")
    ana = await desk.agent([g])
    await online(router, ana, [])
    await _rule(sm, [{"type": "assign", "value": ana},
                     {"type": "notify", "value": {"text": "yours", "console": ana}}])
    cid = await desk.conversation(g, "email")
    await router.enqueue(cid)
    await _created(sm, cid)
    await _fired(sm, settings)
    leased = await rule_outbox._lease(sm, NOW)  # a worker took them, then was SIGKILLed
    assert len(leased) == 2
    assert await rule_outbox.perform(router, sm, NOW) == 0  # leased: not taken meanwhile
    later = NOW + timedelta(seconds=rule_outbox.LEASE_S + 1)
    assert await rule_outbox.perform(router, sm, later) == 2
    assert await rule_outbox.perform(router, sm, later) == 0
    assert (await desk.get(cid)).assignee_id == ana
    await _settled(heard, 1)
    assert len(heard) == 1


async def test_an_assignment_redone_after_it_was_made_is_not_made_again(
        settings: Settings, sm: SessionMaker, router: Router, desk: Desk) -> None:
    """The worker assigned and its lease ran out; another took the row meanwhile: the one
    that finds it gone neither assigns again nor records a refusal."""
    g = await desk.group(policy="manual")
    ana = await desk.agent([g])
    await online(router, ana, [])
    await _rule(sm, [{"type": "assign", "value": ana}])
    cid = await desk.conversation(g, "email")
    await router.enqueue(cid)
    await _created(sm, cid)
    await _fired(sm, settings)
    [first] = await rule_outbox._lease(sm, NOW)
    [second] = await rule_outbox._lease(sm, NOW + timedelta(seconds=rule_outbox.LEASE_S + 1))
    assert first == second
    await rule_outbox._assign(router, sm, first)
    # The agent hands it back to the queue before the slow redo.
    await router.release(cid, status="queued")
    await router.enqueue(cid)
    await rule_outbox._assign(router, sm, second)
    assert (await desk.get(cid)).assignee_id is None  # the redo undid its own claim
    held = await router.live(cid)
    assert held is not None and held.state == "queued"
    assert await _count(sm, RoutingDecision, RoutingDecision.conversation_id == cid,
                        RoutingDecision.action == "picked") == 1
    assert await _count(sm, AuditEvent, AuditEvent.action == "rule.assign_refused") == 0


async def test_a_refusal_is_recorded_once(
        settings: Settings, sm: SessionMaker, router: Router, desk: Desk) -> None:
    g = await desk.group(policy="manual")
    ana = await desk.agent([g])  # offline: the router refuses
    await _rule(sm, [{"type": "assign", "value": ana}])
    cid = await desk.conversation(g, "email")
    await router.enqueue(cid)
    await _created(sm, cid)
    await _fired(sm, settings)
    [row] = await rule_outbox._lease(sm, NOW)
    await asyncio.gather(rule_outbox._assign(router, sm, row),
                         rule_outbox._assign(router, sm, row))
    assert await _count(sm, AuditEvent, AuditEvent.action == "rule.assign_refused") == 1
    assert (await desk.get(cid)).status == "queued"
