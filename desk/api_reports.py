"""Reports over HTTP: ``GET /api/reports/{overview|agents|groups|channels|topics|organisations|
fields|csat|sla}``, the
drill-down behind every figure, and CSV (the same rows as the JSON; the conversation-level
export streamed, desk.report_export).

Query: ``from`` and ``to`` (a date: midnight in ``tz``; or an ISO date-time, in ``tz`` when it
has no offset; ``to`` is exclusive), ``tz`` (IANA zone, default UTC), ``group_by``
(hour/day/week/month, default day), ``compare=previous``, filters ``agent_id``, ``group_id``,
``channel``, ``topic``, ``organisation_id``, ``field`` + ``value`` (a custom field's current
value; ``fields`` reports per value of ``field``), and ``format=csv`` with
``table=series|rows|targets``. A range or zone that cannot
be read is a 400 with a message.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Sequence
from datetime import UTC, date, datetime, timedelta
from typing import Any
from urllib.parse import urlencode
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import func, select
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.routing import Route

from desk import report_export, report_rollups, reports
from desk import report_math as rm
from desk.api_conversations import survey_visible
from desk.auth import Principal
from desk.db import SessionMaker
from desk.errors import Forbidden, InvalidInput
from desk.http import JSONResponse, api, current_principal, deps, query_int
from desk.limits import NAME_MAX
from desk.models import (
    CHANNELS,
    FACT_KINDS,
    Agent,
    Conversation,
    Group,
    Organisation,
    ReportFact,
    utcnow,
)
from desk.settings import Settings

REPORTS = ("overview", "agents", "groups", "channels", "topics", "organisations", "fields",
           "csat", "sla")
RANGE_MAX = timedelta(days=400)
LINK_KINDS = tuple(k for k in FACT_KINDS if k != "closed")


class BadRange(InvalidInput):
    """Report parameters that cannot be read: HTTP 400, saying what is wrong."""

    status = 400


def _zone(raw: str) -> ZoneInfo:
    try:
        return ZoneInfo(raw)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        raise BadRange(f"unknown time zone {raw[:64]!r}", "tz") from None


def _instant(raw: str | None, name: str, zone: ZoneInfo) -> datetime:
    if not raw:
        raise BadRange(f"query parameter {name} is required (a date or ISO date-time)", name)
    try:
        if len(raw) == 10:
            return rm.bucket_start(datetime.combine(date.fromisoformat(raw), datetime.min.time(),
                                                    zone), zone, rm.Grain.DAY)
        at = datetime.fromisoformat(raw)
    except ValueError:
        raise BadRange(f"{name} must be a date (2026-03-01) or an ISO date-time", name) from None
    return (at if at.tzinfo is not None else at.replace(tzinfo=zone)).astimezone(zone)


def zone_of(request: Request) -> ZoneInfo:
    """The ``tz`` query parameter (an IANA zone, default UTC)."""
    return _zone(request.query_params.get("tz") or "UTC")


def parse_span(request: Request) -> tuple[datetime, datetime, ZoneInfo]:
    """``from`` and ``to`` (exclusive) read in ``tz``: the one reading of a date range in a
    query (the reports, the field visits list)."""
    q = request.query_params
    zone = zone_of(request)
    start, end = _instant(q.get("from"), "from", zone), _instant(q.get("to"), "to", zone)
    if start.astimezone(UTC) >= end.astimezone(UTC):
        raise BadRange("the range must end after it starts", "to")
    if end - start > RANGE_MAX:
        raise BadRange(f"a range is at most {RANGE_MAX.days} days", "to")
    return start, end, zone


def parse_range(request: Request) -> reports.Range:
    q = request.query_params
    start, end, zone = parse_span(request)
    try:
        grain = rm.Grain(q.get("group_by") or "day")
    except ValueError:
        raise BadRange("group_by must be hour, day, week or month", "group_by") from None
    filters: dict[str, Any] = {}
    for name in ("agent_id", "group_id", "organisation_id"):
        if (value := query_int(request, name)) is not None:
            filters[name] = value
    if channel := q.get("channel"):
        if channel not in CHANNELS:
            raise BadRange(f"channel must be one of {', '.join(CHANNELS)}", "channel")
        filters["channel"] = channel
    if topic := q.get("topic"):
        filters["topic"] = _bounded(topic, "topic")
    custom = None
    if "value" in q:
        custom = (_field_name(request), _bounded(q["value"], "value"))
    r = reports.Range(start, end, zone, grain, filters, custom)
    try:
        rm.bucket_starts(r.start, r.end, r.zone, r.grain)
    except rm.RangeError as exc:
        raise BadRange(str(exc), "group_by") from None
    return r


def _bounded(raw: str, name: str) -> str:
    if len(raw) > NAME_MAX:
        raise BadRange(f"{name} is at most {NAME_MAX} characters", name)
    return raw


def _field_name(request: Request) -> str:
    name = request.query_params.get("field") or ""
    if not name:
        raise BadRange("query parameter field is required (a custom field's name)", "field")
    return _bounded(name, "field")


def _query(r: reports.Range, **narrow: Any) -> str:
    custom = {"field": r.custom[0], "value": r.custom[1]} if r.custom else {}
    return urlencode({"from": r.start.isoformat(), "to": r.end.isoformat(), "tz": str(r.zone),
                      **r.filters, **custom,
                      **{k: v for k, v in narrow.items() if v is not None}})


def drilldown_link(r: reports.Range, kind: str, **narrow: Any) -> str:
    return f"/api/reports/drilldown?kind={kind}&{_query(r, **narrow)}"


def _links(r: reports.Range, kinds: Sequence[str], **narrow: Any) -> dict[str, str]:
    # One encoding per row, not per kind: a year by day is thousands of links.
    q = _query(r, **narrow)
    return {k: f"/api/reports/drilldown?kind={k}&{q}" for k in kinds}


def _series(facts: list[reports.Fact], r: reports.Range,
            kinds: Sequence[str]) -> list[dict[str, Any]]:
    out = []
    for row in reports.series(facts, r):
        sub = reports.Range(datetime.fromisoformat(row["start"]),
                            datetime.fromisoformat(row["end"]), r.zone, r.grain, r.filters,
                            r.custom)
        out.append(row | {"drilldown": _links(sub, kinds)})
    return out


async def _names(sm: SessionMaker, model: Any, label: Any, ids: Iterable[Any]) -> dict[int, str]:
    wanted = [i for i in ids if isinstance(i, int)]
    if not wanted:
        return {}
    async with sm() as s:
        rows = await s.execute(select(model.id, label).where(model.id.in_(wanted)))
        return {i: str(n) for i, n in rows}


async def _rows(sm: SessionMaker, report: str, facts: list[reports.Fact], r: reports.Range,
                kinds: Sequence[str], field_name: str | None) -> list[dict[str, Any]]:
    match report:
        case "agents":
            rows = reports.rows_by(facts, lambda f: f.agent_id, "agent_id")
            names = await _names(sm, Agent, Agent.display_name, (x["agent_id"] for x in rows))
            return [{"agent_id": x["agent_id"], "agent": names.get(x["agent_id"], ""), **x,
                     "drilldown": _links(r, kinds, agent_id=x["agent_id"])} for x in rows]
        case "groups":
            rows = reports.rows_by(facts, lambda f: f.group_id, "group_id")
            names = await _names(sm, Group, Group.name, (x["group_id"] for x in rows))
            return [{"group_id": x["group_id"], "group": names.get(x["group_id"], ""), **x,
                     "drilldown": _links(r, kinds, group_id=x["group_id"])} for x in rows]
        case "channels":
            return [x | {"drilldown": _links(r, kinds, channel=x["channel"])}
                    for x in reports.rows_by(facts, lambda f: f.channel, "channel")]
        case "topics":
            # A conversation without a topic has no link of its own: "no topic" is not a filter.
            return [x | {"drilldown": _links(r, kinds, topic=x["topic"]) if x["topic"] else {}}
                    for x in reports.rows_by(facts, lambda f: f.topic, "topic")]
        case "organisations":
            rows = reports.rows_by(facts, lambda f: f.organisation_id, "organisation_id")
            names = await _names(sm, Organisation, Organisation.name,
                                 (x["organisation_id"] for x in rows))
            return [{"organisation_id": x["organisation_id"],
                     "organisation": names.get(x["organisation_id"], ""), **x,
                     "drilldown": _links(r, kinds, organisation_id=x["organisation_id"])}
                    for x in rows]
        case "fields":
            assert field_name is not None
            return [x | {"drilldown": _links(reports.Range(
                        r.start, r.end, r.zone, r.grain, r.filters, (field_name, x["value"])),
                        kinds) if x["value"] is not None else {}}
                    for x in reports.rows_by(facts, lambda f: f.custom, "value")]
    return []


async def _report(sm: SessionMaker, settings: Settings, p: Principal, report: str,
                  r: reports.Range, field_name: str | None = None) -> dict[str, Any]:
    kinds = reports.visible_kinds(p, survey_visible(p))
    async with sm() as s:
        facts = await report_rollups.load(s, p, r, kinds, report, ZoneInfo(settings.report_tz),
                                          utcnow(), field_name)
    links = tuple(k for k in LINK_KINDS if k in kinds)
    out: dict[str, Any] = {
        "report": report, "from": r.start.isoformat(), "to": r.end.isoformat(),
        "tz": str(r.zone), "group_by": r.grain.value, "filters": r.filters,
        "totals": reports.figures(facts) | {"drilldown": _links(r, links)},
        "series": _series(facts, r, links),
        "rows": await _rows(sm, report, facts, r, links, field_name),
    }
    if report == "csat":
        out["distribution"] = rm.csat(int(v) for v in reports.last_per_conversation(
            f for f in facts if f.kind == "rating"))
        out["comments"] = reports.csat_comments(facts)
    if report == "sla":
        out["targets"] = reports.sla_targets(facts)
    return out


def _csv(rows: list[dict[str, Any]], filename: str) -> Response:
    buf = io.StringIO()
    if rows:
        columns = [c for c in rows[0] if not isinstance(rows[0][c], dict | list)]
        w = csv.writer(buf)
        w.writerow(columns)
        for row in rows:
            w.writerow(["" if row[c] is None else row[c] for c in columns])
    return Response(buf.getvalue(), media_type="text/csv; charset=utf-8",
                    headers={"Content-Disposition": f'attachment; filename="{filename}"'})


async def report(request: Request, name: str) -> Response:
    """A report of the range; ``format=csv`` gives one of its tables as CSV."""
    p = await current_principal(request)
    if name == "csat" and not survey_visible(p):
        raise Forbidden("ratings are for supervisors and admins")
    r = parse_range(request)
    field_name = _field_name(request) if name == "fields" else None
    d = deps(request)
    out = await _report(d.sm, d.settings, p, name, r, field_name)
    if request.query_params.get("compare") == "previous":
        prev = await _report(d.sm, d.settings, p, name, r.previous(), field_name)
        out["previous"] = {k: prev[k] for k in ("from", "to", "totals", "series", "rows")}
    if request.query_params.get("format") == "csv":
        table = request.query_params.get("table") or "series"
        if table not in ("series", "rows", "targets") or table not in out:
            raise BadRange("table must be series, rows or (sla) targets", "table")
        return _csv(out[table], f"{name}-{table}.csv")
    return JSONResponse(out)


def _report_route(name: str) -> Route:
    @api
    async def endpoint(request: Request) -> Response:
        return await report(request, name)

    endpoint.__doc__ = f"The {name} report of a range (JSON, or one table as CSV)."
    return Route(f"/api/reports/{name}", endpoint, methods=["GET"], name=f"report_{name}")


@api
async def report_drilldown(request: Request) -> Response:
    """The conversations behind one figure: facts of ``kind`` in the range and filters."""
    p = await current_principal(request)
    kind = request.query_params.get("kind") or ""
    kinds = reports.visible_kinds(p, survey_visible(p))
    if kind not in kinds:
        raise BadRange(f"kind must be one of {', '.join(kinds)}", "kind")
    r = parse_range(request)
    first = (select(ReportFact.conversation_id, func.min(ReportFact.at).label("at"),
                    func.count().label("facts"))
             .where(*reports.where(p, r, [kind])).group_by(ReportFact.conversation_id)
             .subquery())
    async with deps(request).sm() as s:
        rows = (await s.execute(
            select(Conversation.id, Conversation.number, Conversation.status,
                   Conversation.channel, Conversation.group_id, Conversation.assignee_id,
                   first.c.at, first.c.facts)
            .join(first, first.c.conversation_id == Conversation.id)
            .order_by(first.c.at, Conversation.id).limit(reports.DRILLDOWN_MAX + 1))).all()
    return JSONResponse({"kind": kind, "items": [
        {"id": i, "number": n, "status": st, "channel": ch, "group_id": g, "assignee_id": a,
         "at": reports.aware(at).isoformat(), "facts": c}
        for i, n, st, ch, g, a, at, c in rows[:reports.DRILLDOWN_MAX]],
        "truncated": len(rows) > reports.DRILLDOWN_MAX})


@api
async def export_conversations(request: Request) -> Response:
    """One CSV row per conversation created in the range, streamed (desk.report_export)."""
    p = await current_principal(request)
    r = parse_range(request)
    d = deps(request)
    return StreamingResponse(
        report_export.export_lines(d.sm, p, r, d.settings.public_url.rstrip("/")),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": 'attachment; filename="conversations.csv"'})


routes = [
    Route("/api/reports/drilldown", report_drilldown, methods=["GET"]),
    Route("/api/reports/conversations.csv", export_conversations, methods=["GET"]),
    *(_report_route(name) for name in REPORTS),
]
