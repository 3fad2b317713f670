"""Internal tasks: a title, an owner, a due time, a reminder, open or done, about any number of
cases, chats or call logs (conversations the creator may open).

Due and reminder times have the commitments' one check (``desk.due_times.due``: from now on, at
most a year ahead; a reminder not after the due time). The reminder is sent once by the
worker (``ingest.task_reminders``): a mail to the owner and the console's "My tasks" notice;
moving the reminder arms it again.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from desk import validate
from desk.auth import Principal
from desk.due_times import active_owner, aware, due
from desk.errors import Forbidden, InvalidInput
from desk.models import Conversation, Task, TaskLink
from desk.models.work import TASK_STATUSES, TITLE_MAX

LINKS_MAX = 20
LIST_MAX = 200


_TIME = {"type": "string", "format": "date-time", "maxLength": 40}
# Times are commitments.due's to check (against now); their schema says the shape.
TASK = validate.Body({"title": validate.Text(TITLE_MAX), "owner_id": validate.RecordId(),
                      "due_at": validate.Part(_TIME, nullable=True),
                      "remind_at": validate.Part(_TIME, nullable=True),
                      "related": validate.IdList(LINKS_MAX)}, required=("title",))
CHANGE = validate.Body({"status": validate.Choice(TASK_STATUSES),
                        "owner_id": validate.RecordId(),
                        "due_at": TASK.fields["due_at"], "remind_at": TASK.fields["remind_at"]})


def _time(data: dict[str, Any], key: str, now: datetime) -> datetime | None:
    return None if data.get(key) is None else due(data, now, key)


def _order(due_at: datetime | None, remind_at: datetime | None) -> None:
    if due_at is not None and remind_at is not None and aware(remind_at) > aware(due_at):
        raise InvalidInput("remind_at must not be after due_at", "remind_at")


async def _links(s: AsyncSession, p: Principal, data: dict[str, Any]) -> list[int]:
    ids = TASK.read(data, "related") or []
    for cid in dict.fromkeys(ids):
        conv = await s.get(Conversation, cid)
        if conv is None or not p.can_access(conv.group_id):
            raise InvalidInput(f"related: conversation {cid} is not one you may open",
                               "related")
    return list(dict.fromkeys(ids))


async def create(s: AsyncSession, p: Principal, data: dict[str, Any], now: datetime) -> Task:
    title: str = TASK.read(data, "title")
    due_at, remind_at = _time(data, "due_at", now), _time(data, "remind_at", now)
    _order(due_at, remind_at)
    owner = await active_owner(s, TASK.read(data, "owner_id") or p.agent_id)
    links = await _links(s, p, data)
    task = Task(title=title, owner_id=owner, due_at=due_at, remind_at=remind_at,
                created_by=p.agent_id, created_at=now)
    s.add(task)
    await s.flush()
    s.add_all(TaskLink(task_id=task.id, conversation_id=c) for c in links)
    return task


def may_change(p: Principal, task: Task) -> None:
    if p.agent_id not in (task.owner_id, task.created_by) and not p.is_supervisor:
        raise Forbidden("only its owner, its creator or a supervisor changes a task")


async def change(s: AsyncSession, p: Principal, task: Task, data: dict[str, Any],
                 now: datetime) -> None:
    """Mark it done or open again, move its due time or reminder, hand it over."""
    may_change(p, task)
    status = CHANGE.read(data, "status")
    due_at = _time(data, "due_at", now) if "due_at" in data else task.due_at
    remind_at = _time(data, "remind_at", now) if "remind_at" in data else task.remind_at
    _order(due_at, remind_at)
    if (owner := CHANGE.read(data, "owner_id")) is not None:
        task.owner_id = await active_owner(s, owner)
    if "remind_at" in data:
        task.reminded_at = None  # a new reminder time is a new reminder
    task.due_at, task.remind_at = due_at, remind_at
    if status is not None:
        task.status, task.done_at = status, now if status == "done" else None


async def links_of(s: AsyncSession, ids: list[int]) -> dict[int, list[dict[str, Any]]]:
    out: dict[int, list[dict[str, Any]]] = {i: [] for i in ids}
    rows = await s.execute(select(TaskLink.task_id, Conversation.id, Conversation.number,
                                  Conversation.channel).join(
        Conversation, Conversation.id == TaskLink.conversation_id).where(
        TaskLink.task_id.in_(ids)).order_by(Conversation.id))
    for task_id, cid, number, channel in rows:
        out[task_id].append({"id": cid, "number": number, "channel": channel})
    return out


def iso(t: datetime | None) -> str | None:
    """A task's times on the wire (the API and the pushed reminder: the console keys each
    reminder by ``reminded_at`` in this form)."""
    return aware(t).isoformat() if t is not None else None


def task_json(t: Task, now: datetime, related: list[dict[str, Any]]) -> dict[str, Any]:
    return {"id": t.id, "title": t.title, "owner_id": t.owner_id, "status": t.status,
            "due_at": iso(t.due_at), "remind_at": iso(t.remind_at),
            "reminded_at": iso(t.reminded_at), "created_by": t.created_by,
            "overdue": t.status == "open" and t.due_at is not None and aware(t.due_at) <= now,
            "related": related}
