"""Routing fixtures: a Store on the test Redis with a live epoch, helpers to seed agents."""

from __future__ import annotations

import time

import pytest
import redis.asyncio as aioredis

from desk.db import SessionMaker
from desk.settings import Settings
from routing import keys
from routing.router import Router
from routing.store import Store
from tests.support.routing_desk import Desk


@pytest.fixture
async def store(redis: aioredis.Redis) -> Store:
    await redis.set(keys.epoch(), "test")
    return Store(redis)


async def seed_agent(redis: aioredis.Redis, agent_id: int, groups: list[int], *,
                     max_chats: int = 3, max_tickets: int = 10, online: bool = True) -> None:
    await redis.hset(keys.agent(agent_id), mapping={
        "max_chats": max_chats, "max_tickets": max_tickets,
        **{keys.active_field(g): 1 for g in groups}})
    if online:
        await redis.set(keys.heartbeat(agent_id), 1, px=60_000)


class Clock:
    """A settable clock for the Router (offer deadlines, presence grace)."""

    def __init__(self) -> None:
        self.now = time.time()

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
async def router(settings: Settings, redis: aioredis.Redis, sm: SessionMaker,
                 clock: Clock) -> Router:
    r = Router(settings.with_(presence_ttl_s=30, presence_grace_s=10), redis, sm,
               clock=clock)
    await r.rebuild()
    return r


@pytest.fixture
def desk(sm: SessionMaker) -> Desk:
    return Desk(sm)
