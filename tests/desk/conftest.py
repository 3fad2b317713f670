from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from desk.auth import hash_password
from desk.db import SessionMaker
from desk.models import Agent, AgentGroup, Department, Group
from desk.settings import Settings
from realtime.app import create_app

PASSWORD = "correct horse battery"


@pytest.fixture
async def client(settings: Settings, engine: AsyncEngine) -> AsyncIterator[httpx.AsyncClient]:
    """The real app (real DB, real Redis) in-process, lifespan included."""
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
            yield c


@pytest.fixture
async def org(sm: SessionMaker) -> dict[str, int]:
    """Two departments, two groups, an admin, an agent in group A, a supervisor in both."""
    async with sm() as s:
        d1, d2 = Department(name="Sales"), Department(name="Support")
        s.add_all([d1, d2])
        await s.flush()
        ga, gb = Group(department_id=d1.id, name="A"), Group(department_id=d2.id, name="B")
        s.add_all([ga, gb])
        await s.flush()
        h = hash_password(PASSWORD)
        admin = Agent(email="admin@x.test", display_name="Admin", role="admin", password_hash=h)
        agent = Agent(email="agent@x.test", display_name="Ana", role="agent", password_hash=h,
                      groups=[AgentGroup(group_id=ga.id)])
        sup = Agent(email="sup@x.test", display_name="Sam", role="supervisor", password_hash=h,
                    groups=[AgentGroup(group_id=ga.id), AgentGroup(group_id=gb.id)])
        s.add_all([admin, agent, sup])
        await s.commit()
        return {"d1": d1.id, "d2": d2.id, "ga": ga.id, "gb": gb.id, "admin": admin.id,
                "agent": agent.id, "sup": sup.id}


async def login(client: httpx.AsyncClient, email: str, password: str = PASSWORD) -> str:
    """Log in; returns the CSRF token (the cookie stays in the client)."""
    r = await client.post("/api/auth/login", json={"email": email, "password": password})
    assert r.status_code == 200, r.text
    token: str = r.json()["csrf_token"]
    return token
