"""Routing fixtures: a Store on the test Redis with a live epoch, helpers to seed agents."""

from __future__ import annotations

import pytest
import redis.asyncio as aioredis

from routing import keys
from routing.store import Store


@pytest.fixture
async def store(redis: aioredis.Redis) -> Store:
    await redis.set(keys.epoch(), "test")
    return Store(redis)


async def seed_agent(redis: aioredis.Redis, agent_id: int, groups: list[int], *,
                     max_chats: int = 3, max_tickets: int = 10, online: bool = True) -> None:
    await redis.hset(keys.agent(agent_id),
                     mapping={"max_chats": max_chats, "max_tickets": max_tickets})
    if groups:
        await redis.sadd(keys.agent_groups(agent_id), *[str(g) for g in groups])
    if online:
        await redis.set(keys.heartbeat(agent_id), 1, px=60_000)
