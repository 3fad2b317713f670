"""Commitments: an action an agent commits to on a case ("call back", "send replacement"), with
a type, an owner, a due time and whether the customer sees it.

``due`` is the one check of a due time (``desk.due_times``: an ISO 8601 time with its zone,
from now on, at most ``HORIZON`` ahead; a 422 saying which). Every change of a due date is kept
(``CommitmentChange``: from, to, who and why). A pending commitment has one due timer
(``commitment:<id>``, instance its due time; ``desk.timer_rows``), so the worker's sweep
(``ingest.due``) fires it once when it passes: audited, and the rules of event
``commitment_overdue`` run on the case. Moving the date re-arms it; done or cancelled drops it.
The customer's case page shows the public ones (``public_of``).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from desk import audit, timer_rows, validate
from desk.due_times import active_owner, aware, due
from desk.errors import Conflict, InvalidInput
from desk.limits import NAME_MAX
from desk.models import Commitment, CommitmentChange
from desk.models.work import WHY_MAX

ENDS = ("done", "cancelled")
LIST_MAX = 200


_DUE = {"type": "string", "format": "date-time", "maxLength": 40}
# Due times are ``due``'s to check (against now); their schema says the shape.
COMMIT = validate.Body({"kind": validate.Text(NAME_MAX), "due_at": validate.Part(_DUE),
                        "owner_id": validate.RecordId(), "public": validate.Boolean()},
                       required=("kind", "due_at"))
CHANGE = validate.Body({"due_at": validate.Part(_DUE), "why": validate.Text(WHY_MAX),
                        "owner_id": validate.RecordId(), "status": validate.Choice(ENDS)})


def is_overdue(c: Commitment, now: datetime) -> bool:
    return c.status == "pending" and aware(c.due_at) <= now


def timer_kind(commitment_id: int) -> str:
    return f"commitment:{commitment_id}"


async def _arm(s: AsyncSession, c: Commitment) -> None:
    kind = timer_kind(c.id)
    want = {kind: (aware(c.due_at).isoformat(), c.due_at)} if c.status == "pending" else {}
    await timer_rows.set_timers(s, c.conversation_id, want, [kind])


async def add(s: AsyncSession, conversation_id: int, actor_id: int, data: dict[str, Any],
              now: datetime) -> Commitment:
    kind: str = COMMIT.read(data, "kind")
    at = due(data, now)
    owner = await active_owner(s, COMMIT.read(data, "owner_id") or actor_id)
    c = Commitment(conversation_id=conversation_id, kind=kind, owner_id=owner,
                   due_at=at, public=bool(COMMIT.read(data, "public")),
                   created_by=actor_id, created_at=now)
    s.add(c)
    await s.flush()
    await _arm(s, c)
    audit.record(s, "commitment.added", conversation_id, actor_id=actor_id, at=now,
                 commitment=c.id, kind=kind, due=at.isoformat())
    return c


async def change(s: AsyncSession, c: Commitment, actor_id: int, data: dict[str, Any],
                 now: datetime) -> None:
    """Move the due date (``due_at`` with ``why``), hand it to another owner, or end it
    (``status`` done or cancelled)."""
    if c.status != "pending":
        raise Conflict(f"the commitment is {c.status}")
    status = CHANGE.read(data, "status")
    if "due_at" in data:
        at = due(data, now)
        why: str = CHANGE.but(required=("why",)).read(data, "why")
        s.add(CommitmentChange(commitment_id=c.id, old_due=c.due_at, new_due=at, by_id=actor_id,
                               why=why, at=now))
        audit.record(s, "commitment.moved", c.conversation_id, actor_id=actor_id, at=now,
                     commitment=c.id, old=aware(c.due_at).isoformat(), new=at.isoformat(),
                     why=why)
        c.due_at = at
    if (owner := CHANGE.read(data, "owner_id")) is not None:
        c.owner_id = await active_owner(s, owner)
    if status is not None:
        c.status, c.done_at = status, now
        audit.record(s, f"commitment.{status}", c.conversation_id, actor_id=actor_id, at=now,
                     commitment=c.id)
    if status is None and "due_at" not in data and owner is None:
        raise InvalidInput("change due_at (with why), owner_id or status", "due_at")
    await _arm(s, c)


async def changes_of(s: AsyncSession, ids: Sequence[int]) -> dict[int, list[CommitmentChange]]:
    out: dict[int, list[CommitmentChange]] = {i: [] for i in ids}
    for ch in await s.scalars(select(CommitmentChange).where(
            CommitmentChange.commitment_id.in_(ids)).order_by(CommitmentChange.id)):
        out[ch.commitment_id].append(ch)
    return out


def commitment_json(c: Commitment, now: datetime,
                    changes: Sequence[CommitmentChange] = ()) -> dict[str, Any]:
    return {"id": c.id, "conversation_id": c.conversation_id, "kind": c.kind,
            "owner_id": c.owner_id, "due_at": aware(c.due_at).isoformat(), "public": c.public,
            "status": c.status, "overdue": is_overdue(c, now),
            "created_at": aware(c.created_at).isoformat(),
            "changes": [{"old_due": aware(ch.old_due).isoformat(),
                         "new_due": aware(ch.new_due).isoformat(), "by_id": ch.by_id,
                         "why": ch.why, "at": aware(ch.at).isoformat()} for ch in changes]}


async def public_of(s: AsyncSession, conversation_id: int) -> list[dict[str, Any]]:
    """What the customer sees: the public commitments, pending or done, without owners."""
    rows = await s.scalars(select(Commitment).where(
        Commitment.conversation_id == conversation_id, Commitment.public.is_(True),
        Commitment.status != "cancelled").order_by(Commitment.due_at).limit(LIST_MAX))
    return [{"kind": c.kind, "due_at": aware(c.due_at).isoformat(), "status": c.status}
            for c in rows]
