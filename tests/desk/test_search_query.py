"""desk.search_query: the user's text and the query string as a search request (pure)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from desk.models import CHANNELS, STATUSES
from desk.search_query import (
    LIMIT_DEFAULT,
    TERMS_MAX,
    TEXT_MAX,
    BadQuery,
    Cursor,
    SearchRequest,
    Term,
    fts5_match,
    like_pattern,
    parse_request,
    parse_text,
    parse_when,
)


def req(**params: str | list[str]) -> SearchRequest:
    as_lists = {k: v if isinstance(v, list) else [v] for k, v in params.items()}
    return parse_request(as_lists, statuses=STATUSES, channels=CHANNELS)


def words(raw: str) -> list[str]:
    return [t.text for t in parse_text(raw)]


@pytest.mark.parametrize(("raw", "expected"), [
    ("", []),
    ("   ", []),
    ("refund", ["refund"]),
    ("refund  broken\tprinter", ["refund", "broken", "printer"]),
    ('"paper jam" tray', ["paper jam", "tray"]),
    ('tray "paper   jam', ["tray", "paper jam"]),  # an unclosed quote runs to the end
    ('""', []),
    ('" "', []),
    ("a\"b", ["a b"]),
    ("refund refund", ["refund"]),
    ("100%", ["100%"]),
    ("% _ * - ( ) : ^", []),  # nothing a word could match
    ("NEAR(a b) OR NOT c*", ["NEAR(a", "b)", "OR", "NOT", "c*"]),
    ("bob@example.com", ["bob@example.com"]),
    ("x\x00y\x1bz", ["x", "y", "z"]),
    ("café", ["café"]),
])
def test_parse_text(raw: str, expected: list[str]) -> None:
    assert words(raw) == expected


def test_text_limits() -> None:
    assert len(parse_text("w " * (TEXT_MAX // 2))) == 1  # the same word once
    with pytest.raises(BadQuery, match="longer than 500"):
        parse_text("x" * (TEXT_MAX + 1))
    with pytest.raises(BadQuery, match="longer than"):
        parse_text("a" * 10_240)
    with pytest.raises(BadQuery, match=f"more than {TERMS_MAX}"):
        parse_text(" ".join(f"w{i}" for i in range(TERMS_MAX + 1)))


@pytest.mark.parametrize(("raw", "match"), [
    ("refund", '"refund"'),
    ('"paper jam" tray', '"paper jam" AND "tray"'),
    ("NEAR(a b) OR", '"NEAR(a" AND "b)" AND "OR"'),
    ("body:secret c*", '"body:secret" AND "c*"'),
    ("it's", '"it\'s"'),
])
def test_fts5_match_quotes_every_term(raw: str, match: str) -> None:
    assert fts5_match(parse_text(raw)) == match


def test_fts5_match_doubles_quotes() -> None:
    assert fts5_match([Term('say "hi"')]) == '"say ""hi"""'


@pytest.mark.parametrize(("value", "pattern"), [
    ("Eve", "%eve%"),
    ("100%", "%100\\%%"),
    ("a_b", "%a\\_b%"),
    ("back\\slash", "%back\\\\slash%"),
])
def test_like_pattern_escapes_wildcards(value: str, pattern: str) -> None:
    assert like_pattern(value) == pattern


def test_cursor_round_trip_and_garbage() -> None:
    at = datetime(2026, 12, 1, 10, 0, 0, 123456, tzinfo=UTC)
    cursor = Cursor.after(at, 42)
    assert Cursor.decode(cursor.encode()) == cursor
    assert cursor.updated_at == at
    assert Cursor.after(at.replace(tzinfo=None), 42) == cursor  # SQLite's naive UTC
    for bad in ("", "!!!", "x" * 200, "MTIz", Cursor(1, 0).encode(), "bm9wZS4x",
                Cursor(1, 2**31).encode()):
        with pytest.raises(BadQuery, match="cursor"):
            Cursor.decode(bad)


def test_parse_request_filters() -> None:
    r = req(q="printer", number="sb-1234567", email=" Eve@X.test ", contact="eve",
            organisation_id="3", organisation="Acme", assignee_id="me", group_id="2",
            status=["pending", "queued", "pending"], priority=["1", "3"], channel="email",
            tag=["vip", "vip"], field=["plan:gold", "seats:10"], limit="50")
    assert r.terms == (Term("printer"),)
    assert (r.number, r.email, r.contact) == ("SB-1234567", "eve@x.test", "eve")
    assert (r.organisation_id, r.organisation, r.assignee, r.group_id) == (3, "Acme", "me", 2)
    assert r.statuses == ("pending", "queued") and r.priorities == (1, 3)
    assert r.channels == ("email",) and r.tags == ("vip",)
    assert r.fields == (("plan", "gold"), ("seats", "10")) and r.limit == 50
    assert req().limit == LIMIT_DEFAULT and req(q="").terms == ()
    assert req(assignee_id="none").assignee == "none"
    assert req(assignee_id="7").assignee == 7
    assert req(number="7654321").number == "SB-7654321"
    assert req(field="note:").fields == (("note", ""),)


@pytest.mark.parametrize(("params", "message"), [
    ({"q": "x" * 10_240}, "q: search text is longer"),
    ({"number": "42"}, "number:"),
    ({"number": "SB-12345678"}, "number:"),
    ({"email": "a b@x"}, "email:"),
    ({"email": "x" * 300}, "email:"),
    ({"contact": "x" * 500}, "contact:"),
    ({"organisation_id": "0"}, "organisation_id: must be between"),
    ({"organisation_id": "abc"}, "organisation_id: must be an integer"),
    ({"assignee_id": "somebody"}, "assignee_id:"),
    ({"group_id": str(2**31)}, "group_id:"),
    ({"group_id": ["1", "2"]}, "group_id: give it once"),
    ({"status": "open"}, "status: must be one of"),
    ({"status": ["queued"] * 21}, "status: at most 20"),
    ({"priority": "10"}, "priority:"),
    ({"priority": "1.5"}, "priority:"),
    ({"channel": "fax"}, "channel:"),
    ({"tag": "a,b"}, "tag:"),
    ({"field": "nocolon"}, "field:"),
    ({"field": "bad name:x"}, "field:"),
    ({"field": "x:" + "v" * 300}, "field:"),
    ({"from": "yesterday"}, "from:"),
    ({"from": "2026-02-30"}, "from:"),
    ({"to": "1999-12-31"}, "to:"),
    ({"to": "99999-01-01"}, "to:"),
    ({"from": "2026-03-02", "to": "2026-03-01"}, "from/to: the range ends before"),
    ({"cursor": "%%%"}, "cursor:"),
    ({"limit": "0"}, "limit:"),
    ({"limit": "101"}, "limit:"),
    ({"sort": "id"}, "sort: not a search parameter"),
])
def test_bad_requests_name_the_parameter(params: dict[str, str | list[str]],
                                         message: str) -> None:
    with pytest.raises(BadQuery, match=message) as caught:
        req(**params)
    assert caught.value.status == 400


def test_dates() -> None:
    day = datetime(2026, 3, 1, tzinfo=UTC)
    assert parse_when("from", "2026-03-01", end=False) == day
    assert parse_when("to", "2026-03-01", end=True) == datetime(2026, 3, 2, tzinfo=UTC)
    assert parse_when("from", "2026-03-01T12:00:00Z", end=False) == day.replace(hour=12)
    # A "+" in a query string arrives as a space.
    assert parse_when("from", "2026-03-01T12:00:00 02:00", end=False) == day.replace(hour=10)
    assert parse_when("from", "2026-03-01T12:00", end=False) == day.replace(hour=12)
    same_day = req(**{"from": "2026-03-01", "to": "2026-03-01"})
    assert (same_day.active_from, same_day.active_before) == (
        day, datetime(2026, 3, 2, tzinfo=UTC))
