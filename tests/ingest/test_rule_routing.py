"""Rule actions that go through routing after the sweep's commit: assign to an agent (the
router's rule for an assignment by a colleague decides; a refusal is recorded with its
reason and the conversation stays queued) and a notice for one agent's console (published
on the router's events channel). Real Redis and records; an injected clock for the sweep."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime
from typing import Any

import pytest
import redis.asyncio as aioredis
from sqlalchemy import select

from desk import automation_store
from desk.db import SessionMaker
from desk.models import AuditEvent, AutomationRule, Conversation
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


async def _rule(sm: SessionMaker, **definition: Any) -> int:
    async with sm() as s:
        row = AutomationRule(name=f"rule {definition['event']}", enabled=True,
                             definition=definition)
        s.add(row)
        await s.commit()
        return row.id


async def _created(sm: SessionMaker, cid: int) -> None:
    async with sm() as s:
        await automation_store.note_events(s, cid, ["created"], NOW)
        await s.commit()


async def _sweep(sm: SessionMaker, settings: Settings, router: Router | None) -> list[str]:
    """Sweep what is due; with ``router`` the outbox is done after each sweep, as the worker
    does (without: the worker died right after the sweep's commit)."""
    out: list[str] = []
    while (swept := await due.sweep(sm, settings, NOW)).taken:
        if router is not None:
            await rule_outbox.perform(router, sm, NOW)
        out += [what for _, _, _, what in swept.outcomes]
    return out


async def _trail(sm: SessionMaker, cid: int) -> list[tuple[str, dict[str, Any]]]:
    async with sm() as s:
        rows = await s.scalars(select(AuditEvent).where(
            AuditEvent.target == f"conversation:{cid}").order_by(AuditEvent.id))
        return [(e.action, e.data) for e in rows]


async def test_a_rule_assigns_through_the_router_or_says_why_not(
        settings: Settings, sm: SessionMaker, router: Router, desk: Desk) -> None:
    g = await desk.group(policy="manual")
    ana = await desk.agent([g], skills={"german": 2})
    rid = await _rule(sm, event="created", actions=[{"type": "assign", "value": ana}])
    first, second = await desk.conversation(g, "email"), await desk.conversation(g, "email")
    for cid in (first, second):
        await router.enqueue(cid)
        await _created(sm, cid)

    assert await _sweep(sm, settings, router) == [f"assign to agent {ana} (after the commit)"] * 2
    # ana was offline: both refused, with the router's reason; they wait in the queue.
    for cid in (first, second):
        refused = [d for a, d in await _trail(sm, cid) if a == "rule.assign_refused"]
        assert len(refused) == 1 and "offline" in refused[0]["why"]
        assert refused[0]["rule"] == rid and refused[0]["agent_id"] == ana
        assert (await desk.get(cid)).status == "queued"

    await online(router, ana, [])  # an assignment needs no group switched on
    third = await desk.conversation(g, "email", skills={"german": 2})
    await router.enqueue(third)
    await _created(sm, third)
    assert await _sweep(sm, settings, router) == [f"assign to agent {ana} (after the commit)"]
    conv = await desk.get(third)
    assert conv.status == "active" and conv.assignee_id == ana
    assert f"to agent {ana} by rule {rid}" in (await router.explain(third))[-1]["reason"]
    assert await _sweep(sm, settings, router) == []  # the firing was once


async def test_a_skill_the_agent_lacks_is_a_refusal(
        settings: Settings, sm: SessionMaker, router: Router, desk: Desk) -> None:
    g = await desk.group(policy="manual")
    bob = await desk.agent([g], skills={"german": 1})
    await online(router, bob, [g])
    await _rule(sm, event="created", actions=[{"type": "assign", "value": bob}])
    cid = await desk.conversation(g, "email", skills={"german": 2})
    await router.enqueue(cid)
    await _created(sm, cid)
    await _sweep(sm, settings, router)
    [refused] = [d for a, d in await _trail(sm, cid) if a == "rule.assign_refused"]
    assert "skill level too low german 1 < 2" in refused["why"]
    assert (await desk.get(cid)).assignee_id is None


async def test_a_console_notice_reaches_the_events_channel_once(
        settings: Settings, sm: SessionMaker, router: Router, desk: Desk,
        redis: aioredis.Redis) -> None:
    g = await desk.group(policy="manual")
    ana, bob = await desk.agent([g]), await desk.agent([g])
    rid = await _rule(sm, event="created", actions=[
        {"type": "notify", "value": {"text": "VIP waiting", "console": "assignee"}},
        {"type": "notify", "value": {"text": "look", "console": bob}}])
    cid = await desk.conversation(g, "email")
    async with sm() as s:
        conv = await s.get(Conversation, cid)
        assert conv is not None
        conv.assignee_id = ana
        await s.commit()
    await _created(sm, cid)
    pubsub = redis.pubsub(ignore_subscribe_messages=True)
    await pubsub.subscribe(router.events_channel)
    try:
        assert await _sweep(sm, settings, router) == [
            f"notify agent {ana} in the console, notify agent {bob} in the console"]
        got: list[events.AgentNotified] = []
        for _ in range(20):  # get_message answers None for the subscription's reply too
            msg = await pubsub.get_message(timeout=0.5)
            if msg is not None:
                event = events.parse(msg["data"])
                assert isinstance(event, events.AgentNotified)
                got.append(event)
            if len(got) == 2:
                break
    finally:
        await pubsub.aclose()
    number = (await desk.get(cid)).number
    assert [dataclasses.replace(e, notice_id=0) for e in got] == [
        events.AgentNotified(ana, cid, number, "VIP waiting", rid, 0),
        events.AgentNotified(bob, cid, number, "look", rid, 0)]
    assert len({e.notice_id for e in got}) == 2
    assert await _sweep(sm, settings, router) == []


async def test_a_console_notice_without_an_assignee_is_said(
        settings: Settings, sm: SessionMaker, router: Router, desk: Desk) -> None:
    g = await desk.group(policy="manual")
    await _rule(sm, event="created", actions=[
        {"type": "notify", "value": {"text": "hm", "console": "assignee"}}])
    cid = await desk.conversation(g, "email")
    await _created(sm, cid)
    assert await _sweep(sm, settings, router) == ["notify (no assignee to tell)"]
