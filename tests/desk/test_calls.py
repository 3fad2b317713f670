"""Logged phone calls over the real app (both databases): the department's call form and its
required fields, a numbered case of channel phone found by search, reported per channel, in
the customer's history, continuing by mail."""

from __future__ import annotations

from datetime import date, timedelta

import httpx

from desk.contacts import new_visitor
from desk.conversations import create_conversation
from desk.db import SessionMaker
from tests.desk.conftest import login

FORM = [{"name": "reason", "label": "Reason", "type": "select",
         "options": ["billing", "fault"], "required": True},
        {"name": "callback", "type": "checkbox"}]
CALL = {"direction": "inbound", "phone": "+49 30 1234-567", "duration_s": 240,
        "notes": "Customer reports the router blinks orange", "resolution": "Restarted it",
        "email": "eve@acme.test", "name": "Eve", "fields": {"reason": "fault"}}


async def test_a_logged_call_is_a_case_found_reported_and_continued(
        client: httpx.AsyncClient, sm: SessionMaker, org: dict[str, int]) -> None:
    eve = await new_visitor(sm, name="Eve", email="eve@acme.test")
    older = await create_conversation(sm, channel="email", group_id=org["ga"],
                                      department_id=org["d1"], contact_id=eve.id,
                                      subject="Invoice")
    admin = {"x-csrf-token": await login(client, "admin@x.test")}
    r = await client.put(f"/api/departments/{org['d1']}/call-fields", headers=admin,
                         json={"fields": FORM})
    assert r.status_code == 200, r.text
    h = {"x-csrf-token": await login(client, "agent@x.test")}
    assert (await client.get(f"/api/departments/{org['d1']}/call-fields")).json()["fields"] \
        == FORM
    call = {**CALL, "department_id": org["d1"], "group_id": org["ga"], "contact_id": eve.id}
    bad_input: list[tuple[dict[str, object], str]] = [
        ({"fields": {}}, "fields"), ({"fields": {"reason": "other"}}, "fields.reason"),
        ({"phone": "call me"}, "phone"), ({"direction": "sideways"}, "direction"),
        ({"duration_s": -1}, "duration_s"), ({"group_id": org["gb"]}, "group_id")]
    for bad, field in bad_input:
        r = await client.post("/api/calls", headers=h, json={**call, **bad})
        assert r.status_code in (400, 422), (bad, r.text)
        assert r.json()["error"]["field"] == field, r.text
    r = await client.post("/api/calls", headers=h, json=call)
    assert r.status_code == 201, r.text
    case = r.json()
    assert case["channel"] == "phone" and case["number"].startswith("SB-")
    assert case["status"] == "resolved" and case["assignee_id"] == org["agent"]
    assert case["call"]["phone"] == "+49301234567" and case["call"]["duration_s"] == 240
    assert (await client.get(f"/api/conversations/{case['id']}/call")).json()[
        "resolution"] == "Restarted it"

    found = (await client.get("/api/conversations/search",
                              params={"q": "router blinks", "channel": "phone"})).json()
    assert [x["id"] for x in found["items"]] == [case["id"]]

    await login(client, "admin@x.test")  # reports are for supervisors and admins
    today = date.today()
    r = await client.get("/api/reports/channels", params={
        "from": today.isoformat(), "to": (today + timedelta(days=1)).isoformat(),
                                                          "tz": "UTC"})
    assert r.status_code == 200, r.text
    rows = r.json()["rows"]
    assert {x["channel"]: x["created"] for x in rows}.get("phone") == 1

    history = (await client.get(f"/api/conversations/{older.id}/customer")).json()["history"]
    assert [x["number"] for x in history] == [case["number"]]

    h = {"x-csrf-token": await login(client, "agent@x.test")}
    r = await client.post(f"/api/conversations/{case['id']}/messages", headers=h,
                          json={"body": "As promised, the new firmware link"})
    assert r.status_code == 201, r.text
    assert r.json()["mailed"] is True


async def test_the_call_form_is_checked_like_ticket_fields(
        client: httpx.AsyncClient, org: dict[str, int]) -> None:
    admin = {"x-csrf-token": await login(client, "admin@x.test")}
    r = await client.put(f"/api/departments/{org['d1']}/call-fields", headers=admin,
                         json={"fields": [{"name": "answers", "type": "text"}]})
    assert r.status_code == 422 and "reserved" in r.json()["error"]["message"]
    h = {"x-csrf-token": await login(client, "agent@x.test")}
    r = await client.put(f"/api/departments/{org['d1']}/call-fields", headers=h,
                         json={"fields": FORM})
    assert r.status_code == 403
    r = await client.post("/api/calls", headers=h, json={**CALL, "department_id": 999999})
    assert r.status_code == 404
