"""Logged phone calls: a phone contact an agent records becomes a case of channel ``phone``.

``check_call`` is the one check of what an agent submits (pure): direction, number, duration,
notes, resolution and the department's call form (``Department.call_fields``, definitions of
the ticket fields' shape, checked by ``desk.ticket_fields``: one validation for both; the
required ones must be filled here, when the call is logged). ``log_call`` stores it: a
conversation with a number like any case (``create_conversation``), assigned to the agent who
took the call, ``resolved`` when a resolution was given (else ``active``), the notes as an
internal note (so search finds them), and a ``call_logs`` row with the call's own facts. The
case joins the customer's history like any other and continues by mail or the case page
(``phone`` is a mailed channel, ``desk.mail_rules``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from desk import audit, facts, sla_store, ticket_fields, validate
from desk.auth import Principal
from desk.contacts import contact_for_email, normalise_phone
from desk.conversations import append_message, create_conversation
from desk.db import SessionMaker
from desk.errors import Forbidden, InvalidInput, NotFound
from desk.models import DIRECTIONS, CallLog, Contact, Conversation, Department, Group, utcnow
from desk.models.work import PHONE_MAX, RESOLUTION_MAX

NOTES_MAX = 10_000
DURATION_MAX = 24 * 3600
_PHONE = re.compile(r"^\+?[0-9 ().-]{3,32}$")


@dataclass(frozen=True, slots=True)
class Call:
    department_id: int
    direction: str
    phone: str
    duration_s: int
    notes: str
    resolution: str | None
    group_id: int | None = None
    contact_id: int | None = None
    name: str | None = None
    email: str | None = None
    fields: dict[str, object] = field(default_factory=dict)


def check_phone(data: dict[str, Any], key: str, *, required: bool = True) -> str | None:
    """A telephone number as stored (normalised), or InvalidInput naming ``key``."""
    raw = validate.text(data, key, max_len=PHONE_MAX, required=required)
    if raw is None:
        return None
    if not _PHONE.match(raw) or len(normalise_phone(raw)) < 3:
        raise InvalidInput(f"{key} must be a telephone number like +49 30 1234567", key)
    return normalise_phone(raw)


def _direction(data: dict[str, Any], key: str) -> str:
    direction = validate.choice(data, key, DIRECTIONS, None)
    if direction is None:
        raise InvalidInput(f"direction must be one of {', '.join(DIRECTIONS)}", "direction")
    return direction


# The call log's body; ``fields`` is checked against the department's call form (check_values).
CALL = validate.Body({
    "department_id": validate.RecordId(),
    "direction": validate.Custom(_direction, {"enum": list(DIRECTIONS)}),
    "phone": validate.Custom(check_phone, {"type": "string", "pattern": _PHONE.pattern,
                                      "maxLength": PHONE_MAX}),
    "duration_s": validate.Integer(0, DURATION_MAX),
    "notes": validate.Text(NOTES_MAX, min_len=0), "resolution": validate.Text(RESOLUTION_MAX),
    "group_id": validate.RecordId(), "contact_id": validate.RecordId(),
    "name": validate.Text(120, min_len=0), "email": validate.Email(),
    "fields": validate.Part(ticket_fields.values_schema() | {"minProperties": 0})},
    required=("department_id", "direction", "phone", "duration_s"))


def check_call(data: dict[str, Any], defs: list[dict[str, Any]]) -> Call:
    """What an agent submitted, checked against the department's call form ``defs``."""
    direction: str = CALL.read(data, "direction")
    phone: str = CALL.read(data, "phone")
    raw = data.get("fields") or {}
    values = ticket_fields.check_values(defs, raw) if raw else {}
    filled = {k: v for k, v in values.items() if v is not None}
    missing = ticket_fields.missing_required(defs, filled)
    if missing:
        raise InvalidInput(f"the call form needs {', '.join(missing)}", "fields")
    return Call(
        department_id=CALL.read(data, "department_id"), direction=direction, phone=phone,
        duration_s=CALL.read(data, "duration_s"), notes=CALL.read(data, "notes") or "",
        resolution=CALL.read(data, "resolution") or None,
        group_id=CALL.read(data, "group_id"), contact_id=CALL.read(data, "contact_id"),
        name=CALL.read(data, "name") or None, email=CALL.read(data, "email"), fields=filled)


def subject(call: Call) -> str:
    return f"{call.direction.capitalize()} call {call.phone}"


async def call_form(sm: SessionMaker, data: dict[str, Any]) -> list[dict[str, Any]]:
    """The call form of ``data``'s department (the same id check as every record id; 404 for
    no such department)."""
    department_id = CALL.read(data, "department_id")
    async with sm() as s:
        dept = await s.get(Department, department_id)
        if dept is None:
            raise NotFound("department not found")
        return ticket_fields.definitions(dept.call_fields)


async def _group(sm: SessionMaker, p: Principal, call: Call) -> int | None:
    async with sm() as s:
        dept = await s.get(Department, call.department_id)
        assert dept is not None
        group_id = call.group_id if call.group_id is not None else dept.front_group_id
        if group_id is not None:
            group = await s.get(Group, group_id)
            if group is None or group.department_id != dept.id:
                raise InvalidInput("group_id must be a group of the department", "group_id")
        if not p.can_access(group_id):
            raise Forbidden("not one of your groups")
        if call.contact_id is not None and await s.get(Contact, call.contact_id) is None:
            raise InvalidInput("contact_id names no contact", "contact_id")
        return group_id


async def _contact(sm: SessionMaker, call: Call) -> int:
    """The caller: the contact named, the one of the email address, else a new one; it
    keeps the number when it had none."""
    contact_id = call.contact_id
    if contact_id is None and call.email is not None:
        contact_id = (await contact_for_email(sm, call.email, call.name)).id
    async with sm() as s:
        contact = await s.get(Contact, contact_id) if contact_id is not None else None
        if contact is None:
            contact = Contact(name=call.name, phone=call.phone)
            s.add(contact)
        elif not contact.phone:
            contact.phone = call.phone
        await s.commit()
        return contact.id


async def log_call(sm: SessionMaker, p: Principal, data: dict[str, Any]) -> Conversation:
    """Check and store a call (every check before the first write)."""
    call = check_call(data, await call_form(sm, data))
    group_id = await _group(sm, p, call)
    contact_id = await _contact(sm, call)
    conv = await create_conversation(
        sm, channel="phone", contact_id=contact_id, department_id=call.department_id,
        group_id=group_id, subject=subject(call), custom_fields=call.fields)
    now = utcnow()
    status = "resolved" if call.resolution else "active"
    async with sm() as s:
        row = await s.get(Conversation, conv.id)
        assert row is not None
        row.assignee_id = p.agent_id
        await facts.assigned(s, row, p.agent_id, now, group_id)
        await sla_store.status_changed(s, row, "queued", status, now, actor_id=p.agent_id,
                                       why="a logged call")
        row.status = status
        if call.resolution:
            row.resolution_note = call.resolution
            row.closed_at = now
        s.add(CallLog(conversation_id=conv.id, direction=call.direction, phone=call.phone,
                      duration_s=call.duration_s, resolution=call.resolution,
                      agent_id=p.agent_id, created_at=now))
        audit.record(s, "call.logged", conv.id, actor_id=p.agent_id, at=now,
                     direction=call.direction, duration_s=call.duration_s)
        await s.commit()
        await s.refresh(row)
    if call.notes:
        await append_message(sm, conv.id, author_kind="agent", author_id=p.agent_id,
                             body=call.notes, visibility="internal")
    return row


def call_json(c: CallLog) -> dict[str, Any]:
    return {"direction": c.direction, "phone": c.phone, "duration_s": c.duration_s,
            "resolution": c.resolution, "agent_id": c.agent_id,
            "created_at": c.created_at.isoformat()}
