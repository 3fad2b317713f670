"""Planning reports over the real app: the staffing forecast from scripted arrivals, help desks
by responsible and status, contract hours and expiry, today's figures. Both databases."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import httpx
import pytest

from desk import report_math as rm
from desk.db import SessionMaker
from desk.models import Contact, Contract, Conversation, Organisation, TimeEntry
from tests.desk.conftest import login
from tests.desk.test_reports import Script


def _now() -> datetime:
    return datetime.now(UTC)


async def test_forecast_from_the_last_weeks(client: httpx.AsyncClient, sm: SessionMaker,
                                            org: dict[str, int]) -> None:
    now = _now()
    last_week = now - timedelta(weeks=1) + timedelta(hours=2)  # in the last week's window
    for i in range(3):
        await Script.create(sm, f"SB-00001{i:02}", last_week, org["ga"])
    await Script.create(sm, "SB-0000200", last_week - timedelta(weeks=1), org["gb"])
    await Script.create(sm, "SB-0000300", now - timedelta(weeks=3), org["ga"])  # too old
    await login(client, "admin@x.test")
    r = await client.get("/api/reports/forecast", params={
        "weeks": 2, "tz": "Europe/Berlin", "handle_s": 600, "target_wait_s": 30, "level": 80})
    assert r.status_code == 200, r.text
    body = r.json()
    hours = body["hours"]
    h = rm.hour_of_week(last_week, ZoneInfo("Europe/Berlin"))
    assert body["arrivals"] == 4 and len(hours) == 168
    assert hours[h]["expected"] == 2.0 and sum(x["expected"] for x in hours) == 2.0
    assert hours[h]["agents"] == rm.agents_needed(2.0, 600, 30, 0.8) == 2
    assert {x["agents"] for i, x in enumerate(hours) if i != h} == {0}
    assert (hours[h]["day"], hours[h]["hour"]) == (
        ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")[h // 24],
        h % 24)
    only_b = (await client.get("/api/reports/forecast", params={
        "weeks": 2, "group_id": org["gb"]})).json()
    assert only_b["arrivals"] == 1

    await login(client, "agent@x.test")
    assert (await client.get("/api/reports/forecast")).status_code == 403


@pytest.mark.parametrize("params", [{"weeks": 0}, {"weeks": 53}, {"handle_s": 1},
                                    {"level": 100}, {"tz": "Nowhere/City"}])
async def test_forecast_refuses_bad_parameters(client: httpx.AsyncClient, org: dict[str, int],
                                               params: dict[str, str | int]) -> None:
    await login(client, "admin@x.test")
    r = await client.get("/api/reports/forecast", params=params)
    assert r.status_code in (400, 422) and r.json()["error"]["message"]


async def test_desks_by_responsible_and_status(client: httpx.AsyncClient, sm: SessionMaker,
                                               org: dict[str, int]) -> None:
    async with sm() as s:
        for i, (status, agent, group) in enumerate([
                ("active", org["agent"], org["ga"]), ("pending", org["agent"], org["ga"]),
                ("pending", org["agent"], org["ga"]), ("active", org["sup"], org["gb"]),
                ("queued", None, org["ga"]), ("resolved", org["agent"], org["ga"])]):
            s.add(Conversation(number=f"SB-00004{i:02}", channel="email", status=status,
                               assignee_id=agent, group_id=group))
        await s.commit()
    await login(client, "admin@x.test")
    body = (await client.get("/api/reports/desks")).json()
    rows = {x["agent"]: x for x in body["rows"]}
    assert (rows["Ana"]["active"], rows["Ana"]["pending"], rows["Ana"]["total"]) == (1, 2, 3)
    assert rows["Sam"]["total"] == 1 and rows[""]["queued"] == 1
    assert body["rows"][-1]["agent_id"] is None and "resolved" not in body["statuses"]
    await login(client, "agent@x.test")
    assert [x["agent"] for x in (await client.get("/api/reports/desks")).json()["rows"]] == [
        "Ana"]


async def test_contract_hours_and_expiry(client: httpx.AsyncClient, sm: SessionMaker,
                                         org: dict[str, int]) -> None:
    today = _now().date()
    async with sm() as s:
        o = Organisation(name="Acme")
        s.add(o)
        await s.flush()
        soon = Contract(organisation_id=o.id, kind="contract", name="Gold",
                        starts_on=date(2020, 1, 1), ends_on=today + timedelta(days=10),
                        minutes_contracted=600)
        later = Contract(organisation_id=o.id, kind="contract", name="Next",
                         starts_on=date(2020, 1, 1), ends_on=today + timedelta(days=90),
                         minutes_contracted=60)
        s.add_all([soon, later])
        contact = Contact(name="x", organisation_id=o.id)
        s.add(contact)
        await s.flush()
        conv = Conversation(number="SB-0000500", channel="email", contact_id=contact.id)
        s.add(conv)
        await s.flush()
        s.add_all([TimeEntry(conversation_id=conv.id, minutes=90, contract_id=soon.id),
                   TimeEntry(conversation_id=conv.id, minutes=30, contract_id=soon.id)])
        await s.commit()
    await login(client, "sup@x.test")
    body = (await client.get("/api/reports/contracts", params={"days": 30})).json()
    gold = next(x for x in body["rows"] if x["name"] == "Gold")
    assert (gold["hours_contracted"], gold["hours_used"], gold["hours_left"]) == (10, 2, 8)
    assert gold["organisation"] == "Acme"
    assert [x["name"] for x in body["expiring"]] == ["Gold"]
    wide = (await client.get("/api/reports/contracts", params={"days": 100})).json()
    assert [x["name"] for x in wide["expiring"]] == ["Gold", "Next"]
    await login(client, "agent@x.test")
    assert (await client.get("/api/reports/contracts")).status_code == 403


async def test_today_figures(client: httpx.AsyncClient, sm: SessionMaker,
                             org: dict[str, int]) -> None:
    now = _now()
    base = max(rm.bucket_start(now, ZoneInfo("UTC"), rm.Grain.DAY), now - timedelta(minutes=5))
    a = await Script.create(sm, "SB-0000600", base, org["ga"])
    await a.say("contact", base)
    await a.assign(org["agent"], base + timedelta(seconds=40))
    await a.say("agent", base + timedelta(seconds=50))
    await a.status("resolved", base + timedelta(seconds=70))
    gone = await Script.create(sm, "SB-0000601", base, org["ga"])
    await gone.status("closed", base + timedelta(seconds=10))
    old = await Script.create(sm, "SB-0000602", now - timedelta(days=2), org["ga"])
    await old.status("closed", now - timedelta(days=2))
    await login(client, "sup@x.test")
    t = (await client.get("/api/reports/today", params={"tz": "UTC"})).json()
    assert (t["handled"], t["created"], t["abandoned"]) == (1, 2, 1)
    assert (t["wait_median"], t["first_response_median"]) == (40, 50)
    items = (await client.get(t["drilldown"]["abandoned"])).json()["items"]
    assert [x["number"] for x in items] == ["SB-0000601"]


async def test_my_report_schedules(client: httpx.AsyncClient, org: dict[str, int]) -> None:
    csrf = await login(client, "sup@x.test")
    h = {"X-CSRF-Token": csrf}
    r = await client.post("/api/reports/schedules", headers=h, json={
        "period": "weekly", "tz": "Europe/Berlin", "group_id": org["gb"],
        "recipients": ["Boss@Example.org", "boss@example.org", "team@example.org"]})
    assert r.status_code == 201, r.text
    made = r.json()
    assert made["recipients"] == ["boss@example.org", "team@example.org"]
    assert (made["period"], made["last_period"]) == ("weekly", None)
    assert [x["id"] for x in (await client.get("/api/reports/schedules")).json()] == [made["id"]]
    for body, word in [({"recipients": []}, "recipients"),
                       ({"recipients": ["not an address"]}, "recipients"),
                       ({"recipients": ["a@b.test"], "period": "hourly"}, "period"),
                       ({"recipients": ["a@b.test"], "tz": "Mars/Base"}, "time zone"),
                       ({"recipients": ["a@b.test"] * 11}, "recipients")]:
        r = await client.post("/api/reports/schedules", headers=h, json=body)
        assert r.status_code == 422 and word in r.json()["error"]["message"], body

    # Another's schedule is not there for them; a group outside theirs is refused.
    csrf = await login(client, "agent@x.test")
    h = {"X-CSRF-Token": csrf}
    assert (await client.get("/api/reports/schedules")).json() == []
    r = await client.delete(f"/api/reports/schedules/{made['id']}", headers=h)
    assert r.status_code == 404
    r = await client.post("/api/reports/schedules", headers=h, json={
        "recipients": ["a@b.test"], "group_id": org["gb"]})
    assert r.status_code == 403
    csrf = await login(client, "sup@x.test")
    r = await client.delete(f"/api/reports/schedules/{made['id']}",
                            headers={"X-CSRF-Token": csrf})
    assert r.status_code == 204
    assert (await client.get("/api/reports/schedules")).json() == []


async def test_time_logged_is_a_fact(client: httpx.AsyncClient, sm: SessionMaker,
                                     org: dict[str, int]) -> None:
    async with sm() as s:
        conv = Conversation(number="SB-0000700", channel="email", group_id=org["ga"])
        s.add(conv)
        await s.commit()
        cid = conv.id
    csrf = await login(client, "agent@x.test")
    for minutes in (30, 15):
        r = await client.post(f"/api/conversations/{cid}/time", json={"minutes": minutes},
                              headers={"X-CSRF-Token": csrf})
        assert r.status_code == 201, r.text
    today = _now().date()
    span = {"from": today.isoformat(), "to": (today + timedelta(days=1)).isoformat()}
    t = (await client.get("/api/reports/overview", params=span)).json()["totals"]
    assert t["time_logged_s"] == 45 * 60
    items = (await client.get(t["drilldown"]["time_logged"])).json()["items"]
    assert [(x["number"], x["facts"]) for x in items] == [("SB-0000700", 2)]
    rows = (await client.get("/api/reports/agents", params=span)).json()["rows"]
    assert [(x["agent"], x["time_logged_s"]) for x in rows] == [("Ana", 2700)]
