"""The one rule of a time something is due or scheduled for (pure): an ISO 8601 date and time
with its zone, from now on, at most ``HORIZON`` ahead. Commitments, task due and reminder
times and field visits all read their times through ``due``, so the bounds and the messages
are the same everywhere (a 422 naming the field and saying which bound)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from desk.errors import InvalidInput
from desk.models import Agent

HORIZON = timedelta(days=365)
RAW_MAX = 40


def aware(t: datetime) -> datetime:
    return t if t.tzinfo is not None else t.replace(tzinfo=UTC)  # SQLite hands back naive UTC


def due(data: dict[str, Any], now: datetime, key: str = "due_at",
        what: str = "a commitment is due") -> datetime:
    """The time posted under ``key``, in UTC, or InvalidInput (422) saying what is wrong;
    ``what`` says what the time is for ("a visit is scheduled")."""
    raw = data.get(key)
    if not isinstance(raw, str) or len(raw) > RAW_MAX:
        raise InvalidInput(f"{key} is required: a date and time like 2026-12-31T15:00:00Z", key)
    try:
        at = datetime.fromisoformat(raw)
    except ValueError:
        raise InvalidInput(f"{key} must be a date and time like 2026-12-31T15:00:00Z",
                           key) from None
    if at.tzinfo is None:
        raise InvalidInput(f"{key} needs its time zone, like 2026-12-31T15:00:00Z", key)
    try:
        at = at.astimezone(UTC)
    except OverflowError:  # year 1 east of UTC, year 9999 west of it
        raise InvalidInput(f"{key} is out of range: {what} within a year", key) from None
    if at <= now:
        raise InvalidInput(f"{key} is in the past: {what} from now on", key)
    if at > now + HORIZON:
        raise InvalidInput(f"{key} is more than {HORIZON.days} days away: {what} within "
                           f"{HORIZON.days} days (and moved later if need be)", key)
    return at


async def active_owner(s: AsyncSession, owner_id: int) -> int:
    """``owner_id`` of a commitment or task, if it names an active agent."""
    agent = await s.get(Agent, owner_id)
    if agent is None or not agent.is_active:
        raise InvalidInput("owner_id must be an active agent", "owner_id")
    return owner_id
