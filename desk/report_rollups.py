"""Daily rollups of the report facts, and the reads that merge them with the facts.

The worker (``build``, from ingest.due's timer loop) rolls up each closed local day of the
reporting zone (``Settings.report_tz``): per kind, per dimension a report groups by (group,
agent, channel, topic, organisation) and group (the scope column), the facts' count and their
durations' microsecond sum and mergeable histogram (desk.report_math). A day is rebuilt whole
and idempotently (its rows deleted and written again in one transaction) and records the last
fact id it holds; a fact of that day written later (a larger id) sends the day back to the
next build and is read from the facts meanwhile.

A report reads the rollups (``load``) when it is drawn in the reporting zone by day, week or
month, with no custom field and at most one dimension besides the group among its grouping,
its filters and its scope (an agent's own figures are the agent dimension); otherwise, or for
anything else, desk.reports.load reads the facts. Whole built days inside the range come from
the rollups; the range's edges, today (never built: "kept exact for today"), days not built
yet and the facts a day's build has not seen come from the facts. Three figures do not merge
across days (distinct conversations resolved, each conversation's last resolution and
rating), so ``resolved`` and ``rating`` are always read from the facts, and so is the sla
report (its breaches list). ``closed`` facts are not rolled up: no figure counts them. So the
figures are the raw computation's, to the digit (tests/desk/test_report_rollups.py).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from datetime import UTC, date, datetime, timedelta
from typing import Any, cast
from zoneinfo import ZoneInfo

import orjson
from sqlalchemy import (
    ColumnElement,
    Table,
    and_,
    delete,
    func,
    insert,
    not_,
    or_,
    select,
    update,
)
from sqlalchemy.ext.asyncio import AsyncSession

from desk import report_math as rm
from desk import reports
from desk.auth import Principal
from desk.db import SessionMaker
from desk.models import ReportFact, ReportRollup, ReportRollupDay

ROLLED_KINDS = ("created", "assigned", "transferred", "first_response", "response",
                "reopened", "abandoned", "sla_met", "sla_breached", "time_logged")
DURATION_KINDS = ("assigned", "first_response", "response", "time_logged")
# The dimension of each report's rows, and of each filter.
REPORT_DIMENSION = {"overview": "group", "csat": "group", "groups": "group", "agents": "agent",
                    "channels": "channel", "topics": "topic", "organisations": "organisation"}
FILTER_DIMENSION = {"group_id": "group", "agent_id": "agent", "channel": "channel",
                    "topic": "topic", "organisation_id": "organisation"}
# Days one build run rolls up at most (a year's backlog on the first run).
BUILD_DAYS = 400


def _local_day(at: datetime, zone: ZoneInfo) -> date:
    return reports.aware(at).astimezone(zone).date()


def day_span(day: date, zone: ZoneInfo) -> tuple[datetime, datetime]:
    start = rm.bucket_start(datetime(day.year, day.month, day.day, 12, tzinfo=zone), zone,
                            rm.Grain.DAY)
    return start.astimezone(UTC), rm.next_start(start, zone, rm.Grain.DAY).astimezone(UTC)


# --- building (the worker) -----------------------------------------------------------------

def _keys(kind: str, group_id: int | None, agent_id: int | None, channel: str,
          topic: str | None, org: int | None) -> list[tuple[Any, ...]]:
    return [(kind, "group", group_id, None, None), (kind, "agent", group_id, agent_id, None),
            (kind, "channel", group_id, None, channel), (kind, "topic", group_id, None, topic),
            (kind, "organisation", group_id, None, None if org is None else str(org))]


def rollup_rows(facts: Sequence[Any]) -> list[dict[str, Any]]:
    """A day's rollup rows from its facts ((kind, group, agent, channel, topic, organisation,
    value, data) tuples): pure, so a build and a test roll up the same way."""
    counts: dict[tuple[Any, ...], int] = defaultdict(int)
    values: dict[tuple[Any, ...], list[float]] = defaultdict(list)
    for kind, group_id, agent_id, channel, topic, org, value, data in facts:
        if kind == "sla_met" and (data or {}).get("breached"):
            continue  # only the targets met in time are counted (desk.reports.figures)
        for key in _keys(kind, group_id, agent_id, channel, topic, org):
            counts[key] += 1
            if value is not None and kind in DURATION_KINDS:
                values[key].append(value)
    rows = []
    for key, n in counts.items():
        kind, dim, group_id, agent_id, text = key
        vals = values.get(key, [])
        rows.append({"kind": kind, "dimension": dim, "group_id": group_id,
                     "agent_id": agent_id, "key": text, "facts": n,
                     "total_us": sum(rm.micros(v) for v in vals),
                     "histogram": [[k, c, lo, hi] for k, (c, lo, hi)
                                   in sorted(rm.histogram(vals).items())]})
    return rows


async def build_day(s: AsyncSession, zone: ZoneInfo, day: date, through_id: int) -> int:
    """Roll up one day from its facts with ids up to ``through_id`` (replacing what it had)."""
    start, end = day_span(day, zone)
    f = ReportFact
    facts = (await (await s.connection()).execute(
        select(f.kind, f.group_id, f.agent_id, f.channel, f.topic, f.organisation_id, f.value,
               f.data).where(f.at >= start, f.at < end, f.id <= through_id,
                             f.kind.in_(ROLLED_KINDS)))).all()
    await s.execute(delete(ReportRollup).where(ReportRollup.zone == zone.key,
                                               ReportRollup.day == day))
    rows = rollup_rows(facts)
    if rows:
        # Core's executemany: the ORM's bulk insert cost most of a build.
        await (await s.connection()).execute(insert(cast(Table, ReportRollup.__table__)),
                        [r | {"zone": zone.key, "day": day} for r in rows])
    await s.merge(ReportRollupDay(zone=zone.key, day=day, through_id=through_id,
                                  built_at=datetime.now(UTC)))
    return len(rows)


async def stale_days(s: AsyncSession, zone: ZoneInfo, now: datetime) -> tuple[list[date], int]:
    """The closed days to (re)build, oldest first, and the fact id they are built through:
    days with facts never built, and built days a later fact of theirs has reached."""
    through = await s.scalar(select(func.max(ReportFact.id))) or 0
    first = await s.scalar(select(func.min(ReportFact.at)))
    if first is None:
        return [], through
    today = _local_day(now, zone)
    built = dict((await s.execute(select(ReportRollupDay.day, ReportRollupDay.through_id)
                                  .where(ReportRollupDay.zone == zone.key))).all())
    days = set()
    day = _local_day(first, zone)
    while day < today:
        if day not in built:
            days.add(day)
        day += timedelta(days=1)
    if built:
        late = await s.execute(select(ReportFact.id, ReportFact.at).where(
            ReportFact.id > min(built.values())))
        for fid, at in late:
            d = _local_day(at, zone)
            if d < today and fid > built.get(d, fid):
                days.add(d)
    return sorted(days), through


async def build(sm: SessionMaker, zone: ZoneInfo, now: datetime) -> int:
    """Roll up every closed day that needs it (at most BUILD_DAYS a run), one transaction per
    day; the days built."""
    async with sm() as s:
        days, through = await stale_days(s, zone, now)
    for day in days[:BUILD_DAYS]:
        async with sm() as s:
            await build_day(s, zone, day, through)
            await s.commit()
    if len(days) <= BUILD_DAYS:
        # Every fact up to ``through`` was looked at: no other built day got one, so they all
        # hold their facts up to it (the next run looks only at facts after it).
        async with sm() as s:
            await s.execute(update(ReportRollupDay).where(ReportRollupDay.zone == zone.key)
                            .values(through_id=through))
            await s.commit()
    return min(len(days), BUILD_DAYS)


# --- reading ---------------------------------------------------------------------------------

def dimension(p: Principal, r: reports.Range, report: str) -> str | None:
    """The one rollup dimension that answers this report, or None (read the facts)."""
    if report not in REPORT_DIMENSION or r.custom is not None:
        return None
    needed = {REPORT_DIMENSION[report], *(FILTER_DIMENSION[k] for k in r.filters)}
    if not p.is_supervisor:
        needed.add("agent")
    needed.discard("group")
    if len(needed) > 1:
        return None
    return needed.pop() if needed else "group"


async def built_days(s: AsyncSession, r: reports.Range, zone: ZoneInfo,
                     now: datetime) -> dict[date, int]:
    """The range's whole closed days that are rolled up, with the fact id each holds."""
    if r.zone.key != zone.key or r.grain == rm.Grain.HOUR:
        return {}
    first = _local_day(r.start, zone)
    if day_span(first, zone)[0] < r.start.astimezone(UTC):
        first += timedelta(days=1)
    last = min(_local_day(r.end, zone), _local_day(now, zone))  # exclusive
    if first >= last:
        return {}
    return dict((await s.execute(select(ReportRollupDay.day, ReportRollupDay.through_id).where(
        ReportRollupDay.zone == zone.key, ReportRollupDay.day >= first,
        ReportRollupDay.day < last))).all())


def _spans(days: dict[date, int], zone: ZoneInfo) -> list[tuple[datetime, datetime, int]]:
    """Consecutive built days with one fact id, as instant spans (few: one per build)."""
    spans: list[tuple[datetime, datetime, int]] = []
    for day in sorted(days):
        start, end = day_span(day, zone)
        if spans and spans[-1][1] == start and spans[-1][2] == days[day]:
            spans[-1] = (spans[-1][0], end, days[day])
        else:
            spans.append((start, end, days[day]))
    return spans


def _covered(spans: list[tuple[datetime, datetime, int]]) -> ColumnElement[bool]:
    f = ReportFact
    return and_(f.kind.in_(ROLLED_KINDS), or_(*(
        and_(f.at >= a, f.at < b, f.id <= through) for a, b, through in spans)))


def _rollup_filters(r: reports.Range) -> list[ColumnElement[bool]]:
    t = ReportRollup
    conds = []
    for name, value in r.filters.items():
        if name == "group_id":
            conds.append(t.group_id == value)
        elif name == "agent_id":
            conds.append(t.agent_id == value)
        else:
            conds.append(t.key == str(value))
    return conds


def _as_fact(row: Any, dim: str, zone: ZoneInfo) -> reports.Fact:
    kind, day, group_id, agent_id, key, n, total_us, hist = row
    if isinstance(hist, str | bytes):
        hist = orjson.loads(hist)
    part = reports.Part(n, total_us, {int(k): (int(c), lo, hi) for k, c, lo, hi in hist})
    return reports.Fact(
        kind, 0, day_span(day, zone)[0], key if dim == "channel" else "", group_id, agent_id,
        None, {}, key if dim == "topic" else None,
        int(key) if dim == "organisation" and key is not None else None, None, part)


async def load(s: AsyncSession, p: Principal, r: reports.Range, kinds: Sequence[str],
               report: str, zone: ZoneInfo, now: datetime,
               field_name: str | None = None) -> list[reports.Fact]:
    """desk.reports.load through the rollups where they answer: the same figures."""
    dim = dimension(p, r, report)
    days = await built_days(s, r, zone, now) if dim is not None else {}
    if dim is None or not days:
        return await reports.load(s, p, r, kinds, field_name)
    spans = _spans(days, zone)
    raw = await reports.load(s, p, r, kinds, extra=[not_(_covered(spans))])
    t = ReportRollup
    rolled = [k for k in kinds if k in ROLLED_KINDS]
    rows = (await (await s.connection()).execute(
        select(t.kind, t.day, t.group_id, t.agent_id, t.key, t.facts, t.total_us, t.histogram)
        .where(t.zone == zone.key, t.dimension == dim, t.day.in_(sorted(days)),
               t.kind.in_(rolled), reports.scope(p, t.group_id, t.agent_id),
               *_rollup_filters(r)))).all()
    # The facts keep their time order (the last resolve and rating win); the rollup rows
    # are placed by their day.
    return [*raw, *(_as_fact(row, dim, zone) for row in rows)]
