"""The audit trail: who did what to a conversation, when and why (``audit_events`` rows).

Every rule firing, SLA met or breached, status change, assignment, transfer and supervisor
monitor/whisper/join is one row, written in the transaction of the change it records, so the
trail never claims what did not happen nor misses what did. ``target`` is
``conversation:<id>``; the conversation's timeline reads by it (indexed).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from desk.models import AuditEvent, utcnow


def target_of(conversation_id: int) -> str:
    return f"conversation:{conversation_id}"


def record(s: AsyncSession, action: str, conversation_id: int, *, actor_id: int | None = None,
           why: str = "", at: datetime | None = None, **data: Any) -> AuditEvent:
    event = AuditEvent(actor_id=actor_id, action=action, target=target_of(conversation_id),
                       data={"why": why, **data}, created_at=at or utcnow())
    s.add(event)
    return event


def event_json(e: AuditEvent) -> dict[str, Any]:
    return {"id": e.id, "action": e.action, "actor_id": e.actor_id,
            "why": (e.data or {}).get("why", ""),
            "data": {k: v for k, v in (e.data or {}).items() if k != "why"},
            "at": e.created_at.isoformat()}


async def timeline(s: AsyncSession, conversation_id: int, limit: int = 1000) -> list[AuditEvent]:
    rows = await s.scalars(select(AuditEvent).where(
        AuditEvent.target == target_of(conversation_id)).order_by(AuditEvent.id).limit(limit))
    return list(rows.all())
