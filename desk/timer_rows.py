"""Writing a conversation's rows in ``due_timers`` (read by the worker's sweep, ingest.due)."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from desk.models import DueTimer


async def set_timers(s: AsyncSession, conversation_id: int,
                     want: dict[str, tuple[str, datetime]], managed: Iterable[str]) -> None:
    """Make the conversation's timers of the ``managed`` kinds exactly ``want``
    (kind -> (instance, due_at))."""
    managed = list(managed)
    have = {t.kind: t for t in await s.scalars(select(DueTimer).where(
        DueTimer.conversation_id == conversation_id, DueTimer.kind.in_(managed)))}
    for kind in managed:
        timer = have.get(kind)
        if kind not in want:
            if timer is not None:
                await s.delete(timer)
            continue
        instance, due_at = want[kind]
        if timer is None:
            s.add(DueTimer(conversation_id=conversation_id, kind=kind, instance=instance,
                           due_at=due_at))
        else:
            timer.instance, timer.due_at = instance, due_at
