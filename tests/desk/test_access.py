"""desk.auth.can_access: the one rule for which conversations staff may see, in its Python form
(sockets, commands) and its SQL form (listings), which must agree."""

from __future__ import annotations

import itertools
from datetime import timedelta

import pytest
from sqlalchemy import select

from desk.auth import Principal, can_access, resolve_session, resolve_sessions
from desk.db import SessionMaker
from desk.models import Agent, AgentGroup, AgentSession, Conversation, Department, Group, utcnow

GROUPS: tuple[frozenset[int], ...] = (frozenset(), frozenset({1}), frozenset({1, 2}))


@pytest.mark.parametrize(("role", "groups", "group_id"),
                         list(itertools.product(("agent", "supervisor", "admin"), GROUPS,
                                                (None, 1, 2, 3))))
def test_table(role: str, groups: frozenset[int], group_id: int | None) -> None:
    expected = role == "admin" or (group_id is not None and group_id in groups)
    assert can_access(role, groups, group_id) is expected


def _principal(role: str, groups: frozenset[int]) -> Principal:
    return Principal(agent_id=1, role=role, display_name="A", session_id="s", csrf_token="t",
                     group_ids=groups)


async def test_listing_scope_is_the_same_rule(sm: SessionMaker) -> None:
    async with sm() as s:
        dept = Department(name="Support")
        s.add(dept)
        await s.flush()
        groups = [Group(department_id=dept.id, name=f"G{i}") for i in range(3)]
        s.add_all(groups)
        await s.flush()
        ids = [g.id for g in groups]
        for gid in [*ids, None]:
            s.add(Conversation(number=f"SB-{gid or 0:07d}", channel="email", group_id=gid))
        await s.commit()
        rows = (await s.execute(select(Conversation.id, Conversation.group_id))).all()
        for role, member in itertools.product(("agent", "supervisor", "admin"),
                                              (frozenset(), frozenset(ids[:1]),
                                               frozenset(ids[:2]))):
            p = _principal(role, member)
            listed = set((await s.execute(
                select(Conversation.id).where(p.scope(Conversation.group_id)))).scalars())
            assert listed == {cid for cid, gid in rows if p.can_access(gid)}, (role, member)


async def test_resolve_sessions_in_one_go_agrees_with_resolve_session(sm: SessionMaker) -> None:
    async with sm() as s:
        dept = Department(name="Support")
        s.add(dept)
        await s.flush()
        group = Group(department_id=dept.id, name="G")
        s.add(group)
        await s.flush()
        live = Agent(email="a@x.test", display_name="A", password_hash="x",
                     groups=[AgentGroup(group_id=group.id)])
        gone = Agent(email="b@x.test", display_name="B", password_hash="x", is_active=False)
        s.add_all([live, gone])
        await s.flush()
        later = utcnow() + timedelta(hours=1)
        s.add_all([
            AgentSession(id="ok", agent_id=live.id, csrf_token="t", session_version=1,
                         expires_at=later),
            AgentSession(id="old", agent_id=live.id, csrf_token="t", session_version=0,
                         expires_at=later),
            AgentSession(id="over", agent_id=live.id, csrf_token="t", session_version=1,
                         expires_at=utcnow() - timedelta(seconds=1)),
            AgentSession(id="revoked", agent_id=live.id, csrf_token="t", session_version=1,
                         expires_at=later, revoked_at=utcnow()),
            AgentSession(id="disabled", agent_id=gone.id, csrf_token="t", session_version=1,
                         expires_at=later),
        ])
        await s.commit()
        live_id, group_id = live.id, group.id
    ids = ["ok", "old", "over", "revoked", "disabled", "unknown"]
    found = await resolve_sessions(sm, ids)
    assert set(found) == set(ids)
    principal = found["ok"]
    assert principal is not None
    assert (principal.agent_id, principal.group_ids) == (live_id, frozenset({group_id}))
    assert [k for k, v in found.items() if v is not None] == ["ok"]
    for sid in ids:
        assert await resolve_session(sm, sid) == found[sid]
