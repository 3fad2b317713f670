"""desk.kb.report: deflections and the knowledge report's figures (pure)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from desk.kb.report import Event, deflections, knowledge_report
from desk.report_math import Grain

T0 = datetime(2026, 3, 28, 12, tzinfo=UTC)
WINDOW = timedelta(minutes=30)


def view(session: str | None, minutes: int, source: str = "widget", article: int = 1) -> Event:
    return Event("view", source, T0 + timedelta(minutes=minutes), session, article)


def test_deflection_needs_a_widget_view_and_no_chat() -> None:
    events = [view("a", 0), view("a", 5, article=2), view("b", 0), Event("chat", "widget",
              T0 + timedelta(minutes=10), "b"), view("c", 0, source="page"), view(None, 0),
              view("d", 50)]
    settled, pending = deflections(events, T0 + timedelta(minutes=60), WINDOW)
    assert settled == [T0] and pending == 1  # a settled (once), d still pending


def test_chat_after_the_window_still_cancels() -> None:
    events = [view("a", 0), Event("chat", "widget", T0 + timedelta(hours=2), "a")]
    assert deflections(events, T0 + timedelta(hours=3), WINDOW) == ([], 0)


def test_report() -> None:
    events = [
        view("a", 0), view("x", 60 * 24, source="page", article=2),
        Event("search", "widget", T0, "a", query="Wo ist  meine Rechnung", results=0),
        Event("search", "page", T0, None, query="wo ist meine rechnung", results=0),
        Event("search", "page", T0, None, query="invoice", results=3),
        Event("insert", "console", T0 + timedelta(hours=1), article_id=2),
        Event("view", "widget", T0 + timedelta(days=9), "late", 1),  # outside the range
    ]
    start, end = T0.replace(hour=0), T0.replace(hour=0) + timedelta(days=3)
    out = knowledge_report(events, start, end, ZoneInfo("UTC"), Grain.DAY,
                           T0 + timedelta(days=10), WINDOW, {1: "One", 2: "Two"})
    assert out["totals"] == {"views": 2, "searches": 3, "searches_no_result": 2, "inserted": 1,
                             "deflections": 1, "deflections_pending": 0}
    assert out["views"] == [1, 1, 0] and out["deflections"] == [1, 0, 0]
    assert out["no_result_queries"] == [{"query": "wo ist meine rechnung", "count": 2}]
    assert out["top_inserted"] == [{"article_id": 2, "title": "Two", "count": 1}]
    assert len(out["buckets"]) == 3


def test_report_in_a_zone_across_dst() -> None:
    berlin = ZoneInfo("Europe/Berlin")
    start = datetime(2026, 3, 29, tzinfo=berlin)  # a 23-hour day
    out = knowledge_report([view("a", 60 * 13)], start, start + timedelta(days=2), berlin,
                           Grain.DAY, T0 + timedelta(days=5), WINDOW, {})
    assert out["views"] == [1, 0]
