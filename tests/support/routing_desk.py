"""Records for routing: a desk of departments, groups, agents with skills and conversations,
and an agent brought online (the routing tests and those of rules that route)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

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
from routing.router import Router


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


async def online(router: Router, agent_id: int, groups: list[int]) -> None:
    await router.heartbeat(agent_id)
    await router.set_active_groups(agent_id, groups)
