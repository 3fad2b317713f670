"""Logged calls and commitments over HTTP.

- ``POST /api/calls``                        log a phone call (``desk.calls``): 201, the case
- ``GET  /api/conversations/{id}/call``      the call a ``phone`` case was logged from
- ``GET|PUT /api/departments/{id}/call-fields``  the department's call form (PUT: admins)
- ``GET|POST /api/conversations/{id}/commitments``  a case's commitments with their date
  changes; ``{"kind", "due_at", "owner_id"?, "public"?}`` commits one (``desk.commitments``)
- ``PATCH /api/commitments/{id}``            ``{"due_at", "why"}``, ``{"owner_id"}`` or
  ``{"status": "done" | "cancelled"}``
- ``GET  /api/commitments?owner_id=me|<id>``  pending ones per owner, soonest first, overdue
  flagged (within the caller's groups)
- ``POST /api/tasks``                        ``{"title", "owner_id"?, "due_at"?, "remind_at"?,
  "related"?: [conversation id]}`` (``desk.tasks``)
- ``GET  /api/tasks?owner_id=me|<id>&status=open|done``  soonest due first
- ``PATCH /api/tasks/{id}``                  ``{"status"}``, ``{"due_at"}``, ``{"remind_at"}``,
  ``{"owner_id"}``
"""

from __future__ import annotations

from sqlalchemy import select
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from desk import calls, commitments, tasks, validate
from desk.api_conversations import (
    check_access,
    conversation_json,
    load_conversation,
    survey_visible,
)
from desk.api_tickets import DEFINITIONS, field_definitions
from desk.errors import InvalidInput, NotFound
from desk.http import (
    JSONResponse,
    api,
    current_principal,
    deps,
    get_or_404,
    path_int,
    read_json,
)
from desk.models import CallLog, Commitment, Contact, Conversation, Task, utcnow


@validate.described(calls.CALL, status=201)
@api
async def log_call(request: Request) -> Response:
    """Log a phone call as a new case of channel phone, on the department's call form."""
    p = await current_principal(request)
    d = deps(request)
    conv = await calls.log_call(d.sm, p, await read_json(request))
    async with d.sm() as s:
        contact = await s.get(Contact, conv.contact_id) if conv.contact_id else None
        call = await s.scalar(select(CallLog).where(CallLog.conversation_id == conv.id))
    assert call is not None
    await d.hooks.conversation_changed(conv.id)
    return JSONResponse({**conversation_json(conv, contact, survey=survey_visible(p)),
                         "call": calls.call_json(call)}, status_code=201)


@api
async def get_call(request: Request) -> Response:
    """The call a phone case was logged from."""
    _, c = await load_conversation(request)
    async with deps(request).sm() as s:
        call = await s.scalar(select(CallLog).where(CallLog.conversation_id == c.id))
    if call is None:
        raise NotFound("no call was logged for this conversation")
    return JSONResponse(calls.call_json(call))


@validate.described(DEFINITIONS)
@api
async def call_fields(request: Request) -> Response:
    """The department's call form (GET: staff; PUT: admins)."""
    return await field_definitions(request, "call_fields")


@validate.described(commitments.COMMIT, status=201)
@api
async def case_commitments(request: Request) -> Response:
    """A case's commitments (GET), or commit to one (POST)."""
    p, c = await load_conversation(request)
    d = deps(request)
    now = utcnow()
    async with d.sm() as s:
        if request.method == "POST":
            made = await commitments.add(s, c.id, p.agent_id, await read_json(request), now)
            await s.commit()
            await d.hooks.conversation_changed(c.id)
            return JSONResponse(commitments.commitment_json(made, now), status_code=201)
        rows = list(await s.scalars(select(Commitment).where(Commitment.conversation_id == c.id)
                                    .order_by(Commitment.due_at).limit(commitments.LIST_MAX)))
        changes = await commitments.changes_of(s, [r.id for r in rows])
    return JSONResponse([commitments.commitment_json(r, now, changes[r.id]) for r in rows])


@validate.described(commitments.CHANGE)
@api
async def change_commitment(request: Request) -> Response:
    """Move a commitment's due date (with why), change its owner, or mark it done or
    cancelled."""
    p = await current_principal(request)
    d = deps(request)
    data = await read_json(request)
    now = utcnow()
    async with d.sm() as s:
        row = await get_or_404(s, Commitment, path_int(request, "id"), "commitment")
        conv = await get_or_404(s, Conversation, row.conversation_id, "conversation")
        check_access(p, conv)
        await commitments.change(s, row, p.agent_id, data, now)
        await s.commit()
        changes = await commitments.changes_of(s, [row.id])
    await d.hooks.conversation_changed(row.conversation_id)
    return JSONResponse(commitments.commitment_json(row, now, changes[row.id]))


@api
async def pending_commitments(request: Request) -> Response:
    """Pending commitments of one owner (``owner_id``: me or an agent's id), soonest first."""
    p = await current_principal(request)
    raw = request.query_params.get("owner_id", "me")
    if raw != "me" and not (raw.isdigit() and len(raw) <= 10):
        raise InvalidInput("owner_id must be me or an agent's id", "owner_id")
    owner = p.agent_id if raw == "me" else int(raw)
    now = utcnow()
    async with deps(request).sm() as s:
        rows = (await s.execute(
            select(Commitment, Conversation.number).join(
                Conversation, Conversation.id == Commitment.conversation_id)
            .where(Commitment.owner_id == owner, Commitment.status == "pending",
                   p.scope(Conversation.group_id))
            .order_by(Commitment.due_at).limit(commitments.LIST_MAX))).all()
    return JSONResponse([{**commitments.commitment_json(c, now), "number": number}
                         for c, number in rows])


@validate.described(tasks.TASK, status=201)
@api
async def create_task(request: Request) -> Response:
    """Create an internal task, related to conversations the caller may open."""
    p = await current_principal(request)
    now = utcnow()
    async with deps(request).sm() as s:
        task = await tasks.create(s, p, await read_json(request), now)
        await s.commit()
        related = await tasks.links_of(s, [task.id])
    return JSONResponse(tasks.task_json(task, now, related[task.id]), status_code=201)


@api
async def list_tasks(request: Request) -> Response:
    """One owner's tasks (``owner_id``: me or an agent's id; ``status``: open or done)."""
    p = await current_principal(request)
    raw = request.query_params.get("owner_id", "me")
    if raw != "me" and not (raw.isdigit() and len(raw) <= 10):
        raise InvalidInput("owner_id must be me or an agent's id", "owner_id")
    status = request.query_params.get("status", "open")
    if status not in ("open", "done"):
        raise InvalidInput("status must be open or done", "status")
    now = utcnow()
    async with deps(request).sm() as s:
        rows = list(await s.scalars(select(Task).where(
            Task.owner_id == (p.agent_id if raw == "me" else int(raw)), Task.status == status)
            .order_by(Task.due_at, Task.id).limit(tasks.LIST_MAX)))
        related = await tasks.links_of(s, [t.id for t in rows])
    return JSONResponse([tasks.task_json(t, now, related[t.id]) for t in rows])


@validate.described(tasks.CHANGE)
@api
async def change_task(request: Request) -> Response:
    """Mark a task done or open, move its due time or reminder, or hand it over."""
    p = await current_principal(request)
    data = await read_json(request)
    now = utcnow()
    async with deps(request).sm() as s:
        task = await get_or_404(s, Task, path_int(request, "id"), "task")
        await tasks.change(s, p, task, data, now)
        await s.commit()
        related = await tasks.links_of(s, [task.id])
    return JSONResponse(tasks.task_json(task, now, related[task.id]))


routes = [
    Route("/api/calls", log_call, methods=["POST"]),
    Route("/api/conversations/{id:int}/call", get_call, methods=["GET"]),
    Route("/api/departments/{id:int}/call-fields", call_fields, methods=["GET", "PUT"]),
    Route("/api/conversations/{id:int}/commitments", case_commitments,
          methods=["GET", "POST"]),
    Route("/api/commitments/{id:int}", change_commitment, methods=["PATCH"]),
    Route("/api/commitments", pending_commitments, methods=["GET"]),
    Route("/api/tasks", create_task, methods=["POST"]),
    Route("/api/tasks", list_tasks, methods=["GET"]),
    Route("/api/tasks/{id:int}", change_task, methods=["PATCH"]),
]
