"""The hub's cached conversation facts follow router events (``routing_events.moved``) instead of
being dropped, and agree with what the router wrote to the records (real Router, Redis,
database); the periodic maintenance beats and re-checks in batches."""

from __future__ import annotations

from collections.abc import Awaitable
from typing import Any

import redis.asyncio as aioredis

from desk.db import SessionMaker
from desk.models import Agent, AgentGroup, Conversation, Department, Group
from desk.settings import Settings
from realtime import records
from realtime.routing_events import moved
from routing import events as ev
from routing import keys
from routing.router import Router
from routing.store import db_index


class Desk:
    """Records for the router: groups, agents, conversations."""

    def __init__(self, sm: SessionMaker) -> None:
        self.sm = sm
        self.n = 0

    async def _add(self, row: Any) -> int:
        async with self.sm() as s, s.begin():
            s.add(row)
            await s.flush()
            new_id: int = row.id
            return new_id

    async def group(self, offer_timeout_s: int = 0) -> int:
        self.n += 1
        dept = await self._add(Department(name=f"dept{self.n}"))
        return await self._add(Group(department_id=dept, name=f"g{self.n}",
                                     offer_timeout_s=offer_timeout_s))

    async def agent(self, groups: list[int], chats: int = 3) -> int:
        self.n += 1
        return await self._add(Agent(email=f"a{self.n}@x.test", display_name=f"A{self.n}",
                                     password_hash="x", chat_capacity=chats,
                                     groups=[AgentGroup(group_id=g) for g in groups]))

    async def conversation(self, group_id: int) -> int:
        self.n += 1
        return await self._add(Conversation(number=f"SB-{30000 + self.n}", channel="chat",
                                            group_id=group_id))


async def _drain(pubsub: aioredis.client.PubSub) -> list[ev.Event]:
    out: list[ev.Event] = []
    while (msg := await pubsub.get_message(ignore_subscribe_messages=True, timeout=0.2)):
        out.append(ev.parse(msg["data"]))
    return out


async def test_cached_facts_follow_router_events_as_the_records_do(
        settings: Settings, redis: aioredis.Redis, sm: SessionMaker) -> None:
    await redis.set(keys.epoch(), "test")
    router = Router(settings, redis, sm)
    await router.rebuild()
    desk = Desk(sm)
    offering = await desk.group(offer_timeout_s=30)
    other = await desk.group()
    ana = await desk.agent([offering, other])
    bob = await desk.agent([other])
    carl = await desk.agent([offering])
    cid = await desk.conversation(offering)
    pubsub = redis.pubsub()
    await pubsub.subscribe(keys.events_channel(db_index(redis)))
    await _drain(pubsub)
    info = await records.get_conv(sm, cid)
    assert info is not None

    async def step(action: Awaitable[object]) -> None:
        nonlocal info
        await action
        for event in await _drain(pubsub):
            if getattr(event, "conversation_id", None) == cid:
                assert info is not None
                info = moved(info, event)
        assert info == await records.get_conv(sm, cid)

    await step(router.heartbeat(ana))
    await step(router.set_active_groups(ana, [offering]))
    await step(router.enqueue(cid))  # queued, then offered to ana
    assert (info.status, info.assignee_id) == ("offered", None)
    await step(router.heartbeat(carl))
    await step(router.set_active_groups(carl, [offering]))
    await step(router.decline(ana, cid))  # offered to carl next
    await step(router.accept(carl, cid))
    assert (info.status, info.assignee_id) == ("active", carl)
    await step(router.heartbeat(bob))
    await step(router.set_active_groups(bob, [other]))
    await step(router.transfer(cid, to_group_id=other))  # requeued there, assigned to bob
    assert (info.status, info.assignee_id, info.group_id) == ("active", bob, other)
    await step(router.release(cid, "resolved"))
    assert not info.open
    await pubsub.aclose()


async def test_heartbeat_many_beats_every_known_agent_in_one_go(
        settings: Settings, redis: aioredis.Redis, sm: SessionMaker) -> None:
    await redis.set(keys.epoch(), "test")
    router = Router(settings, redis, sm)
    desk = Desk(sm)
    group = await desk.group()
    agents = [await desk.agent([group], chats=4 + i) for i in range(3)]
    await router.heartbeat_many([*agents, 999_999])  # an unknown agent is skipped
    for i, agent_id in enumerate(agents):
        assert await redis.exists(keys.heartbeat(agent_id))
        assert await redis.hget(keys.agent(agent_id), "max_chats") == str(4 + i).encode()
    assert not await redis.exists(keys.heartbeat(999_999))
    assert await router.presence.beat_many([(agents[0], 4, 10)], 1) == []  # online already
