"""Who's On invitations in the records: written when one is shown and when it is answered, and
counted for the reports (``GET /api/reports/invitations``)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from desk.models import Agent, Invitation, utcnow


def sent(s: AsyncSession, key: str, site_id: int, agent_id: int | None,
         rule: int | None) -> None:
    s.add(Invitation(key=key, site_id=site_id, agent_id=agent_id, rule=rule, sent_at=utcnow()))


async def answered(s: AsyncSession, key: str, accepted: bool,
                   conversation_id: int | None) -> None:
    await s.execute(update(Invitation).where(Invitation.key == key, Invitation.outcome == "open")
                    .values(outcome="accepted" if accepted else "declined",
                            conversation_id=conversation_id, answered_at=utcnow()))


async def report(s: AsyncSession, start: datetime, end: datetime) -> dict[str, Any]:
    """Invitations shown in [start, end) by who sent them (an agent, or a site's rule) and
    outcome, with the share accepted."""
    rows = (await s.execute(
        select(Invitation.agent_id, Agent.display_name, Invitation.rule, Invitation.outcome,
               func.count())
        .outerjoin(Agent, Agent.id == Invitation.agent_id)
        .where(Invitation.sent_at >= start, Invitation.sent_at < end)
        .group_by(Invitation.agent_id, Agent.display_name, Invitation.rule, Invitation.outcome)
    )).all()
    by: dict[tuple[int | None, int | None], dict[str, Any]] = {}
    for agent_id, name, rule, outcome, n in rows:
        row = by.setdefault((agent_id, rule), {
            "agent_id": agent_id, "agent": name if agent_id is not None else None,
            "rule": rule, "sent": 0, "accepted": 0, "declined": 0, "unanswered": 0})
        row["sent"] += n
        row["unanswered" if outcome == "open" else outcome] += n
    out = sorted(by.values(), key=lambda r: (r["agent"] is None, r["agent"] or "", r["rule"] or 0))
    for row in out:
        row["accepted_share"] = round(row["accepted"] / row["sent"], 3) if row["sent"] else None
    totals = {k: sum(r[k] for r in out) for k in ("sent", "accepted", "declined", "unanswered")}
    totals["accepted_share"] = round(totals["accepted"] / totals["sent"], 3) \
        if totals["sent"] else None
    return {"totals": totals, "rows": out}
