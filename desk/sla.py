"""Service levels: which policy a conversation gets, its clocks, and what the customer is told.

Pure. A policy names targets (first response, next response, resolution; business seconds on
its calendar) and applies to a department (or every department) under conditions on priority,
organisation tier, channel and topic. The first enabled policy in order that matches wins
(department policies before the catch-all ones, then ``position``, then id).

Each target is a ``Clock``: it starts, pauses while the conversation waits for the customer
(``pending``), resumes on their reply or when an agent takes it out of pending, and is met
(first response, next response: a public staff reply; resolution: resolved or closed) or
breached (the worker's timer at ``due``). ``due`` is the instant the remaining business time
runs out; it is None while paused or once met. The conversation's ``sla_due`` (what the queue
orders by) is the earliest due of its unmet clocks.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from babel.dates import format_date

from desk import business_hours as bh
from desk.errors import InvalidInput
from desk.i18n import Translator

TARGETS = ("first_response", "next_response", "resolution")
TARGET_MIN_S = 60
# Business time: 90 days of it is already more than a year of office hours.
TARGET_MAX_S = 90 * 24 * 3600
CONDITION_KEYS = ("priorities", "tiers", "channels", "topics")
CONDITION_VALUES_MAX = 50


@dataclass(frozen=True, slots=True)
class Conditions:
    """Empty set = any value. ``tiers``: the contact's organisation's priority (tier)."""

    priorities: frozenset[int] = frozenset()
    tiers: frozenset[int] = frozenset()
    channels: frozenset[str] = frozenset()
    topics: frozenset[str] = frozenset()


@dataclass(frozen=True, slots=True)
class Facts:
    """What policy selection looks at."""

    department_id: int | None
    priority: int
    tier: int | None
    channel: str
    topic: str | None


@dataclass(frozen=True, slots=True)
class Policy:
    id: int
    department_id: int | None
    position: int
    conditions: Conditions
    targets: dict[str, int]  # target -> business seconds (a target absent: not measured)
    calendar_id: int | None = None
    enabled: bool = True


def parse_targets(data: Any) -> dict[str, int]:
    if not isinstance(data, dict) or set(data) - set(TARGETS):
        raise InvalidInput(f"targets must be an object with keys among {', '.join(TARGETS)}")
    out: dict[str, int] = {}
    for key, value in data.items():
        if value is None:
            continue
        if isinstance(value, bool) or not isinstance(value, int):
            raise InvalidInput(f"targets.{key} must be a number of seconds")
        if not TARGET_MIN_S <= value <= TARGET_MAX_S:
            raise InvalidInput(f"targets.{key} must be between {TARGET_MIN_S} seconds and "
                               f"{TARGET_MAX_S // 86400} days of business time")
        out[key] = value
    if not out:
        raise InvalidInput("targets must set at least one of " + ", ".join(TARGETS))
    return out


def parse_conditions(data: Any, channels: Sequence[str]) -> Conditions:
    if data is None:
        return Conditions()
    if not isinstance(data, dict) or set(data) - set(CONDITION_KEYS):
        raise InvalidInput(f"conditions must be an object with keys among "
                           f"{', '.join(CONDITION_KEYS)}")

    def values(key: str, kind: type) -> list[Any]:
        raw = data.get(key, [])
        if not isinstance(raw, list) or len(raw) > CONDITION_VALUES_MAX or any(
                isinstance(v, bool) or not isinstance(v, kind) for v in raw):
            raise InvalidInput(f"conditions.{key} must be a list of at most "
                               f"{CONDITION_VALUES_MAX} {kind.__name__} values")
        return raw

    bad = set(values("channels", str)) - set(channels)
    if bad:
        raise InvalidInput(f"conditions.channels: unknown {', '.join(sorted(bad))}")
    topics = values("topics", str)
    if any(not 0 < len(t) <= 200 for t in topics):
        raise InvalidInput("conditions.topics must be 1..200 characters each")
    return Conditions(frozenset(values("priorities", int)), frozenset(values("tiers", int)),
                      frozenset(values("channels", str)), frozenset(topics))


def targets_schema() -> dict[str, Any]:
    """What ``parse_targets`` reads, as JSON Schema."""
    seconds = {"type": "integer", "minimum": TARGET_MIN_S, "maximum": TARGET_MAX_S}
    return {"type": "object", "additionalProperties": False, "minProperties": 1,
            "properties": {t: {"anyOf": [seconds, {"type": "null"}]} for t in TARGETS}}


def conditions_schema(channels: Sequence[str]) -> dict[str, Any]:
    """What ``parse_conditions`` reads, as JSON Schema."""
    def values(item: dict[str, Any]) -> dict[str, Any]:
        return {"type": "array", "maxItems": CONDITION_VALUES_MAX, "items": item}

    return {"type": "object", "additionalProperties": False, "properties": {
        "priorities": values({"type": "integer"}), "tiers": values({"type": "integer"}),
        "channels": values({"enum": list(channels)}),
        "topics": values({"type": "string", "minLength": 1, "maxLength": 200})}}


def conditions_json(c: Conditions) -> dict[str, list[Any]]:
    return {k: sorted(getattr(c, k)) for k in CONDITION_KEYS if getattr(c, k)}


def matches(c: Conditions, f: Facts) -> bool:
    return ((not c.priorities or f.priority in c.priorities)
            and (not c.tiers or f.tier in c.tiers)
            and (not c.channels or f.channel in c.channels)
            and (not c.topics or f.topic in c.topics))


def select_policy(policies: Iterable[Policy], facts: Facts) -> Policy | None:
    ordered = sorted((p for p in policies if p.enabled),
                     key=lambda p: (p.department_id is None, p.position, p.id))
    for p in ordered:
        if p.department_id not in (None, facts.department_id):
            continue
        if matches(p.conditions, facts):
            return p
    return None


@dataclass(frozen=True, slots=True)
class Clock:
    """One target's measurement. ``started_at`` names the cycle (the timer's instance)."""

    target_s: int
    started_at: datetime | None = None
    used_s: float = 0.0
    running_since: datetime | None = None
    due: datetime | None = None
    met_at: datetime | None = None
    breached_at: datetime | None = None

    @property
    def open(self) -> bool:
        return self.started_at is not None and self.met_at is None


def start(c: Clock, cal: bh.Calendar, now: datetime) -> Clock:
    return Clock(c.target_s, started_at=now, running_since=now,
                 due=bh.add(cal, now, c.target_s))


def pause(c: Clock, cal: bh.Calendar, now: datetime) -> Clock:
    if not c.open or c.running_since is None:
        return c
    used = c.used_s + bh.elapsed(cal, c.running_since, now)
    return dataclasses.replace(c, used_s=used, running_since=None, due=None)


def resume(c: Clock, cal: bh.Calendar, now: datetime) -> Clock:
    if not c.open or c.running_since is not None:
        return c
    left = c.target_s - c.used_s
    return dataclasses.replace(c, running_since=now,
                               due=bh.add(cal, now, left) if left > 0 else now)


def meet(c: Clock, now: datetime) -> Clock:
    if not c.open:
        return c
    return dataclasses.replace(c, met_at=now, running_since=None, due=None)


def breach(c: Clock, at: datetime) -> Clock:
    return c if c.breached_at is not None or not c.open else dataclasses.replace(c, breached_at=at)


def remaining_s(c: Clock, cal: bh.Calendar, now: datetime) -> float:
    used = c.used_s + (bh.elapsed(cal, c.running_since, now) if c.running_since else 0.0)
    return c.target_s - used


def point_at(c: Clock, cal: bh.Calendar, fraction: float) -> datetime | None:
    """When ``fraction`` of the target will have been used (None: paused, met, or past)."""
    if not c.open or c.running_since is None:
        return None
    left = c.target_s * fraction - c.used_s
    return bh.add(cal, c.running_since, left) if left > 0 else None


@dataclass(frozen=True, slots=True)
class State:
    """A conversation's clocks (absent: the policy does not measure that target)."""

    clocks: dict[str, Clock]
    paused: bool = False

    def due(self) -> datetime | None:
        dues = [c.due for c in self.clocks.values() if c.open and c.due is not None]
        return min(dues) if dues else None


def _map(s: State, fn: Any, names: Iterable[str] | None = None) -> State:
    names = set(s.clocks) if names is None else set(names)
    return dataclasses.replace(s, clocks={k: fn(c) if k in names else c
                                          for k, c in s.clocks.items()})


def on_created(targets: dict[str, int], cal: bh.Calendar, now: datetime) -> State:
    clocks = {k: Clock(v) for k, v in targets.items()}
    s = State(clocks)
    return _map(s, lambda c: start(c, cal, now), {"first_response", "resolution"})


def on_staff_reply(s: State, now: datetime) -> State:
    return _map(s, lambda c: meet(c, now), {"first_response", "next_response"})


def on_customer_reply(s: State, cal: bh.Calendar, now: datetime) -> State:
    """Resumes a paused conversation; starts a next-response cycle once the first response
    was given and no next response is awaited yet."""
    if s.paused:
        s = resumed(s, cal, now)
    first = s.clocks.get("first_response")
    nxt = s.clocks.get("next_response")
    if nxt is not None and not nxt.open and (first is None or first.met_at is not None):
        s = _map(s, lambda c: start(c, cal, now), {"next_response"})
    return s


def paused(s: State, cal: bh.Calendar, now: datetime) -> State:
    if s.paused:
        return s
    return dataclasses.replace(_map(s, lambda c: pause(c, cal, now)), paused=True)


def resumed(s: State, cal: bh.Calendar, now: datetime) -> State:
    if not s.paused:
        return s
    return dataclasses.replace(_map(s, lambda c: resume(c, cal, now)), paused=False)


def on_status(s: State, cal: bh.Calendar, old: str, new: str, now: datetime) -> State:
    """The clocks after a status change ``old`` -> ``new``."""
    if new == old:
        return s
    match new:
        case "pending":
            return paused(s, cal, now)
        case "resolved" | "closed":
            s = _map(s, lambda c: meet(c, now), {"resolution"})
            # What else was awaited is no longer: stop it without a verdict.
            return _map(s, lambda c: dataclasses.replace(c, running_since=None, due=None),
                        {"first_response", "next_response"})
        case _ if old in ("resolved", "closed"):
            # Reopened: a new resolution cycle (and nothing paused any more).
            s = dataclasses.replace(s, paused=False)
            return _map(s, lambda c: start(c, cal, now), {"resolution"})
        case _:
            return resumed(s, cal, now)


def expected_response(t: Translator, cal: bh.Calendar, now: datetime, due: datetime) -> str:
    """What the customer is told, in their language (``t``): "within 2 hours" while the desk
    is open and the answer is due today-ish, otherwise "by Tuesday 10:00" (the desk's local
    time, with the date when it is more than six days away; the date's pattern is the
    catalogue's ``mail.day_with_date``, a babel/CLDR pattern)."""
    if bh.is_open(cal, now) and (due - now).total_seconds() <= 12 * 3600:
        minutes = max(1, math.ceil((due - now).total_seconds() / 60))
        if minutes == 1:
            return t("mail.within_minute")
        if minutes < 120:
            return t("mail.within_minutes", n=minutes)
        return t("mail.within_hours", n=math.ceil(minutes / 60))
    local = due.astimezone(cal.tz)
    pattern = t("mail.day_with_date") if (due - now).days >= 6 else "EEEE"
    return t("mail.by_time", day=format_date(local, pattern, locale=t.language),
             time=f"{local:%H:%M}")
