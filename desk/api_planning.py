"""Planning reports: the staffing forecast, help desks by responsible and status, contract
hours, and today's figures for the supervisor board.

- ``GET /api/reports/forecast``: expected arrivals per hour of week for the coming week (the
  mean of that hour over the last ``weeks`` full weeks, in ``tz``; desk.report_math) and the
  agents each hour needs so that ``level`` % of contacts wait at most ``target_wait_s`` with
  ``handle_s`` per contact (Erlang C). Supervisors and admins; ``group_id`` narrows it.
- ``GET /api/reports/desks``: open conversations now per responsible (the assignee) and
  status, ``pending`` among them; agents see their own row (desk.reports.conversation_scope).
- ``GET /api/reports/contracts``: every contract's hours used against hours contracted, and
  those ending within ``days`` days (Softland's report). Supervisors and admins.
- ``GET /api/reports/today``: the overview figures of today in ``tz`` so far, which the
  supervisor board shows beside the router's live queues and agents.
- ``GET|POST /api/reports/schedules``, ``DELETE /api/reports/schedules/{id}``: the caller's
  own scheduled report mails (desk.report_schedules; sent by the worker).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import func, select
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from desk import report_math as rm
from desk import report_schedules as schedules
from desk import reports, validate
from desk.api_conversations import survey_visible
from desk.api_customer import contract_rows
from desk.api_reports import BadRange, _zone, drilldown_link
from desk.auth import Principal
from desk.errors import Conflict, Forbidden, NotFound
from desk.http import (
    JSONResponse,
    api,
    current_principal,
    deps,
    get_or_404,
    path_int,
    query_int,
    read_json,
)
from desk.models import (
    STATUSES,
    Agent,
    Contract,
    Conversation,
    Organisation,
    ReportFact,
    ReportSchedule,
)

OPEN = tuple(s for s in STATUSES if s not in ("resolved", "closed", "noise"))
DAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")


def _supervisors(p: Principal) -> None:
    if not p.is_supervisor:
        raise Forbidden("planning reports are for supervisors and admins")


@api
async def forecast(request: Request) -> Response:
    """Expected arrivals per hour of the coming week and the agents each hour needs."""
    p = await current_principal(request)
    _supervisors(p)
    zone = _zone(request.query_params.get("tz") or "UTC")
    weeks = query_int(request, "weeks", lo=1, hi=52) or 4
    handle_s = query_int(request, "handle_s", lo=10, hi=86_400) or 300
    target_wait_s = query_int(request, "target_wait_s", lo=0, hi=3600)
    target_wait_s = 20 if target_wait_s is None else target_wait_s
    level = query_int(request, "level", lo=1, hi=99) or 80
    group_id = query_int(request, "group_id")
    now = datetime.now(UTC)
    conds = [ReportFact.kind == "created", ReportFact.at >= now - timedelta(weeks=weeks),
             ReportFact.at < now, reports.scope(p)]
    if group_id is not None:
        conds.append(ReportFact.group_id == group_id)
    async with deps(request).sm() as s:
        arrivals = [reports.aware(at) for at in (await s.scalars(
            select(ReportFact.at).where(*conds)))]
    expected = rm.arrivals_forecast(arrivals, now, weeks, zone)
    try:
        agents = rm.staffing(expected, handle_s, target_wait_s, level / 100)
    except ValueError as exc:
        raise BadRange(str(exc), "handle_s") from None
    return JSONResponse({
        "tz": str(zone), "weeks": weeks, "handle_s": handle_s, "target_wait_s": target_wait_s,
        "level": level, "group_id": group_id, "arrivals": len(arrivals),
        "hours": [{"hour_of_week": h, "day": DAYS[h // 24], "hour": h % 24,
                   "expected": round(e, 3), "agents": n}
                  for h, (e, n) in enumerate(zip(expected, agents, strict=True))]})


@api
async def desks(request: Request) -> Response:
    """Open conversations per responsible and status now, and pending per responsible."""
    p = await current_principal(request)
    async with deps(request).sm() as s:
        rows = (await s.execute(
            select(Conversation.assignee_id, Agent.display_name, Conversation.status,
                   func.count())
            .outerjoin(Agent, Agent.id == Conversation.assignee_id)
            .where(Conversation.status.in_(OPEN), reports.conversation_scope(p))
            .group_by(Conversation.assignee_id, Agent.display_name, Conversation.status)
        )).all()
    per: dict[int | None, dict[str, Any]] = {}
    for agent_id, name, status, n in rows:
        row = per.setdefault(agent_id, {"agent_id": agent_id, "agent": name or "",
                                        **dict.fromkeys(OPEN, 0), "total": 0})
        row[status] += n
        row["total"] += n
    ordered = sorted(per.values(), key=lambda r: (r["agent_id"] is None, r["agent"]))
    return JSONResponse({"statuses": list(OPEN), "rows": ordered})


@api
async def contracts_report(request: Request) -> Response:
    """Contract hours used against contracted, and the contracts ending within ``days``."""
    p = await current_principal(request)
    _supervisors(p)
    zone = _zone(request.query_params.get("tz") or "UTC")
    days = query_int(request, "days", lo=0, hi=366)
    days = 30 if days is None else days
    today = datetime.now(UTC).astimezone(zone).date()
    async with deps(request).sm() as s:
        rows = await contract_rows(s, Contract.id.is_not(None), today)
        names = dict((await s.execute(select(Organisation.id, Organisation.name))).all())
    out = [r | {"organisation": names.get(r["organisation_id"], "")} for r in rows]
    soon = today + timedelta(days=days)
    expiring = [r for r in out if r["ends_on"] and today.isoformat() <= r["ends_on"]
                <= soon.isoformat()]
    return JSONResponse({"today": today.isoformat(), "days": days, "rows": out,
                         "expiring": sorted(expiring, key=lambda r: r["ends_on"])})


@api
async def today(request: Request) -> Response:
    """Today's figures so far in ``tz``: handled, abandoned, median wait and first response,
    SLA % met and CSAT, each with its drill-down."""
    p = await current_principal(request)
    zone = _zone(request.query_params.get("tz") or "UTC")
    now = datetime.now(UTC)
    start = rm.bucket_start(now, zone, rm.Grain.DAY)
    r = reports.Range(start, rm.next_start(start, zone, rm.Grain.DAY), zone, rm.Grain.DAY)
    kinds = reports.visible_kinds(p, survey_visible(p))
    async with deps(request).sm() as s:
        facts = await reports.load(s, p, r, kinds)
    t = reports.figures(facts)
    return JSONResponse({
        "from": r.start.isoformat(), "to": r.end.isoformat(), "tz": str(zone),
        "handled": t["resolved"], "created": t["created"], "abandoned": t["abandoned"],
        "wait_median": t["wait_median"], "first_response_median": t["first_response_median"],
        "sla_pct_met": t["sla_pct_met"], "csat_mean": t["csat_mean"],
        "csat_count": t["csat_count"],
        "drilldown": {k: drilldown_link(r, k) for k in ("resolved", "created", "abandoned",
                                                        "assigned", "first_response")}})


@api
async def list_schedules(request: Request) -> Response:
    """My scheduled report mails."""
    p = await current_principal(request)
    async with deps(request).sm() as s:
        rows = (await s.scalars(select(ReportSchedule).where(
            ReportSchedule.agent_id == p.agent_id).order_by(ReportSchedule.id))).all()
    return JSONResponse([schedules.as_json(r) for r in rows])


@validate.described(schedules.SCHEDULE, status=201)
@api
async def create_schedule(request: Request) -> Response:
    """Mail my overview of each day or week to chosen recipients."""
    p = await current_principal(request)
    values = schedules.check(await read_json(request))
    if values["group_id"] is not None and not p.can_access(values["group_id"]):
        raise Forbidden("not a group of yours")
    async with deps(request).sm() as s:
        mine = await s.scalar(select(func.count()).select_from(ReportSchedule).where(
            ReportSchedule.agent_id == p.agent_id))
        if (mine or 0) >= schedules.PER_AGENT_MAX:
            raise Conflict(f"at most {schedules.PER_AGENT_MAX} schedules each")
        row = ReportSchedule(agent_id=p.agent_id, **values)
        s.add(row)
        await s.commit()
        return JSONResponse(schedules.as_json(row), status_code=201)


@api
async def delete_schedule(request: Request) -> Response:
    """Stop one of my scheduled report mails."""
    p = await current_principal(request)
    async with deps(request).sm() as s:
        row = await get_or_404(s, ReportSchedule, path_int(request, "id"), "schedule")
        if row.agent_id != p.agent_id:  # another's schedule is not there for me
            raise NotFound(f"schedule {row.id} not found")
        await s.delete(row)
        await s.commit()
    return Response(status_code=204)


routes = [
    Route("/api/reports/schedules", list_schedules, methods=["GET"]),
    Route("/api/reports/schedules", create_schedule, methods=["POST"]),
    Route("/api/reports/schedules/{id:int}", delete_schedule, methods=["DELETE"]),
    Route("/api/reports/forecast", forecast, methods=["GET"]),
    Route("/api/reports/desks", desks, methods=["GET"]),
    Route("/api/reports/contracts", contracts_report, methods=["GET"]),
    Route("/api/reports/today", today, methods=["GET"]),
]
