"""Contracts and warranties of an organisation, and the time agents log against them (pure).

A contract (support hours bought) or a warranty runs from ``starts_on`` to ``ends_on``
(inclusive; open-ended without one). Time an agent logs on a conversation counts against the
contact's organisation's contract in force that day — the one ending first when several are, so
hours that would lapse soonest are used first; a warranty without hours takes time only when no
contract with hours is in force. ``usage`` is what the customer 360 view shows.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

from desk import validate
from desk.errors import InvalidInput
from desk.limits import NAME_MAX

KINDS = ("contract", "warranty")
MINUTES_MAX = 24 * 60  # one entry: at most a day
NOTE_MAX = 1000


@dataclass(frozen=True, slots=True)
class Terms:
    id: int
    kind: str
    starts_on: date
    ends_on: date | None
    minutes_contracted: int | None  # None: no hours (a warranty, or unlimited)


@dataclass(frozen=True, slots=True)
class Usage:
    hours_contracted: float | None
    hours_used: float
    hours_left: float | None
    expired: bool
    in_force: bool


def expired(t: Terms, today: date) -> bool:
    return t.ends_on is not None and today > t.ends_on


def in_force(t: Terms, today: date) -> bool:
    return t.starts_on <= today and not expired(t, today)


def usage(t: Terms, minutes_used: int, today: date) -> Usage:
    contracted = t.minutes_contracted
    return Usage(
        hours_contracted=None if contracted is None else round(contracted / 60, 2),
        hours_used=round(minutes_used / 60, 2),
        hours_left=None if contracted is None else round((contracted - minutes_used) / 60, 2),
        expired=expired(t, today),
        in_force=in_force(t, today),
    )


def charged_to(contracts: Sequence[Terms], today: date) -> int | None:
    """The contract time logged today counts against (None: none is in force)."""
    live = [t for t in contracts if in_force(t, today)]
    if not live:
        return None
    with_hours = [t for t in live if t.minutes_contracted is not None] or live
    return min(with_hours, key=lambda t: (t.ends_on or date.max, t.id)).id


def check_entry(minutes: object, note: object) -> tuple[int, str | None]:
    """A time entry's fields, or InvalidInput naming the field."""
    if type(minutes) is not int or not 1 <= minutes <= MINUTES_MAX:
        raise InvalidInput(f"minutes: a whole number from 1 to {MINUTES_MAX}", "minutes")
    if note is None:
        return minutes, None
    if not isinstance(note, str) or len(note) > NOTE_MAX or "\x00" in note:
        raise InvalidInput(f"note: text of at most {NOTE_MAX} characters", "note")
    return minutes, note.strip() or None


def check_terms(kind: object, starts_on: object, ends_on: object,
                hours: object) -> tuple[str, date, date | None, int | None]:
    """A new contract's fields (dates as YYYY-MM-DD, hours a number or null)."""
    if kind not in KINDS:
        raise InvalidInput(f"kind: one of {', '.join(KINDS)}")
    start = _date("starts_on", starts_on)
    end = None if ends_on is None else _date("ends_on", ends_on)
    if end is not None and end < start:
        raise InvalidInput("ends_on: before starts_on")
    if hours is None:
        minutes = None
    elif isinstance(hours, bool) or not isinstance(hours, int | float) or not 0 <= hours <= 100_000:
        raise InvalidInput("hours: a number from 0 to 100000, or null")
    else:
        minutes = round(hours * 60)
    assert isinstance(kind, str)
    return kind, start, end, minutes


_DATE = {"type": "string", "format": "date"}
# The bodies check_entry and check_terms read (each a whole; the schemas state their rules).
ENTRY = validate.Body({
    "minutes": validate.Part({"type": "integer", "minimum": 1, "maximum": MINUTES_MAX}),
    "note": validate.Part({"type": "string", "maxLength": NOTE_MAX}, nullable=True)},
    required=("minutes",))
TERMS = validate.Body({
    "kind": validate.Part({"enum": list(KINDS)}), "name": validate.Text(NAME_MAX),
    "starts_on": validate.Part(_DATE), "ends_on": validate.Part(_DATE, nullable=True),
    "hours": validate.Part({"type": "number", "minimum": 0, "maximum": 100_000},
                           nullable=True)}, required=("kind", "name", "starts_on"))


def _date(name: str, raw: object) -> date:
    try:
        if not isinstance(raw, str) or len(raw) != 10:
            raise ValueError
        return date.fromisoformat(raw)
    except ValueError:
        raise InvalidInput(f"{name}: a date YYYY-MM-DD") from None
