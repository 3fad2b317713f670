"""Deterministic activity for the reports: conversations, their messages and the report facts
desk.facts would have written for them, as plain rows (bench.reports loads them into
PostgreSQL; the browser tests and screenshots into the demo database).

Arrivals follow a working-week shape (busy weekday mornings and afternoons, quiet nights and
weekends) so the hour-of-week forecast has something to find; waits, responses and
resolutions are drawn from skewed distributions so medians and p90s differ.
"""

from __future__ import annotations

import random
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import insert as sa_insert
from sqlalchemy import select

from desk.db import SessionMaker
from desk.models import (
    AgentGroup,
    Contact,
    Conversation,
    Group,
    Message,
    Organisation,
    ReportFact,
)

TOPICS = ("Billing", "Delivery", "Returns", "Accounts", "Product question", None)
PLANS = ("free", "pro", "enterprise")
CHANNEL_WEIGHTS = (("chat", 5), ("email", 4), ("portal", 1))
COMMENTS = ("Quick and kind, thank you", "Took too long", "Solved it", "Still not working",
            "Great help")
# Relative arrivals per local hour of a weekday (a weekend day gets a fifth of it).
HOUR_SHAPE = (1, 1, 1, 1, 1, 2, 4, 8, 14, 18, 18, 16, 12, 14, 16, 15, 13, 10, 7, 5, 4, 3, 2, 1)


@dataclass(frozen=True, slots=True)
class World:
    """Who the activity happens to: (group id, department id) pairs, agent ids per group,
    contact ids with their organisation."""

    groups: Sequence[tuple[int, int]]
    agents: Mapping[int, Sequence[int]]
    contacts: Sequence[tuple[int, int | None]]


@dataclass
class Batch:
    conversations: list[dict[str, Any]]
    messages: list[dict[str, Any]]
    facts: list[dict[str, Any]]


class _Facts:
    """Appends one conversation's facts with its dimensions and consecutive ids."""

    def __init__(self, rows: list[dict[str, Any]], dims: dict[str, Any], next_id: int) -> None:
        self.rows, self.dims, self.next_id = rows, dims, next_id

    def __call__(self, kind: str, at: datetime, value: float | None = None,
                 who: int | None = None, **data: Any) -> None:
        self.rows.append({"id": self.next_id, "kind": kind, "at": at, "agent_id": who,
                          "value": value, "data": data, **self.dims})
        self.next_id += 1


def _arrival(rng: random.Random, start: datetime, days: int) -> datetime:
    while True:
        day = start + timedelta(days=rng.randrange(days))
        weight = 1.0 if day.weekday() < 5 else 0.2
        if rng.random() < weight:
            hour = rng.choices(range(24), HOUR_SHAPE)[0]
            return day + timedelta(hours=hour, seconds=rng.randrange(3600))


def generate(world: World, conversations: int, end: datetime, *, seed: int = 7,
             first_id: int = 1, days: int = 365, messages_per: int = 10,
             batch: int = 5000) -> Iterator[Batch]:
    """``conversations`` conversations arriving over the ``days`` before ``end`` (ids from
    ``first_id``), about ``messages_per`` messages each, in batches of ``batch``."""
    rng = random.Random(seed)
    start = (end - timedelta(days=days)).astimezone(UTC).replace(
        hour=0, minute=0, second=0, microsecond=0)
    channels = [c for c, _ in CHANNEL_WEIGHTS]
    weights = [w for _, w in CHANNEL_WEIGHTS]
    out = Batch([], [], [])
    fact_id = (first_id - 1) * 8 + 1
    message_id = (first_id - 1) * messages_per * 2 + 1
    for cid in range(first_id, first_id + conversations):
        created = _arrival(rng, start, days)
        group, dept = world.groups[rng.randrange(len(world.groups))]
        staff = world.agents.get(group) or ()
        agent = staff[rng.randrange(len(staff))] if staff else None
        contact, org = world.contacts[rng.randrange(len(world.contacts))]
        channel = rng.choices(channels, weights)[0]
        topic = TOPICS[rng.randrange(len(TOPICS))]
        priority = rng.choice((1, 2, 2, 2, 3))
        dims = {"conversation_id": cid, "channel": channel, "department_id": dept,
                "group_id": group, "topic": topic, "organisation_id": org,
                "priority": priority}

        fact = _Facts(out.facts, dims, fact_id)

        fact("created", created)
        abandoned = channel == "chat" and rng.random() < 0.04
        wait = rng.expovariate(1 / (40 if channel == "chat" else 900))
        if abandoned:
            fact("abandoned", created + timedelta(seconds=wait), wait)
        n = max(1, round(rng.gauss(messages_per, 3))) if not abandoned else 1
        status = "closed" if abandoned else rng.choices(
            ("closed", "resolved", "pending", "active", "queued"), (60, 25, 6, 6, 3))[0]
        assigned = not abandoned and status != "queued" and agent is not None
        if assigned:
            fact("assigned", created + timedelta(seconds=wait), wait, agent)
        at = created
        first = True
        waiting: datetime | None = None
        for seq in range(1, n + 1):
            is_staff = assigned and seq % 2 == 0
            at += timedelta(seconds=rng.expovariate(1 / (45 if channel == "chat" else 3600)))
            if is_staff:
                at = max(at, created + timedelta(seconds=wait))
                if first:
                    fact("first_response", at, (at - created).total_seconds(), agent)
                    met = (at - created).total_seconds() <= (120 if channel == "chat" else 14400)
                    fact("sla_met" if met else "sla_breached", at, None, agent,
                         target="first_response")
                    first = False
                if waiting is not None:
                    fact("response", at, (at - waiting).total_seconds(), agent)
                    waiting = None
            elif waiting is None:
                waiting = at
            out.messages.append({
                "id": message_id, "conversation_id": cid, "seq": seq,
                "author_kind": "agent" if is_staff else "contact",
                "author_id": agent if is_staff else None, "visibility": "public",
                "body": f"message {seq} of {cid}", "created_at": at})
            message_id += 1
        rating = None
        if status in ("closed", "resolved") and not abandoned:
            at += timedelta(seconds=rng.expovariate(1 / 600))
            fact("resolved", at, (at - created).total_seconds(), agent)
            if status == "closed":
                fact("closed", at, (at - created).total_seconds(), agent)
            if rng.random() < 0.3:
                rating = rng.choices((1, 2, 3, 4, 5), (5, 5, 10, 30, 50))[0]
                comment = rng.choice(COMMENTS) if rng.random() < 0.3 else ""
                fact("rating", at + timedelta(minutes=1), rating, agent, comment=comment)
        fact_id = fact.next_id
        out.conversations.append({
            "id": cid, "number": f"SB-{9_000_000 + cid}", "channel": channel, "status": status,
            "priority": priority, "department_id": dept, "group_id": group,
            "assignee_id": agent if assigned else None, "contact_id": contact,
            "subject": f"{topic or 'Question'} #{cid}", "topic": topic,
            "required_skills": {}, "custom_fields": {"plan": PLANS[cid % len(PLANS)]},
            "last_seq": n, "rating": rating, "created_at": created, "updated_at": at})
        if len(out.conversations) >= batch:
            yield out
            out = Batch([], [], [])
    if out.conversations:
        yield out


async def insert(sm: SessionMaker, batches: Iterable[Batch]) -> int:
    """Load batches through SQLAlchemy (any database; bench.reports uses COPY instead)."""
    n = 0
    for b in batches:
        async with sm() as s:
            await s.execute(sa_insert(Conversation), b.conversations)
            await s.execute(sa_insert(Message), b.messages)
            await s.execute(sa_insert(ReportFact), b.facts)
            await s.commit()
        n += len(b.conversations)
    return n


async def world_of(sm: SessionMaker, contacts: int = 40) -> World:
    """The groups and members of an existing organisation (the demo's), with ``contacts``
    new contacts spread over three new organisations."""
    async with sm() as s:
        groups = (await s.execute(select(Group.id, Group.department_id)
                                  .order_by(Group.id))).all()
        members: dict[int, list[int]] = {}
        for g, a in (await s.execute(select(AgentGroup.group_id, AgentGroup.agent_id)
                                     .order_by(AgentGroup.group_id, AgentGroup.agent_id))):
            members.setdefault(g, []).append(a)
        orgs = [Organisation(name=n) for n in ("Northwind", "Globex", "Initech")]
        s.add_all(orgs)
        await s.flush()
        people = [Contact(name=f"Customer {i}", email=f"customer{i}@example.org",
                          organisation_id=orgs[i % 3].id if i % 4 else None)
                  for i in range(contacts)]
        s.add_all(people)
        await s.commit()
        return World([(g, d) for g, d in groups], members,
                     [(c.id, c.organisation_id) for c in people])
