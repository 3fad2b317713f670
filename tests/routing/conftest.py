"""Routing fixtures: a Store on the test Redis with a live epoch, helpers to seed agents."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

import pytest
import redis.asyncio as aioredis
from sqlalchemy import select

from desk.db import SessionMaker
from desk.models import (
    Agent,
    AgentGroup,
    AgentSkill,
    Conversation,
    Department,
    Group,
    Skill,
)
from desk.settings import Settings
from routing import keys
from routing.router import Router
from routing.store import Store


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


class Desk:
    """Builds records for routing tests."""

    def __init__(self, sessions: SessionMaker) -> None:
        self.sessions = sessions
        self.n = 0

    async def group(self, policy: str = "least_loaded", offer_timeout_s: int = 0) -> int:
        self.n += 1
        async with self.sessions() as s, s.begin():
            dept = Department(name=f"dept{self.n}")
            s.add(dept)
            await s.flush()
            g = Group(department_id=dept.id, name=f"g{self.n}", policy=policy,
                      offer_timeout_s=offer_timeout_s)
            s.add(g)
            await s.flush()
            return g.id

    async def agent(self, groups: list[int], *, chats: int = 3, tickets: int = 10,
                    skills: dict[str, int] | None = None) -> int:
        self.n += 1
        async with self.sessions() as s, s.begin():
            a = Agent(email=f"a{self.n}@example.org", display_name=f"A{self.n}",
                      password_hash="x", chat_capacity=chats, ticket_capacity=tickets)
            s.add(a)
            await s.flush()
            for g in groups:
                s.add(AgentGroup(agent_id=a.id, group_id=g))
            for name, level in (skills or {}).items():
                skill = (await s.scalars(select(Skill).where(Skill.name == name))).first()
                if skill is None:
                    skill = Skill(name=name)
                    s.add(skill)
                    await s.flush()
                s.add(AgentSkill(agent_id=a.id, skill_id=skill.id, level=level))
            return a.id

    async def conversation(self, group_id: int, channel: str = "chat", priority: int = 2,
                           skills: dict[str, int] | None = None) -> int:
        self.n += 1
        async with self.sessions() as s, s.begin():
            c = Conversation(number=f"SB-{10000 + self.n}", channel=channel, priority=priority,
                             group_id=group_id, required_skills=skills or {},
                             created_at=datetime.now(UTC) + timedelta(milliseconds=self.n))
            s.add(c)
            await s.flush()
            return c.id

    async def get(self, conversation_id: int) -> Conversation:
        async with self.sessions() as s:
            c = await s.get(Conversation, conversation_id)
            assert c is not None
            return c


@pytest.fixture
def desk(sm: SessionMaker) -> Desk:
    return Desk(sm)


async def online(router: Router, agent_id: int, groups: list[int]) -> None:
    await router.heartbeat(agent_id)
    await router.set_active_groups(agent_id, groups)
