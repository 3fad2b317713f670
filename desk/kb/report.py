"""Knowledge reports from KB events (pure): views, searches and the ones with no result,
deflections, articles agents inserted — totals and per bucket of the viewer's zone
(desk.report_math's buckets).

A deflection is a widget reading session that opened at least one article and started no chat.
Until ``window`` has passed since its first view the visitor may still start one, so such a
session counts as ``deflections_pending``; after that, as ``deflections``.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from desk.report_math import Grain, bucket_starts, count_by_bucket

NO_RESULT_TOP = 50


@dataclass(frozen=True, slots=True)
class Event:
    kind: str
    source: str
    at: datetime
    session: str | None = None
    article_id: int | None = None
    query: str | None = None
    results: int | None = None


def deflections(events: Iterable[Event], now: datetime,
                window: timedelta) -> tuple[list[datetime], int]:
    """When each settled deflection's first view was, and how many are still pending."""
    first_view: dict[str, datetime] = {}
    chatted: set[str] = set()
    for e in events:
        if e.session is None:
            continue
        if e.kind == "chat":
            chatted.add(e.session)
        elif e.kind == "view" and e.source == "widget":
            held = first_view.get(e.session)
            first_view[e.session] = e.at if held is None or e.at < held else held
    settled, pending = [], 0
    for session, at in first_view.items():
        if session in chatted:
            continue
        if now - at >= window:
            settled.append(at)
        else:
            pending += 1
    return settled, pending


def knowledge_report(events: Sequence[Event], start: datetime, end: datetime, zone: ZoneInfo,
                     grain: Grain, now: datetime, window: timedelta,
                     titles: dict[int, str]) -> dict[str, Any]:
    """The report for [start, end). ``events`` may reach past ``end`` by ``window`` (a chat
    that came after a view inside the range still cancels its deflection)."""
    inside = [e for e in events if start <= e.at < end]
    starts = bucket_starts(start, end, zone, grain)

    def series(kind: str, extra: Any = None) -> list[int]:
        return count_by_bucket((e.at for e in inside if e.kind == kind
                                and (extra is None or extra(e))), starts, zone, grain)

    settled, pending = deflections(events, now, window)
    settled = [at for at in settled if start <= at < end]
    empty = Counter(" ".join((e.query or "").casefold().split()) for e in inside
                    if e.kind == "search" and e.results == 0 and e.query)
    views = Counter(e.article_id for e in inside if e.kind == "view" and e.article_id)
    inserted = Counter(e.article_id for e in inside if e.kind == "insert" and e.article_id)

    def top(counts: Counter[int]) -> list[dict[str, Any]]:
        return [{"article_id": k, "title": titles.get(k, ""), "count": n}
                for k, n in counts.most_common(20)]

    return {
        "buckets": [b.isoformat() for b in starts],
        "views": series("view"), "searches": series("search"),
        "searches_no_result": series("search", lambda e: e.results == 0),
        "inserted": series("insert"),
        "deflections": count_by_bucket(settled, starts, zone, grain),
        "totals": {
            "views": sum(1 for e in inside if e.kind == "view"),
            "searches": sum(1 for e in inside if e.kind == "search"),
            "searches_no_result": sum(1 for e in inside if e.kind == "search"
                                      and e.results == 0),
            "inserted": sum(1 for e in inside if e.kind == "insert"),
            "deflections": len(settled), "deflections_pending": pending,
        },
        "no_result_queries": [{"query": q, "count": n}
                              for q, n in empty.most_common(NO_RESULT_TOP)],
        "top_viewed": top(views), "top_inserted": top(inserted),
    }
