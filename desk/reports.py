"""Reports over ``report_facts`` (desk.facts): the figures of a range, per bucket of the
viewer's zone and per agent / group / channel / topic / organisation / custom field value,
all through desk.report_math.

Every table is a list of flat rows (one figure per column), so the JSON a chart draws and the
CSV export are the same rows: per-day parity by construction. Scope is one condition
(``scope``): admins everything, supervisors their groups, agents their own facts in their
groups; ratings only for those who may read them (desk.api_conversations.survey_visible).
"""

from __future__ import annotations

from bisect import bisect_right
from collections import defaultdict
from collections.abc import Callable, Hashable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, NamedTuple
from zoneinfo import ZoneInfo

from sqlalchemy import (
    ColumnElement,
    String,
    and_,
    case,
    cast,
    func,
    literal,
    null,
    select,
    true,
    type_coerce,
)
from sqlalchemy.ext.asyncio import AsyncSession

from desk import report_math as rm
from desk.auth import Principal
from desk.models import FACT_KINDS, Conversation, ReportFact

FILTERS = ("agent_id", "group_id", "channel", "topic", "organisation_id")
DRILLDOWN_MAX = 1000
DATA_KINDS = ("sla_met", "sla_breached", "rating")


@dataclass(frozen=True, slots=True)
class Range:
    start: datetime
    end: datetime
    zone: ZoneInfo
    grain: rm.Grain
    # agent_id / group_id / channel / topic / organisation_id: narrow every figure (a
    # drill-down or a row's link).
    filters: dict[str, Any] = field(default_factory=dict)
    # (name, value): only conversations whose custom field ``name`` reads ``value`` now.
    custom: tuple[str, str] | None = None

    def previous(self) -> Range:
        start, end = rm.previous_period(self.start, self.end)
        return Range(start.astimezone(self.zone), end.astimezone(self.zone), self.zone,
                     self.grain, self.filters, self.custom)


class Part(NamedTuple):
    """Many facts of one kind already added up (a rollup row, desk.report_rollups): how many,
    and their durations' sum (microseconds) and histogram."""

    facts: int
    total_us: int
    histogram: rm.Histogram


class Fact(NamedTuple):
    """One fact as the figures read it (a tuple: a report builds tens of thousands); or, with
    ``part``, a rollup row standing for many at ``at``, the start of its day."""

    kind: str
    conversation_id: int
    at: datetime
    channel: str
    group_id: int | None
    agent_id: int | None
    value: float | None
    data: dict[str, Any]
    topic: str | None = None
    organisation_id: int | None = None
    # The conversation's custom field value, in a per-field report (``load(field=...)``).
    custom: str | None = None
    part: Part | None = None


def aware(at: datetime) -> datetime:
    return at if at.tzinfo is not None else at.replace(tzinfo=UTC)


def scope(p: Principal, group_id: Any = ReportFact.group_id,
          agent_id: Any = ReportFact.agent_id) -> ColumnElement[bool]:
    """Which facts the principal's figures count (the one access rule, Principal.scope), on
    the facts or on the rollups' columns of the same name."""
    if p.is_admin:
        return true()
    if p.is_supervisor:
        return p.scope(group_id)
    return and_(p.scope(group_id), agent_id == p.agent_id)


def conversation_scope(p: Principal) -> ColumnElement[bool]:
    """The same rule for conversation-level figures (export, desks): an agent's are those
    assigned to them in their groups."""
    if p.is_supervisor:
        return p.scope(Conversation.group_id)
    return and_(p.scope(Conversation.group_id), Conversation.assignee_id == p.agent_id)


def visible_kinds(p: Principal, survey: bool) -> tuple[str, ...]:
    return FACT_KINDS if survey else tuple(k for k in FACT_KINDS if k != "rating")


def custom_value(name: str) -> ColumnElement[str]:
    """A conversation's custom field ``name`` as text: a chat keeps its form's answers under
    ``answers``, a ticket at the top level (desk.site_config.answers reads both the same way)."""
    cf = Conversation.custom_fields
    return func.coalesce(cast(cf[name].as_string(), String),
                         cast(cf[("answers", name)].as_string(), String))


def where(p: Principal, r: Range, kinds: Sequence[str]) -> list[ColumnElement[bool]]:
    conds = [ReportFact.kind.in_(list(kinds)), ReportFact.at >= r.start.astimezone(UTC),
             ReportFact.at < r.end.astimezone(UTC), scope(p)]
    conds += [getattr(ReportFact, k) == v for k, v in r.filters.items()]
    if r.custom is not None:
        name, value = r.custom
        conds.append(ReportFact.conversation_id.in_(
            select(Conversation.id).where(custom_value(name) == value)))
    return conds


async def load(s: AsyncSession, p: Principal, r: Range, kinds: Sequence[str],
               field_name: str | None = None,
               extra: Sequence[ColumnElement[bool]] = ()) -> list[Fact]:
    """The range's facts in time order; with ``field_name``, each with its conversation's
    current value of that custom field (a per-field report); ``extra`` narrows them (the
    facts a rollup does not hold, desk.report_rollups)."""
    custom = (custom_value(field_name) if field_name is not None
              else literal(None, String)).label("custom")
    # Only these kinds' figures read ``data``: the others' is not fetched nor decoded.
    data = case((ReportFact.kind.in_(DATA_KINDS), ReportFact.data), else_=null())
    q = select(
        ReportFact.kind, ReportFact.conversation_id, ReportFact.at, ReportFact.channel,
        ReportFact.group_id, ReportFact.agent_id, ReportFact.value,
        type_coerce(data, ReportFact.data.type), ReportFact.topic,
        ReportFact.organisation_id, custom,
    ).where(*where(p, r, kinds), *extra).order_by(ReportFact.at, ReportFact.id)
    if field_name is not None:
        q = q.join(Conversation, Conversation.id == ReportFact.conversation_id)
    # Through the connection: the ORM's row handling costs more than the query here.
    rows = (await (await s.connection()).execute(q)).all()
    return [Fact(k, c, aware(at), ch, g, a, v, d or {}, t, o, cv)
            for k, c, at, ch, g, a, v, d, t, o, cv in rows]


# --- figures ------------------------------------------------------------------------------

DISTRIBUTIONS = ("wait", "first_response", "response", "resolution")


def last_per_conversation(facts: Iterable[Fact]) -> list[float]:
    last: dict[int, float] = {}
    for f in facts:  # in time order: the last one wins
        if f.value is not None:
            last[f.conversation_id] = f.value
    return list(last.values())


def _count(facts: Iterable[Fact]) -> int:
    return sum(1 if f.part is None else f.part.facts for f in facts)


def _merged(facts: Sequence[Fact]) -> tuple[rm.Histogram, int]:
    """The histogram and microsecond sum of the facts' values, rollup rows merged in: the
    same as report_math.durations of all their values."""
    values = [f.value for f in facts if f.part is None and f.value is not None]
    parts = [f.part for f in facts if f.part is not None]
    return (rm.merge_histograms([rm.histogram(values), *(x.histogram for x in parts)]),
            sum(rm.micros(v) for v in values) + sum(x.total_us for x in parts))


def _durations(facts: Sequence[Fact]) -> rm.Distribution:
    return rm.hist_distribution(*_merged(facts))


def figures(facts: Sequence[Fact]) -> dict[str, Any]:
    """The flat figures of a set of facts (see desk.facts for how each counts); rollup rows
    (``Fact.part``) count as the facts they add up."""
    by: dict[str, list[Fact]] = defaultdict(list)
    for f in facts:
        by[f.kind].append(f)
    dists = {"wait": _durations(by["assigned"]), "first_response": _durations(
        by["first_response"]), "response": _durations(by["response"]),
        "resolution": rm.durations(last_per_conversation(by["resolved"]))}
    out: dict[str, Any] = {
        "created": _count(by["created"]), "assigned": _count(by["assigned"]),
        "transferred": _count(by["transferred"]),
        "resolved": len({f.conversation_id for f in by["resolved"]}),
        "reopened": _count(by["reopened"]), "abandoned": _count(by["abandoned"]),
    }
    for name, d in dists.items():
        out |= {f"{name}_count": d.count, f"{name}_median": d.median, f"{name}_p90": d.p90,
                f"{name}_mean": d.mean}
    c = rm.csat(int(v) for v in last_per_conversation(by["rating"]))
    # A rollup holds the sla_met facts met in time only (desk.report_rollups).
    met = _count(f for f in by["sla_met"] if not f.data.get("breached"))
    breached = _count(by["sla_breached"])
    return out | {"time_logged_s": _merged(by["time_logged"])[1] / 1_000_000,
                  "csat_count": c["count"], "csat_mean": c["mean"],
                  "csat_satisfied": c["satisfied"], "sla_met": met, "sla_breached": breached,
                  "sla_pct_met": rm.rate(met, met + breached)}


def series(facts: Sequence[Fact], r: Range) -> list[dict[str, Any]]:
    """One row per bucket of the range (empty ones included), in the viewer's zone."""
    starts = rm.bucket_starts(r.start, r.end, r.zone, r.grain)
    # A fact's bucket by bisection of the bucket starts as instants (the facts are in range).
    bounds = [st.timestamp() for st in starts]
    buckets: list[list[Fact]] = [[] for _ in starts]
    for f in facts:
        i = bisect_right(bounds, f.at.timestamp()) - 1
        if i >= 0:
            buckets[i].append(f)
    rows = []
    for i, st in enumerate(starts):
        end = starts[i + 1] if i + 1 < len(starts) else rm.next_start(st, r.zone, r.grain)
        # In UTC: two datetimes of one zone compare by wall clock, wrong across DST.
        end = min(end.astimezone(UTC), r.end.astimezone(UTC)).astimezone(r.zone)
        rows.append({"start": st.isoformat(), "end": end.isoformat(),
                     **figures(buckets[i])})
    return rows


def rows_by(facts: Sequence[Fact], key: Callable[[Fact], Hashable],
            name: str) -> list[dict[str, Any]]:
    """One row per value of ``key`` (an agent, a group, a channel), in value order."""
    groups: dict[Any, list[Fact]] = defaultdict(list)
    for f in facts:
        groups[key(f)].append(f)
    return [{name: k, **figures(v)}
            for k, v in sorted(groups.items(), key=lambda kv: (kv[0] is None, str(kv[0])))]


def sla_targets(facts: Sequence[Fact]) -> list[dict[str, Any]]:
    """% met per SLA target, and the breaches behind it."""
    met: dict[str, int] = defaultdict(int)
    breaches: dict[str, list[int]] = defaultdict(list)
    for f in facts:
        t = str(f.data.get("target", ""))
        if f.kind == "sla_met" and not f.data.get("breached"):
            met[t] += 1
        elif f.kind == "sla_breached":
            breaches[t].append(f.conversation_id)
    return [{"target": t, "met": met[t], "breached": len(breaches[t]),
             "pct_met": rm.rate(met[t], met[t] + len(breaches[t])),
             "breached_conversations": breaches[t]}
            for t in sorted(set(met) | set(breaches))]


def csat_comments(facts: Sequence[Fact]) -> list[dict[str, Any]]:
    return [{"conversation_id": f.conversation_id, "at": f.at.isoformat(),
             "rating": int(f.value or 0), "comment": f.data.get("comment", "")}
            for f in facts if f.kind == "rating" and f.data.get("comment")]
