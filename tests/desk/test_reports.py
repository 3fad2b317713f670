"""Reports from scripted conversations (desk.facts through their homes, desk.api_reports):
known waits, responses, resolutions and ratings give exactly the expected figures in the API,
in the CSV and in the conversation export; zones and DST; scope; bad ranges. Both databases."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest

from desk import facts, report_export, reports, sla_store
from desk import report_math as rm
from desk.auth import Principal
from desk.db import SessionMaker
from desk.models import Conversation, Message
from realtime import records
from tests.desk.conftest import login

T0 = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)  # a Monday
RANGE = {"from": "2026-03-02", "to": "2026-03-04", "tz": "UTC"}


class Script:
    """Drives one conversation through the homes that record facts, at given instants."""

    def __init__(self, sm: SessionMaker, conv_id: int) -> None:
        self.sm, self.id, self.seq = sm, conv_id, 0

    @classmethod
    async def create(cls, sm: SessionMaker, number: str, at: datetime, group: int,
                     channel: str = "chat") -> Script:
        async with sm() as s:
            conv = Conversation(number=number, channel=channel, group_id=group, created_at=at,
                                status="queued")
            s.add(conv)
            await s.flush()
            await sla_store.start(s, [conv.id], at)
            await s.commit()
            return cls(sm, conv.id)

    async def say(self, author: str, at: datetime) -> None:
        async with self.sm() as s:
            self.seq += 1
            s.add(Message(conversation_id=self.id, seq=self.seq, author_kind=author,
                          body="x", created_at=at))
            await sla_store.on_messages(s, [sla_store.Posted(self.id, author, "public", at)])
            await s.commit()

    async def assign(self, agent: int, at: datetime) -> None:
        # What routing.router._write does for an accepted offer.
        async with self.sm() as s:
            conv = await s.get(Conversation, self.id)
            assert conv is not None
            await sla_store.status_changed(s, conv, conv.status, "active", at)
            await facts.assigned(s, conv, agent, at, conv.group_id)
            conv.status, conv.assignee_id = "active", agent
            await s.commit()

    async def status(self, new: str, at: datetime) -> None:
        async with self.sm() as s:
            conv = await s.get(Conversation, self.id)
            assert conv is not None
            await sla_store.status_changed(s, conv, conv.status, new, at)
            conv.status = new
            await s.commit()

    async def rate(self, rating: int, at: datetime, monkeypatch: pytest.MonkeyPatch) -> None:
        monkeypatch.setattr(records, "utcnow", lambda: at)
        await records.set_status_fields(self.sm, self.id, rating=rating,
                                        rating_comment=f"gave {rating}")

    async def sla(self, kind: str, at: datetime, **data: Any) -> None:
        async with self.sm() as s:
            conv = await s.get(Conversation, self.id)
            assert conv is not None
            facts.record(s, kind, conv, at, **data)
            await s.commit()


def m(minutes: float) -> datetime:
    return T0 + timedelta(minutes=minutes)


@pytest.fixture
async def scripted(sm: SessionMaker, org: dict[str, int],
                   monkeypatch: pytest.MonkeyPatch) -> dict[str, int]:
    a = await Script.create(sm, "SB-0000001", m(0), org["ga"])
    await a.say("contact", m(0))
    await a.assign(org["agent"], m(0.5))  # wait 30 s
    await a.say("agent", m(1))  # first response 60 s, response 60 s
    await a.say("contact", m(5))
    await a.say("contact", m(6))  # still the 10:05 line waits
    await a.say("agent", m(5 + 20 / 60 + 1))  # response 80 s
    await a.sla("sla_met", m(1), target="first_response", breached=False)
    await a.status("resolved", m(10))  # resolution 600 s
    await a.rate(5, m(11), monkeypatch)
    b = await Script.create(sm, "SB-0000002", m(60), org["gb"], "email")
    await b.say("contact", m(60))
    await b.assign(org["sup"], m(62))  # wait 120 s
    await b.sla("sla_breached", m(75), target="first_response")
    await b.say("supervisor", m(90))  # first response 1800 s, response 1800 s
    await b.status("resolved", m(120))
    await b.status("active", m(130))  # reopened
    await b.status("resolved", m(180))  # counted once, with its last resolution: 7200 s
    await b.rate(2, m(181), monkeypatch)
    c = await Script.create(sm, "SB-0000003", m(23 * 60), org["ga"])  # Tuesday 09:00
    gone = await Script.create(sm, "SB-0000004", m(23 * 60 + 1), org["ga"])
    await gone.status("closed", m(23 * 60 + 4))  # the visitor left the queue after 3 min
    return {"a": a.id, "b": b.id, "c": c.id}


async def get(client: httpx.AsyncClient, path: str, **params: Any) -> httpx.Response:
    return await client.get(path, params={**RANGE, **params})


async def test_overview_figures_are_exact(client: httpx.AsyncClient,
                                          scripted: dict[str, int]) -> None:
    await login(client, "admin@x.test")
    r = await get(client, "/api/reports/overview")
    assert r.status_code == 200, r.text
    t = r.json()["totals"]
    assert (t["created"], t["assigned"], t["resolved"], t["reopened"]) == (4, 2, 2, 1)
    assert t["abandoned"] == 1
    assert (t["wait_median"], t["wait_p90"]) == (30, 120)
    assert (t["first_response_median"], t["first_response_p90"]) == (60, 1800)
    assert t["response_count"] == 3
    assert (t["response_median"], t["response_p90"]) == (80, 1800)
    assert (t["resolution_median"], t["resolution_p90"]) == (600, 7200)
    assert (t["csat_count"], t["csat_mean"], t["csat_satisfied"]) == (2, 3.5, 0.5)
    assert (t["sla_met"], t["sla_breached"], t["sla_pct_met"]) == (1, 1, 0.5)
    series = r.json()["series"]
    assert [(x["start"][:10], x["created"], x["resolved"]) for x in series] == [
        ("2026-03-02", 2, 2), ("2026-03-03", 2, 0)]


async def test_csv_has_the_rows_of_the_chart(client: httpx.AsyncClient,
                                             scripted: dict[str, int]) -> None:
    await login(client, "admin@x.test")
    chart = (await get(client, "/api/reports/overview")).json()["series"]
    r = await get(client, "/api/reports/overview", format="csv")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(r.text)))
    assert len(rows) == len(chart) == 2
    for row, point in zip(rows, chart, strict=True):
        assert row["start"] == point["start"]
        for col in ("created", "resolved", "wait_median", "response_p90", "csat_mean"):
            assert row[col] == ("" if point[col] is None else str(point[col]))
    agents = list(csv.DictReader(io.StringIO(
        (await get(client, "/api/reports/agents", format="csv", table="rows")).text)))
    ana = next(x for x in agents if x["agent"] == "Ana")
    assert (ana["assigned"], ana["resolved"], ana["response_count"]) == ("1", "1", "2")


async def test_compare_previous_period(client: httpx.AsyncClient,
                                       scripted: dict[str, int]) -> None:
    await login(client, "admin@x.test")
    body = (await get(client, "/api/reports/overview", compare="previous")).json()
    assert body["previous"]["from"].startswith("2026-02-28")
    assert body["previous"]["totals"]["created"] == 0


async def test_groups_channels_csat_sla(client: httpx.AsyncClient, org: dict[str, int],
                                        scripted: dict[str, int]) -> None:
    await login(client, "admin@x.test")
    groups = {x["group"]: x for x in (await get(client, "/api/reports/groups")).json()["rows"]}
    assert (groups["A"]["created"], groups["B"]["resolution_median"]) == (3, 7200)
    channels = {x["channel"]: x for x in
                (await get(client, "/api/reports/channels")).json()["rows"]}
    assert (channels["chat"]["created"], channels["email"]["created"]) == (3, 1)
    c = (await get(client, "/api/reports/csat")).json()
    assert c["distribution"]["by_rating"] == {"1": 0, "2": 1, "3": 0, "4": 0, "5": 1}
    assert {x["comment"] for x in c["comments"]} == {"gave 5", "gave 2"}
    sla = (await get(client, "/api/reports/sla")).json()["targets"]
    assert sla == [{"target": "first_response", "met": 1, "breached": 1, "pct_met": 0.5,
                    "breached_conversations": [scripted["b"]]}]


async def test_every_figure_drills_down(client: httpx.AsyncClient,
                                        scripted: dict[str, int]) -> None:
    await login(client, "admin@x.test")
    body = (await get(client, "/api/reports/overview")).json()
    r = await client.get(body["totals"]["drilldown"]["resolved"])
    assert r.status_code == 200, r.text
    assert [x["id"] for x in r.json()["items"]] == [scripted["a"], scripted["b"]]
    assert [x["facts"] for x in r.json()["items"]] == [1, 2]
    tuesday = (await client.get(body["series"][1]["drilldown"]["created"])).json()
    assert [x["number"] for x in tuesday["items"]] == ["SB-0000003", "SB-0000004"]
    gone = (await client.get(body["totals"]["drilldown"]["abandoned"])).json()["items"]
    assert [x["number"] for x in gone] == ["SB-0000004"]


async def test_conversation_export(client: httpx.AsyncClient,
                                   scripted: dict[str, int]) -> None:
    await login(client, "admin@x.test")
    r = await client.get("/api/reports/conversations.csv", params=RANGE)
    assert r.status_code == 200, r.text
    rows = {x["number"]: x for x in csv.DictReader(io.StringIO(r.text))}
    assert set(rows) == {"SB-0000001", "SB-0000002", "SB-0000003", "SB-0000004"}
    b = rows["SB-0000002"]
    assert (b["resolution_s"], b["csat"], b["sla"], b["agent"]) == ("7200", "2",
                                                                     "breached", "Sam")
    assert rows["SB-0000001"]["first_response"].startswith("2026-03-02T10:01")
    assert rows["SB-0000003"]["resolved"] == ""


async def test_scope(client: httpx.AsyncClient, org: dict[str, int],
                     scripted: dict[str, int]) -> None:
    await login(client, "agent@x.test")
    t = (await get(client, "/api/reports/overview")).json()["totals"]
    # Ana's own facts: her assignment, her responses and resolve; no ratings for agents.
    assert (t["created"], t["assigned"], t["resolved"], t["response_count"]) == (0, 1, 1, 2)
    assert t["csat_count"] == 0
    assert (await get(client, "/api/reports/csat")).status_code == 403
    rows = (await get(client, "/api/reports/agents")).json()["rows"]
    assert [x["agent_id"] for x in rows] == [org["agent"]]
    export = (await client.get("/api/reports/conversations.csv", params=RANGE)).text
    assert "SB-0000001" in export and "SB-0000002" not in export


async def test_zone_and_dst_buckets(client: httpx.AsyncClient, sm: SessionMaker,
                                    org: dict[str, int]) -> None:
    # 23:30 UTC on 28 March is 00:30 on the 29th in Berlin, the day clocks go forward.
    await Script.create(sm, "SB-0000009", datetime(2026, 3, 28, 23, 30, tzinfo=UTC), org["ga"])
    await login(client, "admin@x.test")
    span = {"from": "2026-03-28", "to": "2026-03-30"}
    berlin = (await client.get("/api/reports/overview",
                               params={**span, "tz": "Europe/Berlin"})).json()["series"]
    assert [x["created"] for x in berlin] == [0, 1]
    utc = (await client.get("/api/reports/overview", params={**span, "tz": "UTC"})).json()
    assert [x["created"] for x in utc["series"]] == [1, 0]
    hours = (await client.get("/api/reports/overview", params={
        "from": "2026-03-29", "to": "2026-03-30", "tz": "Europe/Berlin",
        "group_by": "hour"})).json()["series"]
    assert len(hours) == 23 and hours[0]["created"] == 1


@pytest.mark.parametrize("params, word", [
    ({"tz": "Mars/Base"}, "time zone"),
    ({"from": "2026-03-04", "to": "2026-03-02"}, "end after"),
    ({"from": "yesterday"}, "date"),
    ({"from": ""}, "required"),
    ({"from": "2025-10-01", "to": "2026-03-01", "group_by": "hour"}, "buckets"),
    ({"from": "2020-01-01"}, "at most"),
    ({"group_by": "year"}, "group_by"),
    ({"channel": "fax"}, "channel"),
])
async def test_bad_ranges_are_400(client: httpx.AsyncClient, org: dict[str, int],
                                  params: dict[str, str], word: str) -> None:
    await login(client, "admin@x.test")
    r = await get(client, "/api/reports/overview", **params)
    assert r.status_code == 400, r.text
    assert word in r.json()["error"]["message"]
    r = await get(client, "/api/reports/drilldown", kind="nope")
    assert r.status_code == 400


async def test_export_across_batches(client: httpx.AsyncClient, scripted: dict[str, int],
                                     monkeypatch: pytest.MonkeyPatch) -> None:
    await login(client, "admin@x.test")
    whole = (await client.get("/api/reports/conversations.csv", params=RANGE)).text
    monkeypatch.setattr(report_export, "EXPORT_BATCH", 1)
    assert (await client.get("/api/reports/conversations.csv", params=RANGE)).text == whole
    monkeypatch.setattr(report_export, "EXPORT_BATCH", 3)
    assert (await client.get("/api/reports/conversations.csv", params=RANGE)).text == whole
    await login(client, "agent@x.test")
    mine = list(csv.DictReader(io.StringIO((await client.get(
        "/api/reports/conversations.csv", params=RANGE)).text)))
    assert [(x["number"], x["resolution_s"]) for x in mine] == [("SB-0000001", "600")]


async def _export(sm: SessionMaker, p: Principal, batched: bool) -> bytes:
    r = reports.Range(T0, T0 + timedelta(days=2), ZoneInfo("UTC"), rm.Grain.DAY)
    return b"".join([c async for c in report_export.export_lines(sm, p, r, "http://x",
                                                                   batched=batched)])


async def test_streamed_export_is_the_batched_one(sm: SessionMaker, org: dict[str, int],
                                                  scripted: dict[str, int]) -> None:
    # PostgreSQL folds the facts in its cursor's query, SQLite in Python: the same bytes,
    # quoting included (a custom field with a comma, a quote and a line break).
    async with sm() as s:
        conv = await s.get(Conversation, scripted["c"])
        assert conv is not None
        conv.custom_fields = {"note": 'a, "b"\nc', "n": 2}
        await s.commit()
    admin = Principal(org["admin"], "admin", "A", "", "", frozenset())
    agent = Principal(org["agent"], "agent", "Ana", "", "", frozenset({org["ga"]}))
    got = {}
    for p in (admin, agent):
        got[p.role] = await _export(sm, p, batched=False)
        assert got[p.role] == await _export(sm, p, batched=True)
        assert b"\r" not in got[p.role]
    # The header and four rows (one of them the agent's), custom fields quoted as COPY does.
    assert (got["admin"].count(b"\n"), got["agent"].count(b"\n")) == (5, 2)
    assert b'"{""note"": ""a, \\""b\\""\\nc"", ""n"": 2}"' in got["admin"]
