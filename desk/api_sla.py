"""Admin API for service levels: business calendars, SLA policies, inactivity ladders.

Admin-only. Every body is checked by the pure rules (desk.business_hours.parse,
desk.sla.parse_targets / parse_conditions, desk.inactivity.parse) before anything is written,
so a calendar without working hours or a target of 0 or of years is a 422 naming the field.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from desk import business_hours as bh
from desk import inactivity, sla, validate
from desk.errors import Conflict, InvalidInput
from desk.http import (
    JSONResponse,
    api,
    commit_unique,
    deps,
    get_or_404,
    path_int,
    read_json,
    require_admin,
)
from desk.limits import NAME_MAX
from desk.models import CHANNELS, BusinessCalendar, Department, SlaPolicy

POSITION_MAX = 10_000


def calendar_json(c: BusinessCalendar) -> dict[str, Any]:
    return {"id": c.id, "name": c.name, **bh.to_json(bh.parse(c.definition))}


def policy_json(p: SlaPolicy) -> dict[str, Any]:
    return {"id": p.id, "name": p.name, "department_id": p.department_id,
            "position": p.position, "conditions": p.conditions, "targets": p.targets,
            "calendar_id": p.calendar_id, "enabled": p.enabled}


# --- calendars -----------------------------------------------------------------------------


def _apply_calendar(c: BusinessCalendar, data: dict[str, Any], partial: bool) -> None:
    if not partial or "name" in data:
        c.name = validate.required_text(data, "name", max_len=NAME_MAX)
    fields: dict[str, Any] = {k: data[k] for k in ("timezone", "hours", "holidays", "always_open")
                              if k in data}
    if fields or not partial:
        merged: dict[str, Any] = bh.to_json(bh.parse(c.definition)) if partial else {}
        merged.update(fields)
        c.definition = bh.to_json(bh.parse(merged))


@api
async def list_calendars(request: Request) -> Response:
    await require_admin(request)
    async with deps(request).sm() as s:
        rows = await s.scalars(select(BusinessCalendar).order_by(BusinessCalendar.id))
        return JSONResponse([calendar_json(c) for c in rows])


@api
async def create_calendar(request: Request) -> Response:
    """A business-hours calendar: timezone, hours per weekday, holidays, or always_open."""
    await require_admin(request)
    data = await read_json(request)
    c = BusinessCalendar()
    _apply_calendar(c, data, partial=False)
    async with deps(request).sm() as s:
        s.add(c)
        await commit_unique(s, "calendar")
        return JSONResponse(calendar_json(c), status_code=201)


@api
async def update_calendar(request: Request) -> Response:
    """Change a calendar (clocks already running keep their due times until they move)."""
    await require_admin(request)
    data = await read_json(request)
    async with deps(request).sm() as s:
        c = await get_or_404(s, BusinessCalendar, path_int(request, "id"), "calendar")
        _apply_calendar(c, data, partial=True)
        await commit_unique(s, "calendar")
        return JSONResponse(calendar_json(c))


@api
async def delete_calendar(request: Request) -> Response:
    await require_admin(request)
    async with deps(request).sm() as s:
        c = await get_or_404(s, BusinessCalendar, path_int(request, "id"), "calendar")
        used = await s.scalar(select(SlaPolicy.id).where(SlaPolicy.calendar_id == c.id)
                              .limit(1))
        if used is not None:
            raise Conflict(f"calendar {c.id} is used by SLA policy {used}")
        await s.delete(c)
        await s.commit()
    return Response(status_code=204)


# --- policies ------------------------------------------------------------------------------


async def _apply_policy(s: AsyncSession, p: SlaPolicy, data: dict[str, Any],
                        partial: bool) -> None:
    if not partial or "name" in data:
        p.name = validate.required_text(data, "name", max_len=NAME_MAX)
    if not partial or "targets" in data:
        p.targets = sla.parse_targets(data.get("targets"))
    if not partial or "conditions" in data:
        p.conditions = sla.conditions_json(sla.parse_conditions(data.get("conditions"),
                                                                CHANNELS))
    if "department_id" in data:
        dept = validate.record_id(data, "department_id")
        if dept is not None:
            await get_or_404(s, Department, dept, "department")
        p.department_id = dept
    if "calendar_id" in data:
        cal = validate.record_id(data, "calendar_id")
        if cal is not None:
            await get_or_404(s, BusinessCalendar, cal, "calendar")
        p.calendar_id = cal
    position = validate.integer(data, "position", lo=0, hi=POSITION_MAX,
                                default=None if partial else 0)
    if position is not None:
        p.position = position
    enabled = validate.boolean(data, "enabled", None if partial else True)
    if enabled is not None:
        p.enabled = enabled


@api
async def list_policies(request: Request) -> Response:
    await require_admin(request)
    async with deps(request).sm() as s:
        rows = await s.scalars(select(SlaPolicy).order_by(SlaPolicy.position, SlaPolicy.id))
        return JSONResponse([policy_json(p) for p in rows])


@api
async def create_policy(request: Request) -> Response:
    """An SLA policy: targets (business seconds) chosen by department and conditions."""
    await require_admin(request)
    data = await read_json(request)
    async with deps(request).sm() as s:
        p = SlaPolicy()
        await _apply_policy(s, p, data, partial=False)
        s.add(p)
        await commit_unique(s, "policy")
        return JSONResponse(policy_json(p), status_code=201)


@api
async def update_policy(request: Request) -> Response:
    """Change a policy; it applies to conversations created from now on."""
    await require_admin(request)
    data = await read_json(request)
    async with deps(request).sm() as s:
        p = await get_or_404(s, SlaPolicy, path_int(request, "id"), "policy")
        await _apply_policy(s, p, data, partial=True)
        await commit_unique(s, "policy")
        return JSONResponse(policy_json(p))


@api
async def delete_policy(request: Request) -> Response:
    await require_admin(request)
    async with deps(request).sm() as s:
        await s.delete(await get_or_404(s, SlaPolicy, path_int(request, "id"), "policy"))
        await s.commit()
    return Response(status_code=204)


# --- inactivity ladder ---------------------------------------------------------------------


@api
async def get_ladder(request: Request) -> Response:
    await require_admin(request)
    async with deps(request).sm() as s:
        d = await get_or_404(s, Department, path_int(request, "id"), "department")
        steps = inactivity.DEFAULT if d.ladder is None else inactivity.parse(d.ladder)
        return JSONResponse({"department_id": d.id, "default": d.ladder is None,
                             "steps": inactivity.to_json(steps)})


@api
async def set_ladder(request: Request) -> Response:
    """The department's inactivity ladder: ``steps`` ([] for none), or ``null`` for the
    default 7/14/21 days. Conversations already pending keep the ladder they started on."""
    await require_admin(request)
    data = await read_json(request)
    if "steps" not in data:
        raise InvalidInput("steps is required (a list, or null for the default)")
    steps = None if data["steps"] is None else inactivity.parse(data["steps"])
    async with deps(request).sm() as s:
        d = await get_or_404(s, Department, path_int(request, "id"), "department")
        d.ladder = None if steps is None else inactivity.to_json(steps)
        await s.commit()
        shown = inactivity.DEFAULT if steps is None else steps
        return JSONResponse({"department_id": d.id, "default": steps is None,
                             "steps": inactivity.to_json(shown)})


routes = [
    Route("/api/calendars", list_calendars, methods=["GET"]),
    Route("/api/calendars", create_calendar, methods=["POST"]),
    Route("/api/calendars/{id:int}", update_calendar, methods=["PATCH"]),
    Route("/api/calendars/{id:int}", delete_calendar, methods=["DELETE"]),
    Route("/api/sla-policies", list_policies, methods=["GET"]),
    Route("/api/sla-policies", create_policy, methods=["POST"]),
    Route("/api/sla-policies/{id:int}", update_policy, methods=["PATCH"]),
    Route("/api/sla-policies/{id:int}", delete_policy, methods=["DELETE"]),
    Route("/api/departments/{id:int}/ladder", get_ladder, methods=["GET"]),
    Route("/api/departments/{id:int}/ladder", set_ladder, methods=["PUT"]),
]
