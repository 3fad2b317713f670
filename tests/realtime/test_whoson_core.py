"""The pure parts of Who's On: cleaning what a visitor sends, rows, page deltas, the rules."""

from __future__ import annotations

import pytest

from desk import visit_rules
from desk.errors import InvalidInput
from realtime import protocol as p
from realtime import whoson
from realtime.errors import ProtocolError
from realtime.protocol_visits import PageView


def test_cleaning_keeps_text_drops_controls_and_bidi_and_bounds_length() -> None:
    assert whoson.clean("<b>Hi</b>\x00\u202e!", 100) == "<b>Hi</b>!"
    assert whoson.clean("x" * 5000, 2048) == "x" * 2048


def test_page_view_bounds_and_identity_is_never_a_field() -> None:
    with pytest.raises(ProtocolError):
        p.parse('{"type":"page_view","url":"' + "x" * 2049 + '"}')
    with pytest.raises(ProtocolError):
        p.parse('{"type":"page_view","url":"https://a","visitor_id":2}')
    view = p.parse('{"type":"page_view","url":"javascript:alert(1)","title":"<script>"}')
    assert isinstance(view, PageView) and view.url == "javascript:alert(1)"


def test_a_row_round_trips_through_the_visit_hash() -> None:
    view = PageView("https://shop/a", "A", "https://ref", "de")
    h: dict[str | bytes, str | int] = dict(whoson.view_fields(view, 2000))
    h.update(whoson.visit_start(view, 1000, False, "Vera"))
    h["n"], h["ret"] = 3, 1
    raw = {k.encode() if isinstance(k, str) else k: str(v).encode() for k, v in h.items()}
    row = whoson.row(7, raw)
    assert row is not None
    assert (row.visitor_id, row.url, row.page_since, row.arrived, row.pages) == (
        7, "https://shop/a", 2000, 1000, 3)
    assert row.returning and not row.chatted and row.name == "Vera" and not row.chatting
    assert whoson.row(7, {}) is None


def test_page_delta_sends_new_and_changed_rows_only() -> None:
    w = whoson.Watch(1, 0, 3, shown=(5, 4, 3), total=3)
    d = whoson.page_delta(w, [6, 5, 4], changed={4, 9}, total=4)
    assert d.need == (6, 4) and d.removed == (3,) and d.order == (6, 5, 4) and d.total_changed
    quiet = whoson.page_delta(w, [5, 4, 3], changed=set(), total=3)
    assert quiet.empty


def _facts(**kw: object) -> visit_rules.VisitFacts:
    base: dict[str, object] = {"url": "https://shop/checkout", "referrer": "", "pages": 1,
                               "returning": False, "seconds_on_page": 0.0}
    return visit_rules.VisitFacts(**{**base, **kw})  # type: ignore[arg-type]


def test_rules_match_on_the_visit_and_say_how_long_to_wait() -> None:
    config = {"auto_invites": [
        {"url_contains": "/pricing"},
        {"url_contains": "/CHECKOUT", "min_pages": 2, "min_seconds": 30, "text": "Help?"},
        {"returning": True}]}
    assert visit_rules.first_match(config, _facts()) is None
    i, rule = visit_rules.first_match(config, _facts(pages=2)) or (None, {})
    assert i == 1 and visit_rules.delay(rule, _facts(seconds_on_page=10)) == 20
    assert visit_rules.first_match(config, _facts(returning=True))[0] == 2  # type: ignore[index]


def test_a_bad_rule_is_refused_on_save_and_skipped_on_read() -> None:
    for bad in ({"min_seconds": -1}, {"url_contains": 3}, {"shell": "x"}, {"calendar_id": 0},
                "rule", {"returning": "yes"}):
        with pytest.raises(InvalidInput):
            visit_rules.check({"auto_invites": [bad]})
    with pytest.raises(InvalidInput):
        visit_rules.check({"tracking": "no"})
    with pytest.raises(InvalidInput):
        visit_rules.check({"invites_per_day": 99})
    assert visit_rules.rules({"auto_invites": [{"min_seconds": -1}, {"min_pages": 1}]}) == [
        {"min_pages": 1}]
    assert not visit_rules.tracking_on({"tracking": False})
    assert visit_rules.tracking_on({})
    assert visit_rules.invites_per_day({"invites_per_day": True}) == 3
