"""Search requests, read from a query string: the text, the filters, the page (sans-I/O).

The user's text becomes a list of terms (a word, or a "quoted phrase"), every one of which must
match; nothing of the text is ever spliced into query syntax. Each backend renders the terms
its own safe way: SQLite FTS5 gets each term as a double-quoted string (quotes doubled, so
``NEAR``, ``*``, ``:``, ``-`` and column names are plain text there), PostgreSQL gets each
term as a bound parameter of ``phraseto_tsquery`` (which parses with the same parser as the
index). ``%`` and ``_`` are only ever LIKE wildcards after ``like_pattern`` has escaped them.

Bad input raises ``BadQuery`` (HTTP 400) with a message naming the parameter.
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

from desk import ticket_fields
from desk.errors import InvalidInput
from desk.limits import EMAIL_MAX, ID_MAX, ID_MIN, NAME_MAX, PRIORITY_MAX, TAG_MAX

TEXT_MAX = 500  # characters of search text
TERMS_MAX = 16
VALUES_MAX = 20  # repeated values of one filter (status=a&status=b...)
FIELD_NAME_MAX = 64
FIELD_VALUE_MAX = 255
LIMIT_DEFAULT, LIMIT_MAX = 25, 100
CURSOR_MAX = 100
# Dates before or after these are typos, and beyond what every backend's datetime can hold.
YEAR_MIN, YEAR_MAX = 2000, 2999

_WORD = re.compile(r"[^\W_]")  # a letter or digit
_PHRASE_OR_WORD = re.compile(r'"([^"]*)"?|(\S+)')
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_NUMBER = re.compile(r"^(?:SB-)?(\d{7})$", re.IGNORECASE)
_FIELD_NAME = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")


class BadQuery(InvalidInput):
    """A search request that cannot be read: HTTP 400, with what is wrong."""

    status = 400


@dataclass(frozen=True, slots=True)
class Term:
    """Words that must appear together, in this order (one word, or a quoted phrase)."""

    text: str


def parse_text(raw: str) -> tuple[Term, ...]:
    """The terms of the user's search text; ``()`` when there is nothing to search for.

    Quotes group a phrase (an unclosed quote runs to the end); everything else splits on
    white space. A term without a letter or digit is dropped: it could only match nothing.
    """
    if len(raw) > TEXT_MAX:
        raise BadQuery(f"q: search text is longer than {TEXT_MAX} characters")
    cleaned = _CONTROL.sub(" ", raw)
    terms: list[Term] = []
    for m in _PHRASE_OR_WORD.finditer(cleaned):
        phrase, word = m.group(1), m.group(2)
        value = " ".join((phrase if phrase is not None else word.replace('"', " ")).split())
        if _WORD.search(value) and Term(value) not in terms:
            terms.append(Term(value))
    if len(terms) > TERMS_MAX:
        raise BadQuery(f"q: more than {TERMS_MAX} words or phrases")
    return tuple(terms)


def fts5_string(text: str) -> str:
    """``text`` as one FTS5 string (a phrase of its tokens): quotes doubled, so nothing in it
    (``NEAR``, ``*``, ``:``, ``-``, ``^``, column names) is syntax."""
    return '"' + text.replace('"', '""') + '"'


def fts5_match(terms: Sequence[Term]) -> str:
    """An FTS5 MATCH expression: every term as one string, so none of it is syntax."""
    return " AND ".join(fts5_string(t.text) for t in terms)


def fts5_any(groups: Sequence[Sequence[str]]) -> str:
    """An FTS5 MATCH expression where any alternative of any group may match (ranked search,
    where BM25 orders by how much matched: desk.kb.query); each alternative one string."""
    alternatives = dict.fromkeys(a for group in groups for a in group if a.strip())
    return " OR ".join(fts5_string(a) for a in alternatives)


def like_pattern(value: str) -> str:
    """A LIKE pattern for "contains ``value``" (case folded), with ``\\`` as the escape."""
    escaped = value.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


@dataclass(frozen=True, slots=True)
class Cursor:
    """Where a page ends: the last row's ``updated_at`` (µs since the epoch, UTC) and id."""

    updated_us: int
    id: int

    def encode(self) -> str:
        raw = f"{self.updated_us}.{self.id}".encode()
        return base64.urlsafe_b64encode(raw).decode().rstrip("=")

    @classmethod
    def decode(cls, value: str) -> Cursor:
        bad = BadQuery("cursor: not a cursor this search returned")
        if len(value) > CURSOR_MAX:
            raise bad
        try:
            raw = base64.urlsafe_b64decode(value + "=" * (-len(value) % 4)).decode("ascii")
        except (binascii.Error, UnicodeDecodeError, ValueError):
            raise bad from None
        m = re.fullmatch(r"(-?\d{1,18})\.(\d{1,10})", raw)
        if m is None or not ID_MIN <= int(m.group(2)) <= ID_MAX:
            raise bad
        return cls(int(m.group(1)), int(m.group(2)))

    @classmethod
    def after(cls, updated_at: datetime, id: int) -> Cursor:
        when = updated_at if updated_at.tzinfo else updated_at.replace(tzinfo=UTC)
        return cls((when - _EPOCH) // timedelta(microseconds=1), id)

    @property
    def updated_at(self) -> datetime:
        return _EPOCH + timedelta(microseconds=self.updated_us)


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


@dataclass(frozen=True, slots=True)
class SearchRequest:
    """Everything a search asks for. Empty tuples and None mean "no such filter".

    ``assignee``: an agent id, ``"me"`` or ``"none"`` (unassigned). ``fields``: custom field
    name -> the value it must have. ``tags``: tag names that must all be on the conversation
    (read by ``desk.ticket_fields.tag``, so ``Billing`` finds ``billing``). ``active_from`` /
    ``active_before``: the last activity (``updated_at``, the order of the pages) in
    [from, before)."""

    terms: tuple[Term, ...] = ()
    number: str | None = None
    email: str | None = None
    contact: str | None = None
    organisation_id: int | None = None
    organisation: str | None = None
    assignee: int | str | None = None
    group_id: int | None = None
    statuses: tuple[str, ...] = ()
    priorities: tuple[int, ...] = ()
    channels: tuple[str, ...] = ()
    tags: tuple[str, ...] = ()
    fields: tuple[tuple[str, str], ...] = ()
    active_from: datetime | None = None
    active_before: datetime | None = None
    cursor: Cursor | None = None
    limit: int = LIMIT_DEFAULT


Params = Mapping[str, Sequence[str]]
KNOWN = frozenset({"q", "number", "email", "contact", "organisation_id", "organisation",
                   "assignee_id", "group_id", "status", "priority", "channel", "tag", "field",
                   "from", "to", "cursor", "limit"})


def parse_request(params: Params, *, statuses: Sequence[str],
                  channels: Sequence[str]) -> SearchRequest:
    """Read a search from query parameters (each name to its values, in order)."""
    unknown = sorted(set(params) - KNOWN)
    if unknown:
        raise BadQuery(f"{unknown[0][:40]}: not a search parameter")
    active_from, active_before = _date_range(_one(params, "from"), _one(params, "to"))
    return SearchRequest(
        terms=parse_text(_one(params, "q") or ""),
        number=_number(_one(params, "number")),
        email=_email(_one(params, "email")),
        contact=_text(params, "contact", NAME_MAX),
        organisation_id=_int(params, "organisation_id", ID_MIN, ID_MAX),
        organisation=_text(params, "organisation", NAME_MAX),
        assignee=_assignee(_one(params, "assignee_id")),
        group_id=_int(params, "group_id", ID_MIN, ID_MAX),
        statuses=_choices(params, "status", statuses),
        priorities=tuple(sorted({_to_int("priority", v, 0, PRIORITY_MAX)
                                 for v in _many(params, "priority")})),
        channels=_choices(params, "channel", channels),
        tags=tuple(dict.fromkeys(_tag(v) for v in _many(params, "tag"))),
        fields=tuple(dict.fromkeys(_field(v) for v in _many(params, "field"))),
        active_from=active_from,
        active_before=active_before,
        cursor=Cursor.decode(c) if (c := _one(params, "cursor")) else None,
        limit=_int(params, "limit", 1, LIMIT_MAX) or LIMIT_DEFAULT,
    )


def _many(params: Params, name: str) -> list[str]:
    values = [v for v in params.get(name, ()) if v != ""]
    if len(values) > VALUES_MAX:
        raise BadQuery(f"{name}: at most {VALUES_MAX} values")
    return values


def _one(params: Params, name: str) -> str | None:
    values = [v for v in params.get(name, ()) if v != ""]
    if len(values) > 1:
        raise BadQuery(f"{name}: give it once")
    return values[0] if values else None


def _text(params: Params, name: str, max_len: int) -> str | None:
    value = _one(params, name)
    if value is None:
        return None
    value = " ".join(_CONTROL.sub(" ", value).split())
    if len(value) > max_len:
        raise BadQuery(f"{name}: longer than {max_len} characters")
    return value or None


def _to_int(name: str, raw: str, lo: int, hi: int) -> int:
    if not re.fullmatch(r"-?\d{1,12}", raw):
        raise BadQuery(f"{name}: must be an integer")
    value = int(raw)
    if not lo <= value <= hi:
        raise BadQuery(f"{name}: must be between {lo} and {hi}")
    return value


def _int(params: Params, name: str, lo: int, hi: int) -> int | None:
    raw = _one(params, name)
    return None if raw is None else _to_int(name, raw, lo, hi)


def _choices(params: Params, name: str, allowed: Sequence[str]) -> tuple[str, ...]:
    values = _many(params, name)
    for v in values:
        if v not in allowed:
            raise BadQuery(f"{name}: must be one of {', '.join(allowed)}")
    return tuple(dict.fromkeys(values))


def _number(raw: str | None) -> str | None:
    if raw is None:
        return None
    m = _NUMBER.match(raw.strip())
    if m is None:
        raise BadQuery("number: a ticket number looks like SB-1234567")
    return f"SB-{m.group(1)}"


def _email(raw: str | None) -> str | None:
    if raw is None:
        return None
    value = raw.strip().lower()
    if not 0 < len(value) <= EMAIL_MAX or _CONTROL.search(value) or " " in value:
        raise BadQuery(f"email: an address of 1 to {EMAIL_MAX} characters without spaces")
    return value


def _assignee(raw: str | None) -> int | str | None:
    if raw is None or raw in ("me", "none"):
        return raw
    return _to_int("assignee_id", raw, ID_MIN, ID_MAX)


def _tag(raw: str) -> str:
    try:
        return ticket_fields.tag(raw)
    except InvalidInput:
        raise BadQuery(f"tag: 1 to {TAG_MAX} characters, no commas or control "
                       "characters") from None


def _field(raw: str) -> tuple[str, str]:
    name, sep, value = raw.partition(":")
    if not sep or not _FIELD_NAME.match(name):
        raise BadQuery(f"field: name:value, the name 1 to {FIELD_NAME_MAX} letters, digits, "
                       "'_', '.' or '-'")
    if len(value) > FIELD_VALUE_MAX or _CONTROL.search(value):
        raise BadQuery(f"field: the value at most {FIELD_VALUE_MAX} characters")
    return name, value


def parse_when(name: str, raw: str, *, end: bool) -> datetime:
    """A date (``YYYY-MM-DD``: the whole day) or an ISO 8601 time (UTC unless it says).

    ``end``: a date means the start of the next day (the range's exclusive end)."""
    bad = BadQuery(f"{name}: a date YYYY-MM-DD or an ISO 8601 time, years {YEAR_MIN}-{YEAR_MAX}")
    value = raw.strip()
    if len(value) > 40:
        raise bad
    try:
        whole_day = re.fullmatch(r"\d{4}-\d{2}-\d{2}", value) is not None
        if whole_day:
            when = datetime.combine(date.fromisoformat(value), time(), UTC)
        else:
            when = datetime.fromisoformat(value.replace("Z", "+00:00").replace(" ", "+"))
            when = when if when.tzinfo else when.replace(tzinfo=UTC)
    except ValueError:
        raise bad from None
    if not YEAR_MIN <= when.year <= YEAR_MAX:
        raise bad
    return when.astimezone(UTC) + (timedelta(days=1) if whole_day and end else timedelta())


def _date_range(start: str | None, stop: str | None) -> tuple[datetime | None, datetime | None]:
    lo = parse_when("from", start, end=False) if start is not None else None
    hi = parse_when("to", stop, end=True) if stop is not None else None
    if lo is not None and hi is not None and lo >= hi:
        raise BadQuery("from/to: the range ends before it starts")
    return lo, hi
