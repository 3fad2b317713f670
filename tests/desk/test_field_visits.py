"""Field visits over the real app (both databases): the department's visit form, an order from
a case, refused input with nothing written, rescheduling kept with who and why, completion
whose time counts against the organisation's contract, the list by technician and date range
within the caller's groups, the timeline, the customer's history, and the printable order."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import httpx
from sqlalchemy import func, select

from desk.auth import hash_password
from desk.contacts import new_visitor
from desk.conversations import create_conversation
from desk.db import SessionMaker
from desk.models import (
    Agent,
    AgentGroup,
    Contact,
    Contract,
    FieldVisit,
    Organisation,
    TimeEntry,
    utcnow,
)
from tests.desk.conftest import PASSWORD, login

FORM = [{"name": "device", "label": "Device", "type": "text", "required": True},
        {"name": "ladder", "label": "Ladder needed", "type": "checkbox"}]


def _at(days: float, hour: int = 10) -> str:
    d = utcnow().replace(hour=hour, minute=0, second=0, microsecond=0) + timedelta(days=days)
    return d.isoformat()


async def _world(sm: SessionMaker, org: dict[str, int]) -> dict[str, Any]:
    """A case of Eve (of Acme, with 10 contract hours) in group A, a technician in A, one in
    group B only, and a deactivated one."""
    eve = await new_visitor(sm, name="Eve", email="eve@acme.test")
    async with sm() as s:
        acme = Organisation(name="Acme", domains=["acme.test"])
        s.add(acme)
        await s.flush()
        contact = await s.get(Contact, eve.id)
        assert contact is not None
        contact.organisation_id = acme.id
        k = Contract(organisation_id=acme.id, kind="contract", name="Support 2026",
                     starts_on=date.today() - timedelta(days=30), minutes_contracted=600)
        h = hash_password(PASSWORD)
        tom = Agent(email="tom@x.test", display_name="Tom", role="agent", password_hash=h,
                    groups=[AgentGroup(group_id=org["ga"])])
        bea = Agent(email="bea@x.test", display_name="Bea", role="agent", password_hash=h,
                    groups=[AgentGroup(group_id=org["gb"])])
        old = Agent(email="old@x.test", display_name="Old", role="agent", password_hash=h,
                    is_active=False, groups=[AgentGroup(group_id=org["ga"])])
        s.add_all([k, tom, bea, old])
        await s.commit()
        ids = {"org": acme.id, "contract": k.id, "tom": tom.id, "bea": bea.id, "old": old.id}
    conv = await create_conversation(sm, channel="email", group_id=org["ga"],
                                     department_id=org["d1"], contact_id=eve.id,
                                     subject="Boiler leaks")
    other = await create_conversation(sm, channel="email", group_id=org["gb"],
                                      department_id=org["d2"], subject="Elsewhere")
    return {**ids, "conv": conv.id, "other": other.id, "eve": eve.id, "number": conv.number}


async def _visits(sm: SessionMaker) -> int:
    async with sm() as s:
        return int(await s.scalar(select(func.count()).select_from(FieldVisit)) or 0)


async def test_order_reschedule_complete_list_and_print(
        client: httpx.AsyncClient, sm: SessionMaker, org: dict[str, int]) -> None:
    w = await _world(sm, org)
    admin = {"x-csrf-token": await login(client, "admin@x.test")}
    r = await client.put(f"/api/departments/{org['d1']}/visit-fields", headers=admin,
                         json={"fields": FORM})
    assert r.status_code == 200, r.text
    r = await client.put(f"/api/departments/{org['d1']}/visit-fields", headers=admin,
                         json={"fields": [{"name": "x", "type": "colour"}]})
    assert r.status_code == 422
    h = {"x-csrf-token": await login(client, "agent@x.test")}
    url = f"/api/conversations/{w['conv']}/visits"
    order: dict[str, Any] = {
        "address": "Hauptstr. 1, 10115 Berlin", "contact_name": "Olga",
        "contact_phone": "+49 30 555 0101", "instructions": "Ring twice; boiler in the cellar",
        "scheduled_at": _at(2), "duration_min": 90, "technician_id": w["tom"],
        "fields": {"device": "Boiler X2", "ladder": True}}
    refused: list[tuple[dict[str, Any], str, str]] = [
        ({"scheduled_at": _at(-1)}, "scheduled_at", "in the past"),
        ({"scheduled_at": _at(800)}, "scheduled_at", "365 days away"),
        ({"technician_id": w["old"]}, "technician_id", "active agent"),
        ({"technician_id": w["bea"]}, "technician_id", "may open this case"),
        ({"technician_id": 999_999}, "technician_id", "active agent"),
        ({"fields": {"ladder": True}}, "fields", "needs Device"),
        ({"address": "x" * 5000}, "address", "1 to 500"),
        ({"instructions": "x" * 6000}, "instructions", "0 to 5000"),
    ]
    for change, field, says in refused:
        r = await client.post(url, headers=h, json={**order, **change})
        assert r.status_code == 422, r.text
        assert r.json()["error"]["field"] == field and says in r.json()["error"]["message"]
    assert await _visits(sm) == 0

    r = await client.post(url, headers=h, json=order)
    assert r.status_code == 201, r.text
    v = r.json()
    assert (v["status"], v["technician_id"], v["contact_phone"]) == (
        "scheduled", w["tom"], "+49305550101")
    assert [(f["label"], f["value"]) for f in v["fields"]] == [
        ("Device", "Boiler X2"), ("Ladder needed", True)]

    r = await client.patch(f"/api/visits/{v['id']}", headers=h, json={"scheduled_at": _at(3)})
    assert r.status_code == 422 and r.json()["error"]["field"] == "why"
    r = await client.patch(f"/api/visits/{v['id']}", headers=h,
                           json={"scheduled_at": _at(3), "why": "Eve is away on Wednesday"})
    assert r.status_code == 200, r.text
    [moved] = r.json()["changes"]
    assert (moved["by_id"], moved["why"]) == (org["agent"], "Eve is away on Wednesday")

    # The list: by technician and range, only cases of the caller's groups.
    week = {"from": str(date.today()), "to": str(date.today() + timedelta(days=7))}
    listed = (await client.get("/api/visits", params={**week, "technician_id": w["tom"]})).json()
    assert [(x["id"], x["number"], x["customer"], x["subject"]) for x in listed] == [
        (v["id"], w["number"], "Eve", "Boiler leaks")]
    assert (await client.get("/api/visits", params={
        "from": str(date.today()), "to": str(date.today() + timedelta(days=2)),
        "technician_id": w["tom"]})).json() == []  # moved out of that range
    assert (await client.get("/api/visits", params={**week, "technician_id": "me"})).json() \
        == []
    # A range in another zone: the visit at 10:00 UTC is 23:00 in Auckland (UTC+13 in
    # December), so a range ending at that day's 22:00 there leaves it out, 23:30 holds it.
    day = (utcnow() + timedelta(days=3)).date()
    for until, found in (("22:00", 0), ("23:30", 1)):
        got = (await client.get("/api/visits", params={
            "from": str(date.today()), "to": f"{day}T{until}:00", "tz": "Pacific/Auckland",
            "technician_id": w["tom"]})).json()
        assert len(got) == found, (until, got)
    for bad in ({**week, "technician_id": "x"}, {"from": "soon", "to": "later"},
                {**week, "status": "lost"}, {"to": week["to"]}):
        assert (await client.get("/api/visits", params=bad)).status_code in (400, 422), bad

    # Bea (group B only) sees neither the visit nor its case's list entry.
    bea = {"x-csrf-token": await login(client, "bea@x.test")}
    assert (await client.get("/api/visits", params=week)).json() == []
    assert (await client.get(f"/api/visits/{v['id']}")).status_code == 403
    r = await client.post(f"/api/visits/{v['id']}/complete", headers=bea,
                          json={"work_done": "x", "minutes": 5, "outcome": "resolved"})
    assert r.status_code == 403
    assert (await client.get(f"/visits/{v['id']}/order")).status_code == 403

    # Ana (not the technician) may not record it done; Tom may, and the time is charged.
    h = {"x-csrf-token": await login(client, "agent@x.test")}
    done: dict[str, Any] = {"work_done": "Replaced the pressure valve", "minutes": 75,
                            "outcome": "resolved"}
    r = await client.post(f"/api/visits/{v['id']}/complete", headers=h, json=done)
    assert r.status_code == 403
    tom = {"x-csrf-token": await login(client, "tom@x.test")}
    bads: list[tuple[dict[str, Any], str]] = [
        ({"minutes": -10}, "minutes"), ({"minutes": 100_000}, "minutes"),
        ({"outcome": "great"}, "outcome"), ({"work_done": "x" * 9000}, "work_done")]
    for bad, field in bads:
        r = await client.post(f"/api/visits/{v['id']}/complete", headers=tom,
                              json={**done, **bad})
        assert r.status_code == 422 and r.json()["error"]["field"] == field, r.text
    async with sm() as s:
        assert await s.scalar(select(func.count()).select_from(TimeEntry)) == 0
    r = await client.post(f"/api/visits/{v['id']}/complete", headers=tom, json=done)
    assert r.status_code == 200, r.text
    assert (r.json()["status"], r.json()["minutes"], r.json()["contract_id"]) == (
        "done", 75, w["contract"])
    r = await client.post(f"/api/visits/{v['id']}/complete", headers=tom, json=done)
    assert r.status_code == 409
    r = await client.patch(f"/api/visits/{v['id']}", headers=tom,
                           json={"status": "cancelled", "why": "too late"})
    assert r.status_code == 409

    # Counted against the contract like any time logged; in the case's timeline and the
    # customer's history.
    c360 = (await client.get(f"/api/conversations/{w['conv']}/customer")).json()
    [contract] = c360["contracts"]
    assert contract["hours_used"] == 1.25 and contract["hours_left"] == 8.75
    assert c360["time"]["total_minutes"] == 75
    assert [(x["id"], x["status"]) for x in c360["visits"]] == [(v["id"], "done")]
    timeline = (await client.get(f"/api/conversations/{w['conv']}/timeline")).json()
    actions = [e["action"] for e in timeline]
    for action in ("visit.scheduled", "visit.moved", "time.logged", "visit.done"):
        assert action in actions, actions

    page = await client.get(f"/visits/{v['id']}/order", params={"tz": "Europe/Berlin"})
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert "Replaced the pressure valve" in page.text and "75 minutes" in page.text
    assert "Hauptstr. 1, 10115 Berlin" in page.text and "Eve" in page.text
    assert "default-src 'none'" in page.headers["content-security-policy"]
    assert (await client.get("/visits/999999/order")).status_code == 404


async def test_cancel_and_hand_over(client: httpx.AsyncClient, sm: SessionMaker,
                                    org: dict[str, int]) -> None:
    w = await _world(sm, org)
    h = {"x-csrf-token": await login(client, "sup@x.test")}
    r = await client.post(f"/api/conversations/{w['conv']}/visits", headers=h, json={
        "address": "Hauptstr. 1", "scheduled_at": _at(1), "technician_id": org["sup"]})
    assert r.status_code == 201, r.text
    vid = r.json()["id"]
    r = await client.patch(f"/api/visits/{vid}", headers=h, json={"technician_id": w["bea"]})
    assert r.status_code == 422  # Bea may not open a case of group A
    r = await client.patch(f"/api/visits/{vid}", headers=h, json={"technician_id": w["tom"],
                                                                   "duration_min": 30})
    assert (r.json()["technician_id"], r.json()["duration_min"]) == (w["tom"], 30)
    r = await client.patch(f"/api/visits/{vid}", headers=h, json={"status": "cancelled"})
    assert r.status_code == 422 and r.json()["error"]["field"] == "why"
    r = await client.patch(f"/api/visits/{vid}", headers=h,
                           json={"status": "cancelled", "why": "fixed on the phone"})
    assert (r.json()["status"], r.json()["cancel_why"]) == ("cancelled", "fixed on the phone")
    listed = (await client.get("/api/visits", params={
        "from": str(date.today()), "to": str(date.today() + timedelta(days=3)),
        "status": "cancelled"})).json()
    assert [x["id"] for x in listed] == [vid]
    page = await client.get(f"/visits/{vid}/order")
    assert "Cancelled: fixed on the phone" in page.text
    r = await client.post(f"/api/conversations/{w['other']}/visits", headers=h, json={
        "address": "x", "scheduled_at": _at(1), "technician_id": w["tom"]})
    assert r.status_code == 422  # Tom is not of the other case's group
