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
    admin_crud,
    api,
    deps,
    get_or_404,
    path_int,
    read_json,
    require_admin,
)
from desk.limits import NAME_MAX
from desk.models import CHANNELS, BusinessCalendar, Department, SlaPolicy

POSITION_MAX = 10_000

# The bodies: the handlers read through these and the API description is generated from them;
# the nested parts' schemas sit beside their parsers (business_hours, sla, inactivity).
CALENDAR = validate.Body({"name": validate.Text(NAME_MAX),
                          **{k: validate.Part(v) for k, v in bh.field_schemas().items()}},
                         required=("name",))
CALENDAR_UPDATE = CALENDAR.but(required=())
POLICY = validate.Body({
    "name": validate.Text(NAME_MAX),
    "targets": validate.Custom(lambda d, k: sla.parse_targets(d.get(k)), sla.targets_schema()),
    "conditions": validate.Custom(
        lambda d, k: sla.conditions_json(sla.parse_conditions(d.get(k), CHANNELS)),
        sla.conditions_schema(CHANNELS), nullable=True),
    "department_id": validate.RecordId(nullable=True),
    "calendar_id": validate.RecordId(nullable=True),
    "position": validate.Integer(0, POSITION_MAX), "enabled": validate.Boolean()},
    required=("name", "targets"))
POLICY_UPDATE = POLICY.but(required=())
LADDER = validate.Body({"steps": validate.Custom(
    lambda d, k: None if d.get(k) is None else inactivity.parse(d[k]), inactivity.schema(),
    nullable=True)}, required=("steps",))


def calendar_json(c: BusinessCalendar) -> dict[str, Any]:
    return {"id": c.id, "name": c.name, **bh.to_json(bh.parse(c.definition))}


def policy_json(p: SlaPolicy) -> dict[str, Any]:
    return {"id": p.id, "name": p.name, "department_id": p.department_id,
            "position": p.position, "conditions": p.conditions, "targets": p.targets,
            "calendar_id": p.calendar_id, "enabled": p.enabled}


# --- calendars -----------------------------------------------------------------------------


async def _apply_calendar(_: AsyncSession, c: BusinessCalendar, data: dict[str, Any],
                          partial: bool) -> None:
    body = CALENDAR_UPDATE if partial else CALENDAR
    if not partial or "name" in data:
        c.name = body.read(data, "name")
    fields: dict[str, Any] = {k: body.read(data, k) for k in ("timezone", "hours", "holidays",
                                                              "always_open") if k in data}
    if fields or not partial:
        merged: dict[str, Any] = bh.to_json(bh.parse(c.definition)) if partial else {}
        merged.update(fields)
        c.definition = bh.to_json(bh.parse(merged))


async def _calendar_unused(s: AsyncSession, c: BusinessCalendar) -> None:
    used = await s.scalar(select(SlaPolicy.id).where(SlaPolicy.calendar_id == c.id).limit(1))
    if used is not None:
        raise Conflict(f"calendar {c.id} is used by SLA policy {used}")


calendars = admin_crud(
    BusinessCalendar, "calendar", "calendars", lambda c, _: calendar_json(c),
    order_by=(BusinessCalendar.id,), apply=_apply_calendar, bodies=(CALENDAR, CALENDAR_UPDATE),
    guard=_calendar_unused, docs=(
        "A business-hours calendar: timezone, hours per weekday, holidays, or always_open.",
        "Change a calendar (clocks already running keep their due times until they move)."))


# --- policies ------------------------------------------------------------------------------


async def _apply_policy(s: AsyncSession, p: SlaPolicy, data: dict[str, Any],
                        partial: bool) -> None:
    body = POLICY_UPDATE if partial else POLICY
    if not partial or "name" in data:
        p.name = body.read(data, "name")
    if not partial or "targets" in data:
        p.targets = body.read(data, "targets")
    if not partial or "conditions" in data:
        p.conditions = body.read(data, "conditions")
    if "department_id" in data:
        dept = body.read(data, "department_id")
        if dept is not None:
            await get_or_404(s, Department, dept, "department")
        p.department_id = dept
    if "calendar_id" in data:
        cal = body.read(data, "calendar_id")
        if cal is not None:
            await get_or_404(s, BusinessCalendar, cal, "calendar")
        p.calendar_id = cal
    position = body.read(data, "position")
    if position is not None or not partial:
        p.position = position or 0
    enabled = body.read(data, "enabled")
    if enabled is not None or not partial:
        p.enabled = enabled is not False


policies = admin_crud(
    SlaPolicy, "policy", "policies", lambda p, _: policy_json(p), apply=_apply_policy,
    bodies=(POLICY, POLICY_UPDATE), order_by=(SlaPolicy.position, SlaPolicy.id), docs=(
        "An SLA policy: targets (business seconds) chosen by department and conditions.",
        "Change a policy; it applies to conversations created from now on."))


# --- inactivity ladder ---------------------------------------------------------------------


@api
async def get_ladder(request: Request) -> Response:
    await require_admin(request)
    async with deps(request).sm() as s:
        d = await get_or_404(s, Department, path_int(request, "id"), "department")
        steps = inactivity.DEFAULT if d.ladder is None else inactivity.parse(d.ladder)
        return JSONResponse({"department_id": d.id, "default": d.ladder is None,
                             "steps": inactivity.to_json(steps)})


@validate.described(LADDER)
@api
async def set_ladder(request: Request) -> Response:
    """The department's inactivity ladder: ``steps`` ([] for none), or ``null`` for the
    default 7/14/21 days. Conversations already pending keep the ladder they started on."""
    await require_admin(request)
    data = await read_json(request)
    if "steps" not in data:
        raise InvalidInput("steps is required (a list, or null for the default)")
    steps = LADDER.read(data, "steps")
    async with deps(request).sm() as s:
        d = await get_or_404(s, Department, path_int(request, "id"), "department")
        d.ladder = None if steps is None else inactivity.to_json(steps)
        await s.commit()
        shown = inactivity.DEFAULT if steps is None else steps
        return JSONResponse({"department_id": d.id, "default": steps is None,
                             "steps": inactivity.to_json(shown)})


routes = [
    *calendars.routes("/api/calendars"),
    *policies.routes("/api/sla-policies"),
    Route("/api/departments/{id:int}/ladder", get_ladder, methods=["GET"]),
    Route("/api/departments/{id:int}/ladder", set_ladder, methods=["PUT"]),
]
