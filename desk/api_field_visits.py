"""Field visits over HTTP (``desk.field_visits``), each as the case's access rule allows
(``Principal.can_access`` of the case's group; lists: ``Principal.scope``).

- ``GET|POST /api/conversations/{id}/visits``  a case's visits; order one (``ORDER``): 201
- ``GET  /api/visits/{id}``                    one visit with its reschedulings
- ``PATCH /api/visits/{id}``                   ``{"scheduled_at", "why"}``, ``{"duration_min"}``,
  ``{"technician_id"}`` or ``{"status": "cancelled", "why"}``
- ``POST /api/visits/{id}/complete``           ``{"work_done", "minutes", "outcome"}`` (its
  technician or a supervisor; the minutes are a time entry against the contract)
- ``GET  /api/visits?from&to&tz&technician_id=me|<id>&status``  by scheduled start, soonest
  first (``from``/``to`` read as the reports read them)
- ``GET|PUT /api/departments/{id}/visit-fields``  the department's visit form (PUT: admins)
- ``GET  /visits/{id}/order``                  the printable order (HTML, ``?tz=``)
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import Route

from desk import field_visits, validate, visit_order
from desk.api_conversations import check_access, load_conversation
from desk.api_reports import parse_span, zone_of
from desk.api_tickets import DEFINITIONS, field_definitions
from desk.auth import Principal
from desk.errors import DeskError, InvalidInput
from desk.http import (
    JSONResponse,
    api,
    current_principal,
    deps,
    get_or_404,
    path_int,
    read_json,
)
from desk.models import (
    VISIT_STATUSES,
    Agent,
    Contact,
    Conversation,
    FieldVisit,
    Organisation,
    utcnow,
)

_OWNER_HINT = "technician_id must be me or an agent's id"


async def _visit(request: Request, p: Principal) -> tuple[FieldVisit, Conversation]:
    async with deps(request).sm() as s:
        v = await get_or_404(s, FieldVisit, path_int(request, "id"), "visit")
        conv = await get_or_404(s, Conversation, v.conversation_id, "conversation")
    check_access(p, conv)
    return v, conv


async def _answer(request: Request, visit_id: int, status: int = 200) -> Response:
    async with deps(request).sm() as s:
        v = await get_or_404(s, FieldVisit, visit_id, "visit")
        extras = await field_visits.extras_of(s, [v])
    return JSONResponse(field_visits.visit_json(v, utcnow(), extras[v.id]), status_code=status)


@validate.described(field_visits.ORDER, status=201)
@api
async def case_visits(request: Request) -> Response:
    """A case's field visits (GET), or order one (POST)."""
    p, c = await load_conversation(request)
    d = deps(request)
    now = utcnow()
    if request.method == "POST":
        data = await read_json(request)
        async with d.sm() as s:
            made = await field_visits.add(s, p, c, data, now)
            await s.commit()
        await d.hooks.conversation_changed(c.id)
        return await _answer(request, made.id, 201)
    async with d.sm() as s:
        rows = list(await s.scalars(select(FieldVisit).where(
            FieldVisit.conversation_id == c.id).order_by(FieldVisit.scheduled_at)
            .limit(field_visits.LIST_MAX)))
        extras = await field_visits.extras_of(s, rows)
    return JSONResponse([field_visits.visit_json(v, now, extras[v.id]) for v in rows])


@api
async def get_visit(request: Request) -> Response:
    """One field visit with its reschedulings and, once done, the time logged."""
    p = await current_principal(request)
    v, _ = await _visit(request, p)
    return await _answer(request, v.id)


Step = Callable[[AsyncSession, Principal, FieldVisit, Conversation, dict[str, Any], datetime],
               Awaitable[object]]


async def _step(request: Request, step: Step) -> Response:
    """One change of a visit the caller may open, in one transaction; the visit as it is."""
    p = await current_principal(request)
    data = await read_json(request)
    v, conv = await _visit(request, p)
    async with deps(request).sm() as s:
        row = await get_or_404(s, FieldVisit, v.id, "visit")
        await step(s, p, row, conv, data, utcnow())
        await s.commit()
    await deps(request).hooks.conversation_changed(conv.id)
    return await _answer(request, v.id)


@validate.described(field_visits.CHANGE)
@api
async def change_visit(request: Request) -> Response:
    """Reschedule a visit (with why), change its duration or technician, or cancel it."""
    return await _step(request, field_visits.change)


@validate.described(field_visits.COMPLETE)
@api
async def complete_visit(request: Request) -> Response:
    """Record a visit as done: the work, the outcome and the time spent (a time entry on the
    case, counted against the organisation's contract)."""
    return await _step(request, field_visits.complete)


def _technician(request: Request, p: Principal) -> int | None:
    raw = request.query_params.get("technician_id")
    if raw in (None, ""):
        return None
    if raw == "me":
        return p.agent_id
    if not (raw.isdigit() and len(raw) <= 9):
        raise InvalidInput(_OWNER_HINT, "technician_id")
    return int(raw)


@api
async def list_visits(request: Request) -> Response:
    """Field visits scheduled in a date range, of one technician or all, soonest first;
    only those of cases the caller may open."""
    p = await current_principal(request)
    # In UTC: SQLite keeps the records' UTC wall time and would compare another zone's as is.
    start, end = (t.astimezone(UTC) for t in parse_span(request)[:2])
    technician = _technician(request, p)
    status = request.query_params.get("status") or None
    if status is not None and status not in VISIT_STATUSES:
        raise InvalidInput(f"status must be one of {', '.join(VISIT_STATUSES)}", "status")
    q = (select(FieldVisit, Conversation.number, Conversation.subject, Contact.name,
                Contact.email)
         .join(Conversation, Conversation.id == FieldVisit.conversation_id)
         .join(Contact, Contact.id == Conversation.contact_id, isouter=True)
         .where(FieldVisit.scheduled_at >= start, FieldVisit.scheduled_at < end,
                p.scope(Conversation.group_id))
         .order_by(FieldVisit.scheduled_at, FieldVisit.id).limit(field_visits.LIST_MAX))
    if technician is not None:
        q = q.where(FieldVisit.technician_id == technician)
    if status is not None:
        q = q.where(FieldVisit.status == status)
    now = utcnow()
    async with deps(request).sm() as s:
        rows = (await s.execute(q)).all()
        extras = await field_visits.extras_of(s, [r[0] for r in rows])
    return JSONResponse([{**field_visits.visit_json(v, now, extras[v.id]), "number": number,
                          "subject": subject, "customer": name or email}
                         for v, number, subject, name, email in rows])


@validate.described(DEFINITIONS)
@api
async def visit_fields(request: Request) -> Response:
    """The department's visit form (GET: staff; PUT: admins)."""
    return await field_definitions(request, "visit_fields")


async def _sheet(request: Request) -> tuple[dict[str, Any], visit_order.Case]:
    p = await current_principal(request)
    v, conv = await _visit(request, p)
    async with deps(request).sm() as s:
        extras = await field_visits.extras_of(s, [v])
        contact = await s.get(Contact, conv.contact_id) if conv.contact_id else None
        org = (await s.get(Organisation, contact.organisation_id)
               if contact is not None and contact.organisation_id else None)
        answer = field_visits.visit_json(v, utcnow(), extras[v.id])
        ids = {v.technician_id, v.created_by, v.ended_by,
               *(ch["by_id"] for ch in answer["changes"])} - {None}
        names = {i: name for i, name in await s.execute(
            select(Agent.id, Agent.display_name).where(Agent.id.in_(ids)))}
    case = visit_order.Case(
        number=conv.number, subject=conv.subject,
        customer=contact.name if contact else None,
        customer_email=contact.email if contact else None,
        customer_phone=contact.phone if contact else None,
        organisation=org.name if org else None,
        technician=names.get(v.technician_id, f"agent #{v.technician_id}"),
        ordered_by=names.get(v.created_by) if v.created_by else None, names=names)
    return answer, case


async def print_order(request: Request) -> Response:
    """The printable visit order (HTML with a print stylesheet)."""
    headers = {"Content-Security-Policy": visit_order.CSP, "Cache-Control": "no-store"}
    try:
        zone = zone_of(request)
        answer, case = await _sheet(request)
    except DeskError as exc:
        return HTMLResponse(visit_order.error_page(exc.status, exc.message),
                            status_code=exc.status, headers=headers)
    return HTMLResponse(visit_order.render(answer, case, zone, utcnow()), headers=headers)


routes = [
    Route("/api/conversations/{id:int}/visits", case_visits, methods=["GET", "POST"]),
    Route("/api/visits", list_visits, methods=["GET"]),
    Route("/api/visits/{id:int}", get_visit, methods=["GET"]),
    Route("/api/visits/{id:int}", change_visit, methods=["PATCH"]),
    Route("/api/visits/{id:int}/complete", complete_visit, methods=["POST"]),
    Route("/api/departments/{id:int}/visit-fields", visit_fields, methods=["GET", "PUT"]),
    Route("/visits/{id:int}/order", print_order, methods=["GET"]),
]
