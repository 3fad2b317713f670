"""Daily rollups (desk.report_rollups) give the raw computation's figures to the digit: every
report, by day/week/month, over ranges with partial days, across Berlin's DST changes, for
admin, supervisor and agent scopes, with filters; a fact written into a built day counts at
once and after the rebuild; the worker's build is idempotent. Both databases."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select

from desk import api_reports, report_rollups, reports
from desk import report_math as rm
from desk.auth import Principal
from desk.db import SessionMaker
from desk.models import Conversation, ReportFact, ReportRollup, ReportRollupDay
from desk.settings import Settings

BERLIN = ZoneInfo("Europe/Berlin")
# Clocks go forward on 29 March and back on 25 October 2026 in Berlin.
DAYS = [datetime(2026, 3, 20, tzinfo=UTC) + timedelta(days=d) for d in range(16)] + [
    datetime(2026, 10, 20, tzinfo=UTC) + timedelta(days=d) for d in range(10)]
NOW = datetime(2026, 11, 5, 12, tzinfo=UTC)
DURATION_KINDS = ("assigned", "first_response", "response", "time_logged", "abandoned")


async def _generate(sm: SessionMaker, org: dict[str, int], seed: int = 5) -> None:
    """Conversations with every kind of fact at random instants of DAYS (resolved twice,
    re-rated, SLA met late, facts without a group or an agent)."""
    rng = random.Random(seed)
    agents = [org["agent"], org["sup"], None]
    async with sm() as s:
        for n in range(120):
            day = rng.choice(DAYS)
            created = day + timedelta(seconds=rng.randrange(86_400))
            group = rng.choice([org["ga"], org["gb"], None])
            conv = Conversation(number=f"SB-{n:07d}", channel=rng.choice(["chat", "email"]),
                                group_id=group, created_at=created, status="resolved",
                                topic=rng.choice(["billing", "login", None]))
            s.add(conv)
            await s.flush()
            for i in range(rng.randrange(3, 12)):
                kind = "created" if i == 0 else rng.choice(
                    ("assigned", "first_response", "response", "response", "resolved",
                     "rating", "sla_met", "sla_breached", "reopened", "transferred",
                     "abandoned", "time_logged", "closed"))
                at = created + timedelta(seconds=rng.choice([0, 30, 3600, 50_000, 90_000]) * i)
                value: float | None = None
                if kind in DURATION_KINDS or kind == "resolved":
                    value = rng.choice([0.0, 0.4, 30.0, 30.5, 61.25, 600.0, 7200.0,
                                        rng.uniform(1, 10_000)])
                elif kind == "rating":
                    value = float(rng.randrange(1, 6))
                data: dict[str, Any] = {}
                if kind == "sla_met":
                    data = {"target": "first_response", "breached": rng.random() < 0.3}
                s.add(ReportFact(kind=kind, conversation_id=conv.id, at=at,
                                 channel=conv.channel, group_id=group,
                                 agent_id=rng.choice(agents), topic=conv.topic,
                                 organisation_id=rng.choice([None, 7, 8]), value=value,
                                 data=data))
        await s.commit()


def _principals(org: dict[str, int]) -> list[Principal]:
    return [Principal(org["admin"], "admin", "A", "", "", frozenset()),
            Principal(org["sup"], "supervisor", "Sam", "", "",
                      frozenset({org["ga"], org["gb"]})),
            Principal(org["agent"], "agent", "Ana", "", "", frozenset({org["ga"]}))]


RANGES = [
    (datetime(2026, 3, 20, tzinfo=BERLIN), datetime(2026, 4, 5, tzinfo=BERLIN), rm.Grain.DAY),
    (datetime(2026, 3, 21, 13, 30, tzinfo=BERLIN), datetime(2026, 4, 3, 7, tzinfo=BERLIN),
     rm.Grain.WEEK),
    (datetime(2026, 3, 1, tzinfo=BERLIN), datetime(2026, 11, 1, tzinfo=BERLIN), rm.Grain.MONTH),
    (datetime(2026, 10, 24, tzinfo=BERLIN), datetime(2026, 10, 27, tzinfo=BERLIN), rm.Grain.DAY),
]


async def _reports(sm: SessionMaker, settings: Settings, org: dict[str, int],
                   monkeypatch: pytest.MonkeyPatch) -> list[dict[str, Any]]:
    monkeypatch.setattr(api_reports, "utcnow", lambda: NOW)
    out = []
    admin, sup, agent = _principals(org)
    every = ("overview", "agents", "groups", "channels", "topics", "organisations", "csat")
    asks: list[tuple[Principal, str, dict[str, Any]]] = [
        *((admin, name, {}) for name in every),
        *((admin, name, f) for name in ("overview", "groups")
          for f in ({"channel": "chat"}, {"agent_id": org["agent"]})),
        *((p, name, {}) for p in (sup, agent) for name in ("overview", "agents"))]
    for start, end, grain in RANGES:
        for p, name, filters in asks:
            r = reports.Range(start, end, BERLIN, grain, filters)
            out.append(await api_reports._report(sm, settings, p, name, r))
    return out


async def test_rollups_give_the_raw_figures(sm: SessionMaker, settings: Settings,
                                            org: dict[str, int],
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    await _generate(sm, org)
    berlin = settings.with_(report_tz="Europe/Berlin")
    raw = await _reports(sm, berlin, org, monkeypatch)  # nothing built yet: all facts
    assert await report_rollups.build(sm, BERLIN, NOW) > 200  # 20 March to yesterday
    assert await report_rollups.build(sm, BERLIN, NOW) == 0  # nothing new
    read: list[Any] = []
    monkeypatch.setattr(report_rollups, "_as_fact", _spy(report_rollups._as_fact, read))
    assert await _reports(sm, berlin, org, monkeypatch) == raw
    assert len(read) > 500  # the rollups were read

    # A fact written into a built day is read from the facts until the day is rebuilt.
    async with sm() as s:
        conv = await s.scalar(select(Conversation).limit(1))
        assert conv is not None
        s.add(ReportFact(kind="response", conversation_id=conv.id,
                         at=datetime(2026, 3, 25, 12, tzinfo=UTC), channel=conv.channel,
                         group_id=org["ga"], agent_id=org["agent"], value=45.0, data={}))
        await s.commit()
    after = await _reports(sm, settings, org, monkeypatch)  # in UTC: the facts only
    assert after != raw
    assert await _reports(sm, berlin, org, monkeypatch) == after
    assert await report_rollups.build(sm, BERLIN, NOW) == 1
    assert await _reports(sm, berlin, org, monkeypatch) == after


def _spy(fn: Any, calls: list[Any]) -> Any:
    def wrapped(*args: Any) -> Any:
        calls.append(args)
        return fn(*args)
    return wrapped


async def test_a_rebuild_is_idempotent_and_today_is_never_built(
        sm: SessionMaker, org: dict[str, int]) -> None:
    await _generate(sm, org, seed=9)
    now = datetime(2026, 3, 30, 9, tzinfo=UTC)  # facts of today (30 March) stay raw
    await report_rollups.build(sm, BERLIN, now)
    async with sm() as s:
        rows = await s.scalar(select(func.count()).select_from(ReportRollup))
        days = set((await s.scalars(select(ReportRollupDay.day))).all())
        assert datetime(2026, 3, 30).date() not in days
        assert datetime(2026, 3, 29).date() in days
        through = await s.scalar(select(func.max(ReportFact.id)))
        assert through is not None
        for day in sorted(days):
            await report_rollups.build_day(s, BERLIN, day, through)
        await s.commit()
        assert await s.scalar(select(func.count()).select_from(ReportRollup)) == rows


def test_the_dimension_a_report_reads() -> None:
    admin = Principal(1, "admin", "A", "", "", frozenset())
    agent = Principal(2, "agent", "B", "", "", frozenset({1}))
    r = reports.Range(datetime(2026, 3, 1, tzinfo=UTC), datetime(2026, 3, 2, tzinfo=UTC),
                      ZoneInfo("UTC"), rm.Grain.DAY)
    dim = report_rollups.dimension
    assert (dim(admin, r, "overview"), dim(admin, r, "agents"), dim(agent, r, "overview"),
            dim(agent, r, "agents"), dim(admin, r, "sla"), dim(admin, r, "fields")) == (
        "group", "agent", "agent", "agent", None, None)
    narrowed = reports.Range(r.start, r.end, r.zone, r.grain, {"channel": "chat"})
    assert (dim(admin, narrowed, "overview"), dim(admin, narrowed, "agents"),
            dim(agent, narrowed, "overview")) == ("channel", None, None)
