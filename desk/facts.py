"""Reporting facts: one ``report_facts`` row per event a report counts, written in the
transaction of the change it records (so a report never counts what was rolled back).

The homes that call in: ``desk.sla_store.start`` (created), ``status_changed`` (resolved,
reopened, closed), ``on_messages`` (first response, every response), ``_after_message`` and
``ingest.due`` (SLA met / breached), ``routing.router`` (assigned with its wait, transferred),
``realtime.records.set_status_fields`` (the exit-survey rating), ``api_customer.log_time``
(time logged, ``value`` its seconds, credited to the agent who logged it); ``status_changed`` also
records a chat abandoned in the queue (closed by its visitor before an agent took it).

How the figures count (docs/architecture.md, "Reports"):

- ``value`` is seconds: the queue wait (created -> first assignment; later assignments carry
  none), first response (created -> first public staff message), response (the customer's
  oldest unanswered public message -> the staff reply), resolution (created -> this resolve),
  closed (created -> close); for ``rating`` it is the 1-5 rating.
- A conversation resolved, reopened and resolved again writes two ``resolved`` facts and one
  ``reopened``: reports count it resolved ONCE per range (distinct conversations), with the
  resolution time of its last resolve in the range; reopenings are counted on their own.
  Going to ``closed`` from anything but ``resolved`` (a chat ended) is a resolve too.
- A response is credited to the conversation's assignee at the time (the agent on it).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from desk import webhooks
from desk.mail_rules import STAFF_AUTHORS
from desk.models import Contact, Conversation, Message, ReportFact

DONE = ("resolved", "closed")
WAITING = ("queued", "offered")


def _aware(at: datetime) -> datetime:
    # SQLite hands back naive UTC.
    return at if at.tzinfo is not None else at.replace(tzinfo=UTC)


def _since(conv: Conversation, at: datetime) -> float:
    return max(0.0, (_aware(at) - _aware(conv.created_at)).total_seconds())


def record(s: AsyncSession, kind: str, conv: Conversation, at: datetime, *,
           agent_id: int | None = None, value: float | None = None,
           group_id: int | None = None, contact: Contact | None = None, **data: Any) -> None:
    """THE way a fact is written: the conversation's dimensions as they are now. Every fact
    is also a domain event for the webhooks (desk.webhooks.stage). ``contact``: the
    conversation's, when the caller holds it (else its organisation is read by a subquery,
    which makes the row's INSERT go alone instead of in a batch)."""
    org: Any = None
    if contact is not None and contact.id == conv.contact_id:
        org = contact.organisation_id
    elif conv.contact_id is not None:
        org = select(Contact.organisation_id).where(
            Contact.id == conv.contact_id).scalar_subquery()
    s.add(ReportFact(kind=kind, conversation_id=conv.id, at=at, channel=conv.channel,
                     department_id=conv.department_id,
                     group_id=group_id if group_id is not None else conv.group_id,
                     agent_id=agent_id if agent_id is not None else conv.assignee_id,
                     topic=conv.topic, organisation_id=org, priority=conv.priority,
                     value=value, data=data))
    webhooks.stage(s, kind, conv, at, value=value,
                   agent_id=agent_id if agent_id is not None else conv.assignee_id, **data)


def time_logged(s: AsyncSession, conv: Conversation, at: datetime, agent_id: int,
                minutes: int, contract_id: int | None) -> None:
    record(s, "time_logged", conv, at, agent_id=agent_id, value=minutes * 60.0,
           contract_id=contract_id)


def created(s: AsyncSession, conv: Conversation, at: datetime) -> None:
    record(s, "created", conv, at)


def on_status(s: AsyncSession, conv: Conversation, old: str, new: str, at: datetime,
              actor_id: int | None) -> None:
    """Resolved / reopened / closed facts for a status change ``old`` -> ``new``; a chat its
    visitor closed while it still waited for an agent is abandoned (with its wait), not
    resolved."""
    if conv.channel == "chat" and old in WAITING and new == "closed":
        record(s, "abandoned", conv, at, value=_since(conv, at))
        return
    if new == "resolved" or (new == "closed" and old != "resolved"):
        record(s, "resolved", conv, at, value=_since(conv, at), actor_id=actor_id)
    if new == "closed":
        record(s, "closed", conv, at, value=_since(conv, at), actor_id=actor_id)
    if old in DONE and new not in DONE:
        record(s, "reopened", conv, at, actor_id=actor_id)


async def assigned(s: AsyncSession, conv: Conversation, agent_id: int | None,
                   at: datetime, group_id: int | None) -> None:
    """An agent took the conversation; the first assignment carries the queue wait."""
    first = await s.scalar(select(func.count()).select_from(ReportFact).where(
        ReportFact.conversation_id == conv.id, ReportFact.kind == "assigned")) == 0
    record(s, "assigned", conv, at, agent_id=agent_id, group_id=group_id,
           value=_since(conv, at) if first else None)


def transferred(s: AsyncSession, conv: Conversation, agent_id: int | None, at: datetime,
                group_id: int | None) -> None:
    record(s, "transferred", conv, at, agent_id=agent_id, group_id=group_id,
           from_group=conv.group_id, from_agent=conv.assignee_id)


async def on_messages(s: AsyncSession, conv: Conversation,
                      posted: Sequence[tuple[str, datetime]]) -> None:
    """First response and response facts for one conversation's new public messages
    ((author kind, at) pairs). Customer lines alone cost no query."""
    staff = [at for kind, at in posted if kind in STAFF_AUTHORS]
    if not staff:
        return
    last = await s.scalar(select(func.max(ReportFact.at)).where(
        ReportFact.conversation_id == conv.id,
        ReportFact.kind.in_(("first_response", "response"))))
    waiting_q = select(func.min(Message.created_at)).where(
        Message.conversation_id == conv.id, Message.author_kind == "contact",
        Message.visibility == "public", Message.created_at <= min(staff))
    if last is not None:
        waiting_q = waiting_q.where(Message.created_at > last)
    waiting: datetime | None = await s.scalar(waiting_q)
    first = last is None
    for kind, at in sorted(posted, key=lambda p: _aware(p[1])):
        if kind == "contact":
            waiting = waiting or at
        elif kind in STAFF_AUTHORS:
            if first:
                record(s, "first_response", conv, at, value=_since(conv, at))
                first = False
            if waiting is not None:
                record(s, "response", conv, at,
                       value=max(0.0, (_aware(at) - _aware(waiting)).total_seconds()))
                waiting = None
