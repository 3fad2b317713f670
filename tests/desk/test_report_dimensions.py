"""Reports per topic, per organisation and per custom field value: scripted conversations give
exactly the expected rows, and every row drills down to its conversations. Both databases."""

from __future__ import annotations

from typing import Any

import httpx

from desk import sla_store
from desk.db import SessionMaker
from desk.models import Contact, Conversation, Organisation
from tests.desk.conftest import login
from tests.desk.test_reports import RANGE, Script, m


async def _conv(sm: SessionMaker, number: str, minute: float, group: int, *,
                topic: str | None, org: str | None, fields: dict[str, Any]) -> Script:
    async with sm() as s:
        contact = None
        if org is not None:
            o = Organisation(name=org)
            s.add(o)
            await s.flush()
            contact = Contact(name=f"c-{number}", organisation_id=o.id)
            s.add(contact)
            await s.flush()
        conv = Conversation(number=number, channel="email", group_id=group, created_at=m(minute),
                            status="queued", topic=topic, custom_fields=fields,
                            contact_id=contact.id if contact else None)
        s.add(conv)
        await s.flush()
        await sla_store.start(s, [conv.id], m(minute))
        await s.commit()
        return Script(sm, conv.id)


async def test_topics_organisations_and_fields(client: httpx.AsyncClient, sm: SessionMaker,
                                               org: dict[str, int]) -> None:
    a = await _conv(sm, "SB-0000011", 0, org["ga"], topic="Billing", org="Acme",
                    fields={"plan": "gold"})
    await _conv(sm, "SB-0000012", 5, org["ga"], topic="Billing", org=None,
                fields={"answers": {"plan": "free"}})  # a chat's form answers
    c = await _conv(sm, "SB-0000013", 10, org["gb"], topic=None, org="Bolt",
                    fields={"plan": "gold"})
    await a.say("contact", m(0))
    await a.say("agent", m(2))  # first response 120 s
    await c.say("contact", m(10))
    await c.say("agent", m(20))  # first response 600 s
    await login(client, "admin@x.test")

    topics = (await client.get("/api/reports/topics", params=RANGE)).json()["rows"]
    assert [(x["topic"], x["created"]) for x in topics] == [("Billing", 2), (None, 1)]
    assert topics[0]["first_response_median"] == 120
    billing = (await client.get(topics[0]["drilldown"]["created"])).json()["items"]
    assert [x["number"] for x in billing] == ["SB-0000011", "SB-0000012"]
    assert topics[1]["drilldown"] == {}

    orgs = (await client.get("/api/reports/organisations", params=RANGE)).json()["rows"]
    assert [(x["organisation"], x["created"]) for x in orgs] == [("Acme", 1), ("Bolt", 1),
                                                                 ("", 1)]
    bolt = (await client.get(orgs[1]["drilldown"]["first_response"])).json()["items"]
    assert [x["number"] for x in bolt] == ["SB-0000013"]

    r = await client.get("/api/reports/fields", params={**RANGE, "field": "plan"})
    assert r.status_code == 200, r.text
    plans = r.json()["rows"]
    assert [(x["value"], x["created"], x["first_response_median"]) for x in plans] == [
        ("free", 1, None), ("gold", 2, 120)]
    gold = (await client.get(plans[1]["drilldown"]["created"])).json()["items"]
    assert [x["number"] for x in gold] == ["SB-0000011", "SB-0000013"]
    csv_rows = (await client.get("/api/reports/fields", params={
        **RANGE, "field": "plan", "format": "csv", "table": "rows"})).text.splitlines()
    assert csv_rows[0].startswith("value,created") and len(csv_rows) == 3

    # Filters narrow any report: a topic, an organisation, a field value.
    t = (await client.get("/api/reports/overview", params={**RANGE, "topic": "Billing"})).json()
    assert t["totals"]["created"] == 2
    o = (await client.get("/api/reports/overview",
                          params={**RANGE, "organisation_id": orgs[0]["organisation_id"]})).json()
    assert o["totals"]["created"] == 1
    f = (await client.get("/api/reports/overview",
                          params={**RANGE, "field": "plan", "value": "gold"})).json()
    assert f["totals"]["created"] == 2


async def test_field_report_needs_a_field(client: httpx.AsyncClient,
                                          org: dict[str, int]) -> None:
    await login(client, "admin@x.test")
    r = await client.get("/api/reports/fields", params=RANGE)
    assert r.status_code == 400 and "field" in r.json()["error"]["message"]
    r = await client.get("/api/reports/overview", params={**RANGE, "value": "x"})
    assert r.status_code == 400
    r = await client.get("/api/reports/overview", params={**RANGE, "topic": "x" * 500})
    assert r.status_code == 400 and "at most" in r.json()["error"]["message"]
