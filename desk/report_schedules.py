"""Scheduled reports, the records' side: what a schedule may say (``check``), which are due
at an instant and the claim that makes each period's mail once (``claim_due``), and the
mail's text (``mail_text``). ingest.report_mail turns a claim into OutboundMail rows in the
same transaction.

A schedule mails its owner's overview of the last complete day or week in its zone
(report_math.last_period) to its recipients, with the owner's scope as it is at sending time
(an agent who lost a group no longer mails its figures). A deactivated owner's schedules send
nothing. Staff choose the recipients, so no stranger can cause these mails; they are bounded
per schedule and per owner instead.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from desk import report_math as rm
from desk import reports, validate
from desk.auth import Principal, standing_principal
from desk.errors import InvalidInput
from desk.limits import EMAIL_MAX
from desk.models import SCHEDULE_PERIODS, Agent, ReportSchedule

RECIPIENTS_MAX = 10
PER_AGENT_MAX = 20


def _tz(data: dict[str, Any], key: str) -> str:
    tz = validate.text(data, key, max_len=64, required=False) or "UTC"
    try:
        ZoneInfo(tz)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        raise InvalidInput(f"unknown time zone {tz!r}", key) from None
    return tz


def _recipients(data: dict[str, Any], key: str) -> list[str]:
    raw = data.get(key)
    if not isinstance(raw, list) or not 1 <= len(raw) <= RECIPIENTS_MAX:
        raise InvalidInput(f"recipients must be a list of 1 to {RECIPIENTS_MAX} addresses", key)
    recipients = [validate.email({key: r}, key) for r in raw]
    return list(dict.fromkeys(r for r in recipients if r))


SCHEDULE = validate.Body({
    "period": validate.Choice(SCHEDULE_PERIODS),
    "tz": validate.Custom(_tz, {"type": "string", "minLength": 1, "maxLength": 64}),
    "recipients": validate.Custom(_recipients, {
        "type": "array", "minItems": 1, "maxItems": RECIPIENTS_MAX,
        "items": {"type": "string", "format": "email", "maxLength": EMAIL_MAX}}),
    "group_id": validate.RecordId()}, required=("recipients",))


def check(data: dict[str, Any]) -> dict[str, Any]:
    """A new schedule's fields from a request body; a 422 naming the field otherwise."""
    return {"period": SCHEDULE.read(data, "period") or "daily",
            "tz": SCHEDULE.read(data, "tz"), "group_id": SCHEDULE.read(data, "group_id"),
            "recipients": SCHEDULE.read(data, "recipients")}


def as_json(row: ReportSchedule) -> dict[str, Any]:
    return {"id": row.id, "period": row.period, "tz": row.tz, "recipients": row.recipients,
            "group_id": row.group_id, "last_period": row.last_period}


@dataclass(frozen=True, slots=True)
class Due:
    schedule: ReportSchedule
    owner: Principal
    range: reports.Range
    key: str  # the period's first local day: what ``last_period`` now says


async def claim_due(s: AsyncSession, now: datetime) -> list[Due]:
    """The schedules whose last complete period at ``now`` is not mailed yet, each claimed
    by moving its ``last_period`` (compare-and-set: of two workers, one gets it)."""
    out = []
    rows = (await s.execute(select(ReportSchedule, Agent).join(
        Agent, Agent.id == ReportSchedule.agent_id).where(Agent.is_active.is_(True))
        .order_by(ReportSchedule.id))).all()
    for row, agent in rows:
        zone = ZoneInfo(row.tz)
        start, end = rm.last_period(now, zone, row.period)
        key = start.date().isoformat()
        if row.last_period == key:
            continue
        claimed = (await s.execute(
            update(ReportSchedule).where(
                ReportSchedule.id == row.id,
                or_(ReportSchedule.last_period.is_(None), ReportSchedule.last_period != key))
            .values(last_period=key).returning(ReportSchedule.id))).scalar_one_or_none()
        if claimed is None:
            continue
        filters = {"group_id": row.group_id} if row.group_id is not None else {}
        out.append(Due(row, standing_principal(agent),
                       reports.Range(start, end, zone, rm.Grain.DAY, filters), key))
    return out


def _dur(seconds: float | None) -> str:
    if seconds is None:
        return "no data"
    s = round(seconds)
    return f"{s // 3600}h {s % 3600 // 60}m" if s >= 3600 else f"{s // 60}m {s % 60}s"


def _pct(x: float | None) -> str:
    return "no data" if x is None else f"{x * 100:.1f} %"


def mail_text(period: str, r: reports.Range, t: dict[str, Any], link: str,
              survey: bool) -> tuple[str, str]:
    """Subject and plain-text body of a scheduled report (the overview's figures)."""
    last = (r.end.astimezone(UTC) - timedelta(seconds=1)).astimezone(r.zone).date()
    day = r.start.date().isoformat()
    span = day if period == "daily" else f"{day} to {last.isoformat()}"
    lines = [
        f"Switchboard {period} report: {span} ({r.zone})", "",
        f"Created:                {t['created']}",
        f"Resolved:               {t['resolved']}",
        f"Abandoned in the queue: {t['abandoned']}",
        f"Median wait:            {_dur(t['wait_median'])}",
        f"Median first response:  {_dur(t['first_response_median'])}",
        f"90 % first response in: {_dur(t['first_response_p90'])}",
        f"Median resolution:      {_dur(t['resolution_median'])}",
        f"SLA met:                {_pct(t['sla_pct_met'])}",
    ]
    if survey:
        mean = "no data" if t["csat_mean"] is None else f"{t['csat_mean']:.2f}"
        lines.append(f"CSAT (1-5):             {mean} from {t['csat_count']} ratings")
    lines += ["", f"The reports, with every figure's conversations: {link}"]
    return f"Switchboard {period} report: {span}", "\n".join(lines) + "\n"
