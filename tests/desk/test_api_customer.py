"""The customer 360 and time logged against contracts, over the real app (both databases)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import httpx
from sqlalchemy import update

from desk.contacts import new_visitor
from desk.conversations import create_conversation
from desk.db import SessionMaker
from desk.models import Contact, Conversation, Organisation
from tests.desk.conftest import login


async def _customer(sm: SessionMaker, org: dict[str, int]) -> dict[str, int]:
    async with sm() as s:
        acme = Organisation(name="Acme", domains=["acme.test"], phones=["+4412345"])
        s.add(acme)
        await s.commit()
    eve = await new_visitor(sm, name="Eve", email="eve@acme.test")
    bob = await new_visitor(sm, name="Bob", email="bob@acme.test")
    async with sm() as s:
        await s.execute(update(Contact).where(Contact.id.in_([eve.id, bob.id]))
                        .values(organisation_id=acme.id))
        await s.execute(update(Contact).where(Contact.id == eve.id).values(email_verified=True))
        await s.commit()
    now = create_conversation
    current = await now(sm, channel="email", group_id=org["ga"], contact_id=eve.id,
                        subject="Printer again")
    old_chat = await now(sm, channel="chat", group_id=org["ga"], contact_id=eve.id)
    elsewhere = await now(sm, channel="email", group_id=org["gb"], contact_id=eve.id,
                          subject="Other group")
    child = await now(sm, channel="email", group_id=org["ga"], parent_id=current.id,
                      subject="Follow-up")
    async with sm() as s:
        await s.execute(update(Conversation).where(Conversation.id == old_chat.id)
                        .values(status="closed", rating=4))
        await s.commit()
    return {"acme": acme.id, "current": current.id, "old_chat": old_chat.id,
            "elsewhere": elsewhere.id, "child": child.id, "bob": bob.id}


async def test_customer_360(client: httpx.AsyncClient, sm: SessionMaker,
                            org: dict[str, int]) -> None:
    ids = await _customer(sm, org)
    csrf = await login(client, "admin@x.test")
    h = {"x-csrf-token": csrf}
    today = datetime.now(UTC).date()
    for body in [{"kind": "contract", "name": "Gold support", "hours": 10,
                  "starts_on": (today - timedelta(days=30)).isoformat(),
                  "ends_on": (today + timedelta(days=30)).isoformat()},
                 {"kind": "warranty", "name": "Old warranty", "hours": None,
                  "starts_on": "2020-01-01", "ends_on": "2021-01-01"}]:
        r = await client.post(f"/api/organisations/{ids['acme']}/contracts", headers=h,
                              json=body)
        assert r.status_code == 201, r.text
    bad = await client.post(f"/api/organisations/{ids['acme']}/contracts", headers=h,
                            json={"kind": "loan", "name": "x", "starts_on": "2020-01-01"})
    assert bad.status_code == 422 and "kind" in bad.json()["error"]["message"]
    # The contracts page lists them with the organisations to pick from (admins only).
    listed = (await client.get("/api/contracts")).json()
    assert [(k["name"], k["in_force"], k["hours_contracted"]) for k in listed] == [
        ("Gold support", True, 10), ("Old warranty", False, None)]
    orgs = (await client.get("/api/organisations")).json()
    assert ids["acme"] in [o["id"] for o in orgs]

    csrf = await login(client, "agent@x.test")  # group A only
    h = {"x-csrf-token": csrf}
    assert (await client.get("/api/contracts")).status_code == 403
    assert (await client.get("/api/organisations")).status_code == 403
    r = await client.post(f"/api/conversations/{ids['current']}/time", headers=h,
                          json={"minutes": 90, "note": "remote session"})
    assert r.status_code == 201, r.text
    assert r.json()["contract_id"] is not None
    for bad_body in [{"minutes": 0}, {"minutes": "5"}, {"minutes": 5, "note": "x" * 1001}]:
        r = await client.post(f"/api/conversations/{ids['current']}/time", headers=h,
                              json=bad_body)
        assert r.status_code == 422, bad_body

    view = (await client.get(f"/api/conversations/{ids['current']}/customer")).json()
    assert view["contact"]["name"] == "Eve" and view["contact"]["verified"] is True
    assert view["organisation"]["name"] == "Acme"
    assert {m["email"] for m in view["organisation"]["members"]} == {"eve@acme.test",
                                                                   "bob@acme.test"}
    # Earlier conversations of the agent's groups only; ratings are for supervisors.
    assert [c["id"] for c in view["history"]] == [ids["old_chat"]]
    assert view["history"][0]["status"] == "closed" and view["history"][0]["rating"] is None
    assert [(k["id"], k["relation"]) for k in view["linked"]] == [(ids["child"], "child")]
    gold, old = view["contracts"]
    assert (gold["name"], gold["hours_contracted"], gold["hours_used"], gold["hours_left"],
            gold["expired"]) == ("Gold support", 10.0, 1.5, 8.5, False)
    assert (old["kind"], old["expired"], old["hours_contracted"]) == ("warranty", True, None)
    assert view["time"]["total_minutes"] == 90
    assert view["time"]["entries"][0]["note"] == "remote session"
    assert view["time"]["entries"][0]["agent"] == "Ana"

    child = (await client.get(f"/api/conversations/{ids['child']}/customer")).json()
    assert child["contact"] is None
    assert [(k["id"], k["relation"]) for k in child["linked"]] == [(ids["current"], "parent")]
    assert (await client.get(f"/api/conversations/{ids['elsewhere']}/customer")).status_code \
        == 403

    await login(client, "sup@x.test")
    view = (await client.get(f"/api/conversations/{ids['current']}/customer")).json()
    assert {c["id"] for c in view["history"]} == {ids["old_chat"], ids["elsewhere"]}
    assert next(c for c in view["history"] if c["id"] == ids["old_chat"])["rating"] == 4


async def test_time_without_a_contract(client: httpx.AsyncClient, sm: SessionMaker,
                                       org: dict[str, int]) -> None:
    conv = await create_conversation(sm, channel="chat", group_id=org["ga"])
    csrf = await login(client, "agent@x.test")
    r = await client.post(f"/api/conversations/{conv.id}/time",
                          headers={"x-csrf-token": csrf}, json={"minutes": 5})
    assert r.status_code == 201 and r.json()["contract_id"] is None
    r = await client.post(f"/api/conversations/{conv.id}/time", json={"minutes": 5})
    assert r.status_code == 403  # no CSRF token
