"""Conversations (chats and tickets) over HTTP: list with filters, view, reply, note, status.

Scoped like everything else (``Principal.can_access``): an agent sees the conversations of the
groups they belong to now; being the assignee grants nothing once they have left the group.
The visitor's token and contact secrets never appear in these payloads.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from desk import audit, site_config, sla_store, tags, ticket_work, validate
from desk.auth import Principal
from desk.contacts import is_verified
from desk.conversations import append_message, messages_after, viewer_of
from desk.errors import Conflict, Forbidden, InvalidInput, NotFound
from desk.http import (
    Deps,
    JSONResponse,
    api,
    current_principal,
    deps,
    path_int,
    query_int,
    read_json,
)
from desk.limits import BODY_MAX, PRIORITY_MAX
from desk.mail_rules import reply_is_mailed
from desk.models import (
    CHANNELS,
    STATUSES,
    Attachment,
    Contact,
    Conversation,
    Message,
    RoutingDecision,
    Site,
    utcnow,
)
from desk.status_rules import ENDED, STAFF_STATUSES, staff_move, staff_targets

PAGE_MAX = 200
RESOLUTION_NOTE_MAX = 4000


def conversation_json(c: Conversation, contact: Contact | None = None, *,
                      survey: bool = False) -> dict[str, Any]:
    """``survey``: with the customer's exit survey (rating, comment), which only supervisors
    and admins read (``survey_visible``)."""
    return {
        "id": c.id, "number": c.number, "channel": c.channel, "status": c.status,
        "priority": c.priority, "sla_due": c.sla_due.isoformat() if c.sla_due else None,
        "department_id": c.department_id, "group_id": c.group_id, "assignee_id": c.assignee_id,
        "subject": c.subject, "topic": c.topic, "custom_fields": c.custom_fields,
        "language": c.language,
        "required_skills": c.required_skills, "parent_id": c.parent_id,
        "merged_into_id": c.merged_into_id, "resolution_note": c.resolution_note,
        "created_at": c.created_at.isoformat(), "updated_at": c.updated_at.isoformat(),
        "contact": None if contact is None else {
            "id": contact.id, "name": contact.name, "email": contact.email,
            "undeliverable": contact.undeliverable,
            # A typed address is shown as such: only these say who the customer really is.
            "email_verified": contact.email_verified, "verified": is_verified(contact),
        },
        **({"rating": c.rating, "rating_comment": c.rating_comment} if survey else {}),
        "status_options": list(staff_targets(c.status, c.channel)),
    }


def survey_visible(p: Principal) -> bool:
    """Who reads the customers' ratings and comments: supervisors and admins, not agents
    (whose work is rated)."""
    return p.is_supervisor


def message_json(m: Message) -> dict[str, Any]:
    return {
        "id": m.id, "seq": m.seq, "author_kind": m.author_kind, "author_id": m.author_id,
        "author_name": m.author_name, "visibility": m.visibility, "body": m.body,
        "files": m.files or [], "created_at": m.created_at.isoformat(),
    }


def check_access(p: Principal, c: Conversation) -> None:
    if not p.can_access(c.group_id):
        raise Forbidden("not a conversation of your groups")


async def load_conversation(request: Request) -> tuple[Principal, Conversation]:
    """The caller and the conversation of the path's ``id``, which they may open (404, 403)."""
    p = await current_principal(request)
    async with deps(request).sm() as s:
        c = await s.get(Conversation, path_int(request, "id"))
    if c is None:
        raise NotFound("conversation not found")
    check_access(p, c)
    return p, c


async def _load(request: Request) -> tuple[Principal, Conversation, Contact | None]:
    p, c = await load_conversation(request)
    if not c.contact_id:
        return p, c, None
    async with deps(request).sm() as s:
        return p, c, await s.get(Contact, c.contact_id)


@api
async def list_conversations(request: Request) -> Response:
    """Filter by status, channel, group_id, assignee_id (or 'me'), priority; newest first.

    Noise (auto-replies and bulk mail that joined no ticket) is listed only with
    ``status=noise``: it is kept out of every other view of the work."""
    p = await current_principal(request)
    q = (select(Conversation, Contact).outerjoin(Contact, Contact.id == Conversation.contact_id)
         .order_by(Conversation.updated_at.desc()).limit(PAGE_MAX))
    params = request.query_params
    if (status := params.get("status")) is not None:
        if status not in STATUSES:
            raise InvalidInput(f"status must be one of {', '.join(STATUSES)}")
        q = q.where(Conversation.status == status)
    else:
        q = q.where(Conversation.status != "noise")
    if (channel := params.get("channel")) is not None:
        if channel not in CHANNELS:
            raise InvalidInput(f"channel must be one of {', '.join(CHANNELS)}")
        q = q.where(Conversation.channel == channel)
    group_id = query_int(request, "group_id")
    if group_id is not None:
        if not p.can_access(group_id):
            raise Forbidden("not one of your groups")
        q = q.where(Conversation.group_id == group_id)
    assignee = params.get("assignee_id")
    if assignee == "me":
        q = q.where(Conversation.assignee_id == p.agent_id)
    elif assignee is not None:
        q = q.where(Conversation.assignee_id == query_int(request, "assignee_id"))
    priority = query_int(request, "priority", lo=0, hi=PRIORITY_MAX)
    if priority is not None:
        q = q.where(Conversation.priority == priority)
    q = q.where(p.scope(Conversation.group_id))
    async with deps(request).sm() as s:
        rows = (await s.execute(q)).all()
    return JSONResponse([conversation_json(c, contact, survey=survey_visible(p))
                         for c, contact in rows])


@api
async def get_conversation(request: Request) -> Response:
    p, c, contact = await _load(request)
    d = deps(request)
    messages = await messages_after(d.sm, c.id, 0, viewer_of(p), limit=5000)
    async with d.sm() as s:
        files = (await s.execute(
            select(Attachment).where(Attachment.conversation_id == c.id)
        )).scalars().all()
        site = await s.get(Site, c.site_id) if c.site_id else None
        work = await _work(s, c)
    config = site.config if site is not None and isinstance(site.config, dict) else {}
    return JSONResponse({
        **conversation_json(c, contact, survey=survey_visible(p)),
        **work,
        # The department's fields are shown (and edited) as fields, not as form answers.
        "answers": [a for a in site_config.answers(config, c.custom_fields)
                    if a["name"] not in {f["name"] for f in work["fields"]}],
        "messages": [message_json(m) for m in messages],
        "attachments": [{"id": a.id, "message_id": a.message_id, "filename": a.filename,
                         "size": a.size, "content_type": a.content_type} for a in files],
    })


async def _work(s: AsyncSession, c: Conversation) -> dict[str, Any]:
    """What agents keep on a ticket besides messages: tags, copies, the department's fields
    with their values, the ticket it was merged into."""
    merged = await s.get(Conversation, c.merged_into_id) if c.merged_into_id else None
    stored = c.custom_fields if isinstance(c.custom_fields, dict) else {}
    return {"tags": await tags.of(s, c.id), "cc": await ticket_work.copies(s, c.id),
            "fields": [{**f, "value": stored.get(str(f["name"]))}
                       for f in await ticket_work.department_fields(s, c.department_id)],
            "merged_into": merged.number if merged is not None else None}


# The site's own cap (Settings.max_message_chars) is checked on top of BODY_MAX.
MESSAGE = validate.Body({"body": validate.Text(BODY_MAX),
                         "visibility": validate.Choice(("public", "internal")),
                         "client_id": validate.Text(64)}, required=("body",))
CHANGE = validate.Body({"status": validate.Choice(STAFF_STATUSES),
                        "priority": validate.Integer(0, PRIORITY_MAX),
                        "resolution_note": validate.Text(RESOLUTION_NOTE_MAX)})


@validate.described(MESSAGE, status=201)
@api
async def post_message(request: Request) -> Response:
    """Reply (visibility public) or add an internal note to a conversation.

    ``mailed`` in the answer: the reply goes to the customer by mail (``desk.mail_rules``; the
    live layers send it, through ``hooks.message_posted``)."""
    p, c, _ = await _load(request)
    d = deps(request)
    data = await read_json(request)
    body: str = MESSAGE.read(data, "body")
    if len(body) > d.settings.max_message_chars:
        raise InvalidInput(f"body must be 1 to {d.settings.max_message_chars} characters",
                           "body")
    visibility = MESSAGE.read(data, "visibility") or "public"
    client_id = MESSAGE.read(data, "client_id")
    if c.status == "closed" and visibility == "public":
        raise InvalidInput("the conversation is closed")
    msg, created = await append_message(
        d.sm, c.id, author_kind="supervisor" if p.is_supervisor else "agent",
        author_id=p.agent_id, author_name=p.display_name, body=body,
        visibility=visibility or "public", client_id=client_id,
    )
    return await posted(d, c, msg, created)


async def posted(d: Deps, c: Conversation, msg: Message, created: bool) -> Response:
    """The answer to a staff message (text or file): the hooks told of a new one, and whether it
    goes out by mail; 201 for a new message, 200 for a retry of a stored one."""
    if created:
        await d.hooks.message_posted(c.id, msg.id)
    mailed = reply_is_mailed(c.channel, visibility=msg.visibility, author_kind=msg.author_kind,
                             email_message_id=msg.email_message_id)
    return JSONResponse({**message_json(msg), "mailed": mailed},
                        status_code=201 if created else 200)


@validate.described(CHANGE)
@api
async def update_conversation(request: Request) -> Response:
    """Change status or priority. A status move follows ``desk.status_rules`` (409 naming what
    is allowed); what it asks of routing (free the agent, queue again) the hooks carry out."""
    p, c, contact = await _load(request)
    d = deps(request)
    data = await read_json(request)
    status = CHANGE.read(data, "status")
    priority = CHANGE.read(data, "priority")
    note = CHANGE.read(data, "resolution_note")
    async with d.sm() as s:
        row = await s.get(Conversation, c.id)
        assert row is not None
        move = staff_move(row.status, status, row.channel) if status is not None else None
        if note is not None:
            if not (move.ends if move is not None else row.status in ENDED):
                raise InvalidInput("a resolution note goes with resolving or closing",
                                   "resolution_note")
            row.resolution_note = note
        if move is not None and move.ends:
            await ticket_work.require_fields(s, row)
        if move is not None:
            await sla_store.status_changed(s, row, row.status, move.status, utcnow(),
                                           actor_id=p.agent_id, why="set by staff")
            row.status = move.status
            # Staff set this status: a closing now is theirs (mailed), whoever closed before.
            row.closed_by = None
            row.closed_at = (row.closed_at or utcnow()) if move.ends else None
        if priority is not None:
            row.priority = priority
        await s.commit()
    await d.hooks.conversation_changed(c.id)
    if move is not None and move.route:
        await d.hooks.conversation_queued(c.id)
    return JSONResponse(conversation_json(row, contact, survey=survey_visible(p)))


@api
async def promote_conversation(request: Request) -> Response:
    """Make a noise ticket (auto-reply, bulk mail) a normal one, routed in its group."""
    p, c, contact = await _load(request)
    d = deps(request)
    async with d.sm() as s:
        # Locked, so two agents promoting at once route it once (SQLite: BEGIN IMMEDIATE).
        row = (await s.execute(select(Conversation).where(Conversation.id == c.id)
                               .with_for_update())).scalar_one()
        if row.status != "noise":
            raise Conflict(f"conversation {c.id} is {row.status}, not noise")
        now = utcnow()
        audit.record(s, "conversation.promoted", c.id, actor_id=p.agent_id, at=now,
                     why="promoted by staff")
        # The status hook starts its clocks and tells the rules, as for every status change.
        await sla_store.status_changed(s, row, "noise", "queued", now, actor_id=p.agent_id,
                                       why="promoted by staff")
        row.status, row.updated_at = "queued", now
        await s.commit()
    await d.hooks.conversation_changed(c.id)
    await d.hooks.conversation_queued(c.id)
    return JSONResponse(conversation_json(row, contact, survey=survey_visible(p)))


@api
async def routing_decisions(request: Request) -> Response:
    """Why this conversation went where it went (supervisors and admins)."""
    p, c, _ = await _load(request)
    if not p.is_supervisor:
        raise Forbidden("supervisors and admins only")
    async with deps(request).sm() as s:
        rows = (await s.execute(
            select(RoutingDecision).where(RoutingDecision.conversation_id == c.id)
            .order_by(RoutingDecision.id)
        )).scalars().all()
    return JSONResponse([{
        "id": r.id, "agent_id": r.agent_id, "action": r.action, "reason": r.reason,
        "candidates": r.candidates, "created_at": r.created_at.isoformat(),
    } for r in rows])


@api
async def conversation_timeline(request: Request) -> Response:
    """The audit trail of a conversation: status changes, assignments, transfers, SLA met
    and breached, rule firings, supervisor monitoring, in order (who, what, when, why)."""
    _, c, _ = await _load(request)
    async with deps(request).sm() as s:
        rows = await audit.timeline(s, c.id)
    return JSONResponse([audit.event_json(e) for e in rows])


routes = [
    Route("/api/conversations", list_conversations, methods=["GET"]),
    Route("/api/conversations/{id:int}", get_conversation, methods=["GET"]),
    Route("/api/conversations/{id:int}", update_conversation, methods=["PATCH"]),
    Route("/api/conversations/{id:int}/messages", post_message, methods=["POST"]),
    Route("/api/conversations/{id:int}/decisions", routing_decisions, methods=["GET"]),
    Route("/api/conversations/{id:int}/promote", promote_conversation, methods=["POST"]),
    Route("/api/conversations/{id:int}/timeline", conversation_timeline, methods=["GET"]),
]
