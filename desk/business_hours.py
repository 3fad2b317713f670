"""Business-hours calendars: which instants the desk works, and time counted only in them.

Pure: instants in, instants or seconds out. A calendar is a time zone, opening hours per weekday
(local wall-clock, several spans a day allowed, ``24:00`` closes at midnight) and holidays
(inclusive date ranges, which may overlap: a day is closed when any range covers it), or
``always_open`` (24/7). Business time is real elapsed time inside open spans, so a span across
a DST change counts the hours that actually passed (an 00:00-24:00 day may be 23 or 25 hours);
a local opening time that does not exist on a spring-forward day opens at the same offset as
before the change (02:30 in a 02:00->03:00 gap is 03:30), an ambiguous one (autumn) is the
first occurrence.

``parse`` is the one validation of a calendar's stored or posted JSON: a calendar with no
working hours at all is refused (every deadline on it would be never).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from desk.errors import InvalidInput

DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
DAY_MIN = 24 * 60
HOLIDAYS_MAX = 500
HOLIDAY_SPAN_MAX_DAYS = 366
SPANS_PER_DAY_MAX = 8
# How far a search for the next open instant may look: past this the holidays have closed the
# desk for longer than any deadline we accept (targets are bounded far below it).
SEARCH_DAYS_MAX = 3 * 366
_HHMM = re.compile(r"^([01]\d|2[0-4]):([0-5]\d)$")


class NeverOpen(InvalidInput):
    """No open instant within ``SEARCH_DAYS_MAX`` of the start."""


@dataclass(frozen=True, slots=True)
class Calendar:
    zone: str
    # Per weekday (Monday first): merged sorted (start, end) local minutes, end <= 1440.
    weekly: tuple[tuple[tuple[int, int], ...], ...]
    holidays: tuple[tuple[date, date], ...] = ()
    always_open: bool = False

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.zone)

    def is_holiday(self, day: date) -> bool:
        return any(lo <= day <= hi for lo, hi in self.holidays)


ALWAYS = Calendar("UTC", ((),) * 7, (), True)


def _minutes(value: Any, where: str) -> int:
    if not isinstance(value, str) or not (m := _HHMM.match(value)):
        raise InvalidInput(f"{where} must be a time HH:MM (00:00 to 24:00)")
    minutes = int(m.group(1)) * 60 + int(m.group(2))
    if minutes > DAY_MIN:
        raise InvalidInput(f"{where} must not be after 24:00")
    return minutes


def _merge(spans: list[tuple[int, int]]) -> tuple[tuple[int, int], ...]:
    out: list[tuple[int, int]] = []
    for lo, hi in sorted(spans):
        if out and lo <= out[-1][1]:
            out[-1] = (out[-1][0], max(out[-1][1], hi))
        else:
            out.append((lo, hi))
    return tuple(out)


def _day_spans(value: Any, day: str) -> tuple[tuple[int, int], ...]:
    if not isinstance(value, list) or len(value) > SPANS_PER_DAY_MAX:
        raise InvalidInput(f"hours.{day} must be a list of at most {SPANS_PER_DAY_MAX} "
                           "[open, close] pairs")
    spans = []
    for i, pair in enumerate(value):
        if not isinstance(pair, list) or len(pair) != 2:
            raise InvalidInput(f"hours.{day}[{i}] must be a pair [\"HH:MM\", \"HH:MM\"]")
        lo = _minutes(pair[0], f"hours.{day}[{i}][0]")
        hi = _minutes(pair[1], f"hours.{day}[{i}][1]")
        if lo >= hi:
            raise InvalidInput(f"hours.{day}[{i}] must open before it closes")
        spans.append((lo, hi))
    return _merge(spans)


def _date(value: Any, where: str) -> date:
    if not isinstance(value, str):
        raise InvalidInput(f"{where} must be a date YYYY-MM-DD")
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise InvalidInput(f"{where} must be a date YYYY-MM-DD") from None


def _holidays(value: Any) -> tuple[tuple[date, date], ...]:
    if not isinstance(value, list) or len(value) > HOLIDAYS_MAX:
        raise InvalidInput(f"holidays must be a list of at most {HOLIDAYS_MAX} entries")
    out = []
    for i, h in enumerate(value):
        if isinstance(h, str):
            h = {"date": h}
        if not isinstance(h, dict):
            raise InvalidInput(f"holidays[{i}] must be a date or {{\"from\", \"to\"}}")
        if "date" in h:
            lo = hi = _date(h["date"], f"holidays[{i}].date")
        else:
            lo, hi = _date(h.get("from"), f"holidays[{i}].from"), _date(h.get("to"),
                                                                        f"holidays[{i}].to")
        if hi < lo:
            raise InvalidInput(f"holidays[{i}] ends before it starts")
        if (hi - lo).days >= HOLIDAY_SPAN_MAX_DAYS:
            raise InvalidInput(f"holidays[{i}] is longer than {HOLIDAY_SPAN_MAX_DAYS} days")
        out.append((lo, hi))
    # Overlapping ranges are allowed and merged: a day is closed when any of them covers it.
    merged: list[tuple[date, date]] = []
    for lo, hi in sorted(out):
        if merged and lo <= merged[-1][1] + timedelta(days=1):
            merged[-1] = (merged[-1][0], max(merged[-1][1], hi))
        else:
            merged.append((lo, hi))
    return tuple(merged)


def parse(data: Any) -> Calendar:
    """A calendar from its JSON (``timezone``, ``hours`` per weekday, ``holidays``,
    ``always_open``); ``InvalidInput`` naming the field otherwise."""
    if not isinstance(data, dict):
        raise InvalidInput("a calendar must be an object")
    zone = data.get("timezone", "UTC")
    if not isinstance(zone, str) or not 0 < len(zone) <= 64 or ".." in zone:
        raise InvalidInput("timezone must be an IANA time zone name such as Europe/Berlin")
    try:
        ZoneInfo(zone)
    except (ZoneInfoNotFoundError, ValueError):
        raise InvalidInput(f"timezone {zone!r} is not a known IANA time zone") from None
    always = data.get("always_open", False)
    if not isinstance(always, bool):
        raise InvalidInput("always_open must be true or false")
    hours = data.get("hours", {})
    if not isinstance(hours, dict) or set(hours) - set(DAYS):
        raise InvalidInput(f"hours must be an object with keys among {', '.join(DAYS)}")
    weekly = tuple(_day_spans(hours.get(d, []), d) for d in DAYS)
    holidays = _holidays(data.get("holidays", []))
    if not always and not any(weekly):
        raise InvalidInput("the calendar has no working hours: give opening hours for at least "
                           "one weekday, or set always_open")
    return Calendar(zone, weekly, holidays, always)


def field_schemas() -> dict[str, dict[str, Any]]:
    """The JSON Schema of each field ``parse`` reads (the API description of a calendar)."""
    time = {"type": "string", "pattern": "^([01][0-9]|2[0-4]):[0-5][0-9]$"}
    day = {"type": "string", "format": "date"}
    return {
        "timezone": {"type": "string", "minLength": 1, "maxLength": 64},
        "always_open": {"type": "boolean"},
        "hours": {"type": "object", "additionalProperties": False, "properties": {
            d: {"type": "array", "maxItems": SPANS_PER_DAY_MAX, "items": {
                "type": "array", "minItems": 2, "maxItems": 2, "items": time}}
            for d in DAYS}},
        "holidays": {"type": "array", "maxItems": HOLIDAYS_MAX, "items": {"anyOf": [
            day, {"type": "object", "required": ["date"], "properties": {"date": day}},
            {"type": "object", "required": ["from", "to"],
             "properties": {"from": day, "to": day}}]}},
    }


def to_json(cal: Calendar) -> dict[str, Any]:
    def hhmm(m: int) -> str:
        return f"{m // 60:02d}:{m % 60:02d}"

    return {"timezone": cal.zone, "always_open": cal.always_open,
            "hours": {d: [[hhmm(lo), hhmm(hi)] for lo, hi in spans]
                      for d, spans in zip(DAYS, cal.weekly, strict=True) if spans},
            "holidays": [{"from": lo.isoformat(), "to": hi.isoformat()}
                         for lo, hi in cal.holidays]}


def _local(day: date, minutes: int, tz: ZoneInfo) -> datetime:
    if minutes == DAY_MIN:
        return datetime.combine(day + timedelta(days=1), time(), tz).astimezone(UTC)
    return datetime.combine(day, time(minutes // 60, minutes % 60), tz).astimezone(UTC)


def spans_from(cal: Calendar, start: datetime) -> Iterator[tuple[datetime, datetime]]:
    """The open spans (UTC) that end after ``start``, in order, the first clipped to it (a
    span to 24:00 and the next day's from 00:00 come as two). Stops after ``SEARCH_DAYS_MAX``
    closed days in a row with ``NeverOpen``."""
    if cal.always_open:
        yield start, datetime.max.replace(tzinfo=UTC)
        return
    tz = cal.tz
    day = start.astimezone(tz).date() - timedelta(days=1)
    last_open = day
    while (day - last_open).days <= SEARCH_DAYS_MAX:
        if not cal.is_holiday(day):
            for lo, hi in cal.weekly[day.weekday()]:
                a, b = _local(day, lo, tz), _local(day, hi, tz)
                if b > start:
                    last_open = day
                    yield max(a, start), b
        day += timedelta(days=1)
    raise NeverOpen(f"the calendar is closed for more than {SEARCH_DAYS_MAX} days after "
                    f"{start.isoformat()}")


def add(cal: Calendar, start: datetime, seconds: float) -> datetime:
    """The instant at which ``seconds`` of business time have passed since ``start``."""
    if seconds <= 0:
        return next_open(cal, start) if seconds == 0 else start
    left = timedelta(seconds=seconds)
    for a, b in spans_from(cal, start):
        if b - a >= left:
            return a + left
        left -= b - a
    raise AssertionError("spans_from ends by raising")


def elapsed(cal: Calendar, start: datetime, end: datetime) -> float:
    """Business seconds in [start, end) (0 when end is not after start)."""
    if end <= start:
        return 0.0
    if cal.always_open:
        return (end - start).total_seconds()
    total = timedelta()
    try:
        for a, b in spans_from(cal, start):
            if a >= end:
                break
            total += min(b, end) - a
    except NeverOpen:
        pass
    return total.total_seconds()


def next_open(cal: Calendar, at: datetime) -> datetime:
    """``at`` when the desk is open then, else the next opening."""
    for a, _ in spans_from(cal, at):
        return a
    raise AssertionError("spans_from ends by raising")


def is_open(cal: Calendar, at: datetime) -> bool:
    return next_open(cal, at) == at
