"""The router's reads and writes of the records (desk.models): configuration in, decisions out.

Everything the live Redis state is rebuilt from is read here (``restored_state``), so the rule
"Redis holds nothing the records cannot give back" has one place to check.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from desk.models import Agent, AgentGroup, AgentSkill, Conversation, Group, RoutingDecision, Skill
from routing.policy import Policy, queue_member, queue_score
from routing.store import ConvState, RestoredState

OPEN = ("queued", "offered", "active")  # statuses that live in Redis
EXCLUDING = ("declined", "offer_expired")  # actions that keep an agent away from a conversation


@dataclass(frozen=True, slots=True)
class GroupConfig:
    group_id: int
    policy: Policy
    offer_timeout_s: int
    members: tuple[int, ...]  # enabled agents of the group
    skills: dict[int, dict[str, int]] = field(default_factory=dict)  # member -> name -> level


@dataclass(frozen=True, slots=True)
class AgentConfig:
    agent_id: int
    max_chats: int
    max_tickets: int
    skills: dict[str, int] = field(default_factory=dict)
    groups: frozenset[int] = frozenset()


def epoch_seconds(value: datetime | None) -> float | None:
    if value is None:
        return None
    if value.tzinfo is None:  # SQLite hands back naive datetimes; we only ever store UTC
        value = value.replace(tzinfo=UTC)
    return value.timestamp()


async def group_config(session: AsyncSession, group_id: int) -> GroupConfig | None:
    """The group's policy and its enabled members with their skills (what a dispatch needs),
    in one query: it runs for every dispatch."""
    rows = (await session.execute(
        select(Group.policy, Group.offer_timeout_s, Agent.id, Skill.name, AgentSkill.level)
        .select_from(Group)
        .outerjoin(AgentGroup, AgentGroup.group_id == Group.id)
        .outerjoin(Agent, (Agent.id == AgentGroup.agent_id) & Agent.is_active.is_(True))
        .outerjoin(AgentSkill, AgentSkill.agent_id == Agent.id)
        .outerjoin(Skill, Skill.id == AgentSkill.skill_id)
        .where(Group.id == group_id))).all()
    if not rows:
        return None
    skills: dict[int, dict[str, int]] = {}
    for _, _, agent_id, name, level in rows:
        if agent_id is not None:
            held = skills.setdefault(agent_id, {})
            if name is not None:
                held[name] = level
    policy, timeout = rows[0][0], rows[0][1]
    return GroupConfig(group_id, Policy.parse(policy), timeout, tuple(sorted(skills)), skills)


async def agent_configs(session: AsyncSession, agent_ids: Iterable[int]) -> dict[int, AgentConfig]:
    ids = list(agent_ids)
    if not ids:
        return {}
    agents = (await session.scalars(
        select(Agent).where(Agent.id.in_(ids), Agent.is_active.is_(True)))).all()
    skills: dict[int, dict[str, int]] = {a.id: {} for a in agents}
    rows = await session.execute(
        select(AgentSkill.agent_id, Skill.name, AgentSkill.level)
        .join(Skill, Skill.id == AgentSkill.skill_id).where(AgentSkill.agent_id.in_(ids)))
    for agent_id, name, level in rows:
        skills.setdefault(agent_id, {})[name] = level
    return {
        a.id: AgentConfig(a.id, a.chat_capacity, a.ticket_capacity, skills[a.id],
                          frozenset(g.group_id for g in a.groups))
        for a in agents
    }


async def set_active(session: AsyncSession, agent_id: int, group_ids: Iterable[int],
                     active: bool) -> None:
    for gid in group_ids:
        link = await session.get(AgentGroup, (agent_id, gid))
        if link is not None:
            link.active = active


async def active_groups(session: AsyncSession, agent_id: int) -> set[int]:
    rows = await session.scalars(select(AgentGroup.group_id).where(
        AgentGroup.agent_id == agent_id, AgentGroup.active.is_(True)))
    return set(rows.all())


async def conversations(session: AsyncSession, ids: Iterable[int]) -> dict[int, Conversation]:
    """The rows, locked until the transaction ends (every caller writes them): a status
    committed meanwhile by another process (a resolve) is seen, not overwritten."""
    found = await session.scalars(select(Conversation).where(Conversation.id.in_(list(ids)))
                                  .order_by(Conversation.id).with_for_update())
    return {c.id: c for c in found}


async def queued(session: AsyncSession) -> dict[int, float]:
    """Conversations the records say wait in a group's queue -> when their record last changed."""
    rows = await session.execute(select(Conversation.id, Conversation.updated_at).where(
        Conversation.status == "queued", Conversation.group_id.is_not(None)))
    return {c: epoch_seconds(at) or 0.0 for c, at in rows}


def add_decision(session: AsyncSession, conversation_id: int, agent_id: int | None, action: str,
                 reason: str, candidates: dict[str, Any] | None = None, *, at: float) -> None:
    """``at``: the router's clock, not the row default's: a rebuilt offer's deadline is counted
    from it, so both must come from the one clock the live deadline was set by."""
    session.add(RoutingDecision(conversation_id=conversation_id, agent_id=agent_id,
                                action=action, reason=reason, candidates=candidates or {},
                                created_at=datetime.fromtimestamp(at, UTC)))


async def decisions(session: AsyncSession, conversation_id: int) -> list[dict[str, Any]]:
    rows = await session.scalars(select(RoutingDecision).where(
        RoutingDecision.conversation_id == conversation_id).order_by(RoutingDecision.id))
    return [
        {"at": epoch_seconds(r.created_at), "action": r.action, "agent_id": r.agent_id,
         "reason": r.reason, "candidates": r.candidates}
        for r in rows
    ]


async def restored_state(session: AsyncSession, now: float) -> RestoredState:
    """Queues, loads, offers and active toggles as the records describe them.

    An offered conversation's agent and deadline come from its latest ``offered`` decision;
    agents it must not go to again come from its ``declined``/``offer_expired`` decisions; a
    conversation whose latest decision put it back at the front stays at the front.
    """
    state = RestoredState()
    for agent in (await session.scalars(select(Agent).where(Agent.is_active.is_(True)))).all():
        state.agents[agent.id] = (agent.chat_capacity, agent.ticket_capacity)
        state.active[agent.id] = {g.group_id for g in agent.groups if g.active}
    timeouts = dict((await session.execute(select(Group.id, Group.offer_timeout_s))).all())
    convs = (await session.scalars(select(Conversation).where(
        Conversation.status.in_(OPEN), Conversation.group_id.is_not(None)))).all()
    history: dict[int, list[RoutingDecision]] = {c.id: [] for c in convs}
    if convs:
        for d in (await session.scalars(select(RoutingDecision).where(
                RoutingDecision.conversation_id.in_(list(history)))
                .order_by(RoutingDecision.id))).all():
            history[d.conversation_id].append(d)
    for c in convs:
        assert c.group_id is not None
        past = history[c.id]
        last = past[-1] if past else None
        excluded = {d.agent_id for d in past if d.action in EXCLUDING and d.agent_id}
        agent_id: int | None = None
        deadline_ms: int | None = None
        state_name = "queued"
        if c.status == "active" and c.assignee_id is not None:
            state_name, agent_id = "assigned", c.assignee_id
        elif c.status == "offered":
            offer = next((d for d in reversed(past) if d.action == "offered"), None)
            if offer is not None and offer.agent_id is not None:
                sent = epoch_seconds(offer.created_at) or now
                timeout = timedelta(seconds=timeouts.get(c.group_id, 30)).total_seconds()
                state_name, agent_id = "offered", offer.agent_id
                deadline_ms = int((sent + timeout) * 1000)
        front = last is not None and last.action == "requeued" and state_name == "queued"
        arrival = epoch_seconds(c.created_at) or now
        state.convs.append((ConvState(
            conversation_id=c.id, state=state_name, group_id=c.group_id, channel=c.channel,
            agent_id=agent_id, deadline_ms=deadline_ms,
            score=queue_score(c.priority, epoch_seconds(c.sla_due), front),
            member=queue_member(c.id, arrival), priority=c.priority,
            sla_due=epoch_seconds(c.sla_due), arrival=arrival,
            skills={str(k): int(v) for k, v in (c.required_skills or {}).items()},
        ), excluded))
    return state
