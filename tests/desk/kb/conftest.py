from __future__ import annotations

import httpx
import pytest

from desk.auth import Principal
from desk.db import SessionMaker
from desk.models import Site
from tests.desk.conftest import login


@pytest.fixture
async def site(sm: SessionMaker) -> dict[str, object]:
    async with sm() as s:
        row = Site(key="site_kbtest", name="Help site", allowed_origins=["https://shop.test"])
        s.add(row)
        await s.commit()
        return {"id": row.id, "key": row.key}


async def as_admin(client: httpx.AsyncClient) -> dict[str, str]:
    return {"X-CSRF-Token": await login(client, "admin@x.test")}


async def as_agent(client: httpx.AsyncClient) -> dict[str, str]:
    return {"X-CSRF-Token": await login(client, "agent@x.test")}


def staff(agent_id: int, role: str = "admin") -> Principal:
    """A principal for calling desk.kb.articles directly (no session behind it)."""
    return Principal(agent_id=agent_id, role=role, display_name="Staff", session_id="",
                     csrf_token="", group_ids=frozenset())
