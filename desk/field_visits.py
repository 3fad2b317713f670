"""Field visits: a visit order made from a case, a technician sent on site.

An order names the address, whom to see there (name, phone), instructions, the scheduled start
and expected duration, the technician (an active agent who may open the case) and the values of
the department's visit form (``Department.visit_fields``: definitions of the ticket fields'
shape, checked by ``desk.ticket_fields``; the required ones when ordered). The scheduled time
has the one rule of due times (``desk.due_times.due``: from now on, within a year).

States: ``scheduled`` -> ``done`` | ``cancelled``. A scheduled visit may be rescheduled (a
``FieldVisitChange`` keeps from, to, who and why, as commitments keep their date changes),
handed to another technician, or cancelled with a why. Done is recorded by its technician (or
a supervisor): the work done, the outcome and the time spent, which is a time entry on the
case through ``desk.timesheet.log``, so the organisation's contract counts it like any time
logged. Every step is an audit event on the case (its timeline) in the step's transaction.

The ``check_*`` functions are pure (every input checked before the first write); ORDER, CHANGE
and COMPLETE are the bodies they read, which the API description is generated from.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from desk import audit, contracts, ticket_fields, timesheet, validate
from desk.auth import Principal, can_access
from desk.calls import check_phone
from desk.due_times import RAW_MAX, aware, due
from desk.errors import Conflict, Forbidden, InvalidInput
from desk.limits import NAME_MAX
from desk.models import (
    VISIT_OUTCOMES,
    Agent,
    AgentGroup,
    Conversation,
    Department,
    FieldVisit,
    FieldVisitChange,
    TimeEntry,
)
from desk.models.field_visits import ADDRESS_MAX, INSTRUCTIONS_MAX, WORK_MAX
from desk.models.work import WHY_MAX

DURATION_MIN, DURATION_MAX = 5, 24 * 60
SCHEDULED = "a visit is scheduled"
LIST_MAX = 500
_TIME = {"type": "string", "format": "date-time", "maxLength": RAW_MAX}
_PHONE_SCHEMA = {"type": "string", "pattern": r"^\+?[0-9 ().-]{3,32}$"}


def _raw(data: dict[str, Any], key: str) -> Any:
    return data.get(key)  # read by its own check below (it needs the clock or the form)


ORDER = validate.Body({
    "address": validate.Text(ADDRESS_MAX),
    "contact_name": validate.Text(NAME_MAX, nullable=True),
    "contact_phone": validate.Custom(lambda d, k: check_phone(d, k, required=False),
                                     _PHONE_SCHEMA, nullable=True),
    "instructions": validate.Text(INSTRUCTIONS_MAX, min_len=0, nullable=True),
    "scheduled_at": validate.Custom(_raw, _TIME),
    "duration_min": validate.Integer(DURATION_MIN, DURATION_MAX),
    "technician_id": validate.RecordId(),
    "fields": validate.Custom(_raw, {"type": "object",
                                     "maxProperties": ticket_fields.FIELDS_MAX}),
}, required=("address", "scheduled_at", "technician_id"))
CHANGE = validate.Body({
    "scheduled_at": validate.Custom(_raw, _TIME), "why": validate.Text(WHY_MAX),
    "duration_min": ORDER.fields["duration_min"], "technician_id": validate.RecordId(),
    "status": validate.Choice(("cancelled",))})
COMPLETE = validate.Body({
    "work_done": validate.Text(WORK_MAX),
    "minutes": validate.Custom(_raw, {"type": "integer", "minimum": 1,
                                      "maximum": contracts.MINUTES_MAX}),
    "outcome": validate.Choice(VISIT_OUTCOMES)}, required=("work_done", "minutes", "outcome"))


@dataclass(frozen=True, slots=True)
class Order:
    address: str
    contact_name: str | None
    contact_phone: str | None
    instructions: str
    scheduled_at: datetime
    duration_min: int
    technician_id: int
    fields: dict[str, object] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Change:
    """A rescheduling (``scheduled_at`` with ``why``), a new duration or technician, or a
    cancellation (``cancel`` with ``why``)."""

    scheduled_at: datetime | None
    why: str | None
    duration_min: int | None
    technician_id: int | None
    cancel: bool


@dataclass(frozen=True, slots=True)
class Completion:
    work_done: str
    minutes: int
    outcome: str


def check_fields(defs: list[dict[str, Any]], raw: object) -> dict[str, object]:
    """The visit form's values: each of its type, the required ones filled."""
    values = ticket_fields.check_values(defs, raw) if raw else {}
    filled = {k: v for k, v in values.items() if v is not None}
    missing = ticket_fields.missing_required(defs, filled)
    if missing:
        raise InvalidInput(f"the visit form needs {', '.join(missing)}", "fields")
    return filled


def check_order(data: dict[str, Any], defs: list[dict[str, Any]], now: datetime) -> Order:
    """What an agent orders, checked against the department's visit form ``defs``."""
    address = ORDER.read(data, "address")
    at = due(data, now, "scheduled_at", SCHEDULED)
    return Order(
        address=address, contact_name=ORDER.read(data, "contact_name"),
        contact_phone=ORDER.read(data, "contact_phone"),
        instructions=ORDER.read(data, "instructions") or "", scheduled_at=at,
        duration_min=ORDER.read(data, "duration_min") or 60,
        technician_id=ORDER.read(data, "technician_id"),
        fields=check_fields(defs, data.get("fields")))


def check_change(data: dict[str, Any], now: datetime) -> Change:
    at = due(data, now, "scheduled_at", SCHEDULED) if "scheduled_at" in data else None
    cancel = CHANGE.read(data, "status") == "cancelled"
    if at is not None and cancel:
        raise InvalidInput("reschedule or cancel, not both", "status")
    why = CHANGE.read(data, "why") if at is not None or cancel else None
    if (at is not None or cancel) and why is None:
        raise InvalidInput("why is required: say why the visit "
                           f"{'is cancelled' if cancel else 'moves'}", "why")
    change = Change(scheduled_at=at, why=why, duration_min=CHANGE.read(data, "duration_min"),
                    technician_id=CHANGE.read(data, "technician_id"), cancel=cancel)
    if at is None and not cancel and change.duration_min is None \
            and change.technician_id is None:
        raise InvalidInput("change scheduled_at (with why), duration_min, technician_id or "
                           "status", "scheduled_at")
    return change


def check_completion(data: dict[str, Any]) -> Completion:
    """What the technician records; the time has the time entries' one check."""
    work = COMPLETE.read(data, "work_done")
    minutes, _ = contracts.check_entry(data.get("minutes"), None)
    outcome = COMPLETE.read(data, "outcome")
    return Completion(work_done=work, minutes=minutes, outcome=outcome)


def is_late(v: FieldVisit, now: datetime) -> bool:
    """Still scheduled after its expected end."""
    return v.status == "scheduled" and \
        aware(v.scheduled_at) + timedelta(minutes=v.duration_min) <= now


# --- records -----------------------------------------------------------------------------


async def visit_form(s: AsyncSession, conv: Conversation) -> list[dict[str, Any]]:
    dept = await s.get(Department, conv.department_id) if conv.department_id else None
    return ticket_fields.definitions(dept.visit_fields) if dept is not None else []


async def _technician(s: AsyncSession, agent_id: int, conv: Conversation) -> int:
    """An active agent who may open the case (else they could not see their own order)."""
    agent = await s.get(Agent, agent_id)
    if agent is None or not agent.is_active:
        raise InvalidInput("technician_id must be an active agent", "technician_id")
    groups = set(await s.scalars(select(AgentGroup.group_id).where(
        AgentGroup.agent_id == agent_id)))
    if not can_access(agent.role, groups, conv.group_id):
        raise InvalidInput("technician_id must be an agent who may open this case (one of "
                           "its group)", "technician_id")
    return agent_id


async def add(s: AsyncSession, p: Principal, conv: Conversation, data: dict[str, Any],
              now: datetime) -> FieldVisit:
    defs = await visit_form(s, conv)
    order = check_order(data, defs, now)
    v = FieldVisit(conversation_id=conv.id, address=order.address,
                   contact_name=order.contact_name, contact_phone=order.contact_phone,
                   instructions=order.instructions, scheduled_at=order.scheduled_at,
                   duration_min=order.duration_min,
                   technician_id=await _technician(s, order.technician_id, conv),
                   form=defs, fields=order.fields, created_by=p.agent_id, created_at=now)
    s.add(v)
    await s.flush()
    audit.record(s, "visit.scheduled", conv.id, actor_id=p.agent_id, at=now, visit=v.id,
                 technician_id=v.technician_id, at_time=order.scheduled_at.isoformat())
    return v


def _scheduled(v: FieldVisit) -> None:
    if v.status != "scheduled":
        raise Conflict(f"the visit is {v.status}")


async def _end(s: AsyncSession, v: FieldVisit, status: str) -> None:
    """Take the visit out of ``scheduled`` if it still is: of two ends at once (done and
    cancelled, or done twice) one wins and the other is a 409, so time is logged once."""
    moved = await s.execute(update(FieldVisit).where(
        FieldVisit.id == v.id, FieldVisit.status == "scheduled").values(status=status)
        .execution_options(synchronize_session=False))
    if moved.rowcount != 1:  # type: ignore[attr-defined]
        raise Conflict("the visit was ended meanwhile")


async def change(s: AsyncSession, p: Principal, v: FieldVisit, conv: Conversation,
                 data: dict[str, Any], now: datetime) -> None:
    """Reschedule (with why), set the duration, hand to another technician, or cancel."""
    _scheduled(v)
    ch = check_change(data, now)
    technician = await _technician(s, ch.technician_id, conv) \
        if ch.technician_id is not None else None
    if ch.scheduled_at is not None:
        assert ch.why is not None
        s.add(FieldVisitChange(visit_id=v.id, old_at=v.scheduled_at, new_at=ch.scheduled_at,
                               by_id=p.agent_id, why=ch.why, at=now))
        audit.record(s, "visit.moved", conv.id, actor_id=p.agent_id, at=now, why=ch.why,
                     visit=v.id, old=aware(v.scheduled_at).isoformat(),
                     new=ch.scheduled_at.isoformat())
        v.scheduled_at = ch.scheduled_at
    if ch.duration_min is not None:
        v.duration_min = ch.duration_min
    if technician is not None and technician != v.technician_id:
        audit.record(s, "visit.reassigned", conv.id, actor_id=p.agent_id, at=now, visit=v.id,
                     technician_id=technician)
        v.technician_id = technician
    if ch.cancel:
        await _end(s, v, "cancelled")
        v.status, v.cancel_why, v.ended_by, v.ended_at = "cancelled", ch.why, p.agent_id, now
        audit.record(s, "visit.cancelled", conv.id, actor_id=p.agent_id, at=now,
                     why=ch.why or "", visit=v.id)


async def complete(s: AsyncSession, p: Principal, v: FieldVisit, conv: Conversation,
                   data: dict[str, Any], now: datetime) -> TimeEntry:
    """The technician's report; the time goes on the case against the contract."""
    if p.agent_id != v.technician_id and not p.is_supervisor:
        raise Forbidden("only the visit's technician or a supervisor records it as done")
    _scheduled(v)
    done = check_completion(data)
    await _end(s, v, "done")
    entry = await timesheet.log(s, conv, p.agent_id, done.minutes,
                                f"Field visit {v.id}: {done.work_done}"[:contracts.NOTE_MAX],
                                now)
    v.status, v.work_done, v.outcome = "done", done.work_done, done.outcome
    v.time_entry_id, v.ended_by, v.ended_at = entry.id, p.agent_id, now
    audit.record(s, "visit.done", conv.id, actor_id=p.agent_id, at=now, visit=v.id,
                 outcome=done.outcome, minutes=done.minutes, contract_id=entry.contract_id)
    return entry


# --- answers ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Extras:
    """What a visit's answer reads from other rows."""

    changes: Sequence[FieldVisitChange] = ()
    entry: TimeEntry | None = None


async def extras_of(s: AsyncSession, visits: Sequence[FieldVisit]) -> dict[int, Extras]:
    ids = [v.id for v in visits]
    changes: dict[int, list[FieldVisitChange]] = {i: [] for i in ids}
    for ch in await s.scalars(select(FieldVisitChange).where(
            FieldVisitChange.visit_id.in_(ids)).order_by(FieldVisitChange.id)):
        changes[ch.visit_id].append(ch)
    entry_ids = [v.time_entry_id for v in visits if v.time_entry_id is not None]
    entries = {e.id: e for e in await s.scalars(select(TimeEntry).where(
        TimeEntry.id.in_(entry_ids)))} if entry_ids else {}
    return {v.id: Extras(changes[v.id], entries.get(v.time_entry_id or 0)) for v in visits}


def _iso(t: datetime | None) -> str | None:
    return aware(t).isoformat() if t is not None else None


def visit_json(v: FieldVisit, now: datetime, extras: Extras = Extras()) -> dict[str, Any]:
    entry = extras.entry
    return {
        "id": v.id, "conversation_id": v.conversation_id, "address": v.address,
        "contact_name": v.contact_name, "contact_phone": v.contact_phone,
        "instructions": v.instructions, "scheduled_at": _iso(v.scheduled_at),
        "duration_min": v.duration_min, "technician_id": v.technician_id,
        "status": v.status, "late": is_late(v, now),
        "fields": [{"name": f["name"], "label": ticket_fields.label(f),
                    "value": (v.fields or {}).get(f["name"])}
                   for f in ticket_fields.definitions(v.form)],
        "work_done": v.work_done, "outcome": v.outcome,
        "minutes": entry.minutes if entry is not None else None,
        "contract_id": entry.contract_id if entry is not None else None,
        "cancel_why": v.cancel_why, "ended_by": v.ended_by, "ended_at": _iso(v.ended_at),
        "created_by": v.created_by, "created_at": _iso(v.created_at),
        "changes": [{"old_at": _iso(ch.old_at), "new_at": _iso(ch.new_at), "by_id": ch.by_id,
                     "why": ch.why, "at": _iso(ch.at)} for ch in extras.changes],
    }


async def of_contact(s: AsyncSession, p: Principal, contact_id: int) -> list[dict[str, Any]]:
    """The customer's visits on every case of theirs the viewer may open, newest first (the
    customer 360's history)."""
    rows = (await s.execute(
        select(FieldVisit, Conversation.number).join(
            Conversation, Conversation.id == FieldVisit.conversation_id)
        .where(Conversation.contact_id == contact_id, p.scope(Conversation.group_id))
        .order_by(FieldVisit.scheduled_at.desc()).limit(50))).all()
    return [{"id": v.id, "conversation_id": v.conversation_id, "number": number,
             "scheduled_at": _iso(v.scheduled_at), "status": v.status, "outcome": v.outcome,
             "address": v.address, "technician_id": v.technician_id} for v, number in rows]
