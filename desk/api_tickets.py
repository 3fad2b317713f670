"""Ticket work over HTTP: tags, custom fields, copies, forwarding, merge and split.

One route each, on a conversation the caller may open (``load_conversation``: 404, 403); every
input is checked before anything is written (4xx naming the field), each change is audited in
its transaction, and the live layers hear of it through the desk hooks.

- ``PATCH /api/conversations/{id}/tags``     ``{"add": [tag], "remove": [tag]}``
- ``PATCH /api/conversations/{id}/fields``   ``{"fields": {name: value}}`` (the department's)
- ``PUT   /api/conversations/{id}/cc``       ``{"cc": [email]}``: copied on every reply
- ``POST  /api/conversations/{id}/forward``  ``{"to": email, "note"?, "seq"?}`` (mail budget)
- ``POST  /api/conversations/{id}/merge``    ``{"into": id or number}``: this one into that one
- ``POST  /api/conversations/{id}/split``    ``{"seq": n}``: message n and later, a new ticket
- ``GET|PUT /api/departments/{id}/fields``   the field definitions (PUT: admins)
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from desk import audit, tags, ticket_fields, ticket_work, validate
from desk.api_conversations import conversation_json, load_conversation, survey_visible
from desk.auth import Principal
from desk.errors import Conflict, InvalidInput, NotFound
from desk.http import (
    JSONResponse,
    api,
    current_principal,
    deps,
    get_or_404,
    path_int,
    read_json,
    require_admin,
)
from desk.limits import EMAIL_MAX, ID_MAX, ID_MIN, SEQ_MAX
from desk.mail_rules import CC_MAX, MAILED_CHANNELS
from desk.models import Contact, Conversation, Department, Message
from desk.seq import reserve_seq

NOTE_MAX = 2000


def _address_list(data: dict[str, Any], key: str) -> list[str]:
    raw = data.get(key)
    if not isinstance(raw, list) or len(raw) > CC_MAX:
        raise InvalidInput(f"{key} must be a list of at most {CC_MAX} addresses", key)
    out = []
    for i, item in enumerate(raw):
        email = validate.email({f"{key}[{i}]": item}, f"{key}[{i}]")
        assert email is not None
        out.append(email.lower())
    return list(dict.fromkeys(out))


_EMAIL = {"type": "string", "format": "email", "maxLength": EMAIL_MAX}
TAGS = validate.Body({k: validate.Custom(ticket_fields.tag_list, ticket_fields.tags_schema())
                      for k in ("add", "remove")})
FIELDS = validate.Body({"fields": validate.Part(ticket_fields.values_schema())},
                       required=("fields",))
CC = validate.Body({"cc": validate.Custom(_address_list, {"type": "array", "maxItems": CC_MAX,
                                                          "items": _EMAIL})}, required=("cc",))
FORWARD = validate.Body({"to": validate.Email(), "note": validate.Text(NOTE_MAX, min_len=0),
                         "seq": validate.Integer(1, SEQ_MAX)}, required=("to",))
MERGE = validate.Body({"into": validate.Part({"anyOf": [
    {"type": "integer", "minimum": ID_MIN, "maximum": ID_MAX},
    {"type": "string", "pattern": r"^(SB-)?[0-9]{7}$"}]})}, required=("into",))
SPLIT = validate.Body({"seq": validate.Integer(1, SEQ_MAX)}, required=("seq",))
DEFINITIONS = validate.Body({"fields": validate.Custom(
    lambda d, k: ticket_fields.check_definitions(d.get(k)), ticket_fields.definitions_schema())},
    required=("fields",))


async def _row(s: AsyncSession, conversation_id: int) -> Conversation:
    """The conversation again, in the writing transaction."""
    return await get_or_404(s, Conversation, conversation_id, "conversation")


@validate.described(TAGS)
@api
async def change_tags(request: Request) -> Response:
    p, c = await load_conversation(request)
    data = await read_json(request)
    add, remove = TAGS.read(data, "add") or [], TAGS.read(data, "remove") or []
    if not add and not remove:
        raise InvalidInput("name tags to add or remove", "add")
    async with deps(request).sm() as s:
        after = await tags.change(s, await _row(s, c.id), add, remove, p.agent_id)
        await s.commit()
    await deps(request).hooks.conversation_changed(c.id)
    return JSONResponse({"tags": after})


@validate.described(FIELDS)
@api
async def edit_fields(request: Request) -> Response:
    """Set (or, with null, clear) custom fields of the conversation's department."""
    p, c = await load_conversation(request)
    data = await read_json(request)
    async with deps(request).sm() as s:
        defs = await ticket_work.department_fields(s, c.department_id)
        if not defs:
            raise Conflict("the conversation's department defines no fields")
        values = ticket_fields.check_values(defs, FIELDS.read(data, "fields"))
        row = await _row(s, c.id)
        stored = dict(row.custom_fields or {})
        for name, value in values.items():
            if value is None:
                stored.pop(name, None)
            else:
                stored[name] = value
        row.custom_fields = stored
        audit.record(s, "conversation.fields", c.id, actor_id=p.agent_id, values=values)
        await s.commit()
    await deps(request).hooks.conversation_changed(c.id)
    return JSONResponse({"custom_fields": stored, "fields": _fields_json(defs, stored)})


def _fields_json(defs: list[dict[str, Any]], stored: dict[str, Any]) -> list[dict[str, Any]]:
    return [{**f, "value": stored.get(str(f["name"]))} for f in defs]


def _mailed(c: Conversation) -> None:
    if c.channel not in MAILED_CHANNELS:
        raise Conflict(f"a {c.channel} conversation is not answered by mail")


@validate.described(CC)
@api
async def set_cc(request: Request) -> Response:
    """The addresses copied on every reply mailed to the customer."""
    p, c = await load_conversation(request)
    _mailed(c)
    wanted: list[str] = CC.read(await read_json(request), "cc")
    async with deps(request).sm() as s:
        contact = await s.get(Contact, c.contact_id) if c.contact_id else None
        if contact is not None and contact.email and contact.email.lower() in wanted:
            raise InvalidInput("the customer gets every reply already; copy others", "cc")
        after = await ticket_work.set_copies(s, await _row(s, c.id), wanted, p.agent_id)
        await s.commit()
    return JSONResponse({"cc": after})


@validate.described(FORWARD, status=202)
@api
async def forward(request: Request) -> Response:
    """Mail the ticket (its public thread, or message ``seq``) to someone outside the desk,
    who may answer by mail into it (their answer is an internal note)."""
    p, c = await load_conversation(request)
    d = deps(request)
    data = await read_json(request)
    to: str = FORWARD.read(data, "to")
    note = FORWARD.read(data, "note") or ""
    seq = FORWARD.read(data, "seq")
    async with d.sm() as s:
        if seq is not None and await s.scalar(select(Message.id).where(
                Message.conversation_id == c.id, Message.seq == seq,
                Message.visibility == "public")) is None:
            raise InvalidInput(f"{c.number} has no public message {seq}", "seq")
        contact = await s.get(Contact, c.contact_id) if c.contact_id else None
    if contact is not None and (contact.email or "").lower() == to:
        raise InvalidInput("that is the customer: reply instead", "to")
    await d.hooks.admit_mail(to, c.id, f"agent:{p.agent_id}")
    async with d.sm() as s:
        await ticket_work.add_outsider(s, c.id, to)
        event_id = await _record_forward(s, p, c, to, note, seq)
        await s.commit()
        msg = (await s.execute(select(Message).where(
            Message.client_id == f"forward:{event_id}"))).scalar_one()
    await d.hooks.message_posted(c.id, msg.id)
    await d.hooks.forward_recorded(event_id)
    return JSONResponse({"to": to, "seq": seq, "note_seq": msg.seq}, status_code=202)


async def _record_forward(s: AsyncSession, p: Principal, c: Conversation, to: str, note: str,
                          seq: int | None) -> int:
    """The audit event the mail job reads, and an internal note saying so on the thread."""
    event = audit.record(s, "conversation.forwarded", c.id, actor_id=p.agent_id, to=to,
                         note=note, seq=seq)
    await s.flush()
    event_id = event.id
    what = f"message {seq}" if seq is not None else "the ticket"
    s.add(Message(conversation_id=c.id, seq=await reserve_seq(s, c.id), author_kind="system",
                  author_name=p.display_name, visibility="internal",
                  client_id=f"forward:{event_id}",
                  body=f"{p.display_name} forwarded {what} to {to}" + (f": {note}" if note
                                                                        else "")))
    return event_id


async def _target(s: AsyncSession, raw: object) -> Conversation:
    """``into``: a conversation id or number."""
    if isinstance(raw, str):
        number = raw.strip().upper()
        found = (await s.execute(select(Conversation).where(
            Conversation.number == (number if number.startswith("SB-") else f"SB-{number}"))
        )).scalar_one_or_none()
        if found is None:
            raise NotFound(f"no ticket {raw[:20]}")
        return found
    cid = validate.record_id({"into": raw}, "into", required=True)
    assert cid is not None
    return await get_or_404(s, Conversation, cid, "conversation")


@validate.described(MERGE)
@api
async def merge(request: Request) -> Response:
    """Merge this ticket into ``into`` (same customer, both of the caller's groups): its
    messages follow the survivor's in order, it is closed pointing there."""
    p, c = await load_conversation(request)
    d = deps(request)
    data = await read_json(request)
    async with d.sm() as s:
        target = await _target(s, MERGE.read(data, "into"))
        moved = await ticket_work.merge(s, p, await _row(s, c.id), target)
        await s.commit()
        contact = await s.get(Contact, target.contact_id) if target.contact_id else None
    await d.hooks.conversation_changed(c.id)
    await d.hooks.conversation_changed(target.id)
    return JSONResponse({**conversation_json(moved.target, contact, survey=survey_visible(p)),
                         "moved": moved.messages, "merged": moved.source.number})


@validate.described(SPLIT, status=201)
@api
async def split(request: Request) -> Response:
    """Move message ``seq`` and every later one into a new ticket linked to this one."""
    p, c = await load_conversation(request)
    d = deps(request)
    seq: int = SPLIT.read(await read_json(request), "seq")
    async with d.sm() as s:
        moved = await ticket_work.split(s, p, await _row(s, c.id), seq)
        await s.commit()
        contact = await s.get(Contact, c.contact_id) if c.contact_id else None
    await d.hooks.conversation_changed(c.id)
    await d.hooks.conversation_queued(moved.target.id)
    return JSONResponse({**conversation_json(moved.target, contact, survey=survey_visible(p)),
                         "moved": moved.messages}, status_code=201)


@validate.described(DEFINITIONS)
@api
async def department_fields(request: Request) -> Response:
    """The custom fields of a department's conversations (GET: staff; PUT: admins)."""
    return await field_definitions(request, "fields")


async def field_definitions(request: Request, column: str) -> Response:
    """GET (staff) or PUT (admins) a department's definitions of ``desk.ticket_fields``'
    shape kept in ``column`` (the ticket fields, the call form)."""
    if request.method == "PUT":
        await require_admin(request)
        data = await read_json(request)
        defs = DEFINITIONS.read(data, "fields")
    else:
        await current_principal(request)
    async with deps(request).sm() as s:
        dept = await get_or_404(s, Department, path_int(request, "id"))
        if request.method == "PUT":
            setattr(dept, column, defs)
            await s.commit()
        return JSONResponse({"fields": ticket_fields.definitions(getattr(dept, column))})


routes = [
    Route("/api/conversations/{id:int}/tags", change_tags, methods=["PATCH"]),
    Route("/api/conversations/{id:int}/fields", edit_fields, methods=["PATCH"]),
    Route("/api/conversations/{id:int}/cc", set_cc, methods=["PUT"]),
    Route("/api/conversations/{id:int}/forward", forward, methods=["POST"]),
    Route("/api/conversations/{id:int}/merge", merge, methods=["POST"]),
    Route("/api/conversations/{id:int}/split", split, methods=["POST"]),
    Route("/api/departments/{id:int}/fields", department_fields, methods=["GET", "PUT"]),
]
