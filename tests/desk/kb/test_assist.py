"""Agent assist, staff search, insert events and knowledge reports on the real app (both
databases)."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from desk.db import SessionMaker
from desk.kb import articles, rules
from desk.models import (
    CannedResponse,
    Contact,
    Conversation,
    KbEvent,
    KbSite,
    Message,
    Site,
)
from tests.desk.kb.conftest import as_admin, as_agent, staff


@pytest.fixture
async def chat(sm: SessionMaker, org: dict[str, int]) -> dict[str, Any]:
    async with sm() as s:
        site = Site(key="site_assist", name="Acme")
        s.add(site)
        await s.flush()
        s.add(KbSite(site_id=site.id, languages=["en", "de"], default_language="en",
                     synonyms=[["invoice", "bill"]]))
        made = {}
        for title, body, audience in (
                ("Download an invoice", "Open Billing, then PDF.", "public"),
                ("Invoice disputes (internal)", "Escalate bill disputes to finance.",
                 "internal"),
                ("Change your password", "Settings, then Security.", "public")):
            inp = rules.check_article({"title": title, "body": body, "language": "en",
                                       "audience": audience, "publish": True},
                                      languages=["en"], creating=True)
            made[title] = (await articles.create(s, site.id, inp, staff(org["admin"]),
                                                 "https://d.test")).id
        contact = Contact(token_nonce="n")
        s.add(contact)
        s.add(CannedResponse(department_id=org["d1"], shortcut="inv", title="Invoice copy",
                             body="You can download every invoice under Billing."))
        s.add(CannedResponse(department_id=org["d1"], shortcut="hi", title="Greeting",
                             body="Hello, how can I help?"))
        await s.flush()
        conv = Conversation(number="SB-0000002", channel="chat", contact_id=contact.id,
                            site_id=site.id, group_id=org["ga"], department_id=org["d1"])
        other = Conversation(number="SB-0000003", channel="chat", site_id=site.id,
                             group_id=org["gb"])
        s.add_all([conv, other])
        await s.flush()
        s.add(Message(conversation_id=conv.id, seq=1, author_kind="contact",
                      body="Hi, where can I find my bill from March?"))
        solved = Conversation(number="SB-0000004", channel="chat", site_id=site.id,
                              group_id=org["ga"], status="resolved", subject="March bill")
        hidden = Conversation(number="SB-0000005", channel="chat", site_id=site.id,
                              group_id=org["gb"], status="resolved", subject="March bill")
        s.add_all([solved, hidden])
        await s.flush()
        for c in (solved, hidden):
            s.add(Message(conversation_id=c.id, seq=1, author_kind="contact",
                          body="I cannot find the March bill anywhere"))
        s.add(KbEvent(site_id=site.id, kind="view", source="widget", session="z" * 20,
                      article_id=made["Change your password"]))
        s.add(KbEvent(site_id=site.id, kind="chat", source="widget", session="z" * 20,
                      conversation_id=conv.id))
        await s.commit()
        return {"site": site.id, "conv": conv.id, "other": other.id, **made}


async def test_assist_suggests_articles_and_canned(client: httpx.AsyncClient,
                                                   chat: dict[str, Any]) -> None:
    await as_agent(client)
    r = await client.get(f"/api/kb/assist?conversation_id={chat['conv']}")
    assert r.status_code == 200, r.text
    body = r.json()
    titles = [a["title"] for a in body["articles"]]
    assert titles[0] in {"Download an invoice", "Invoice disputes (internal)"}
    assert "Invoice disputes (internal)" in titles  # staff see internal ones
    internal = next(a for a in body["articles"] if a["audience"] == "internal")
    assert internal["url"] is None  # no public link to hand a customer
    public = next(a for a in body["articles"] if a["title"] == "Download an invoice")
    assert public["url"].endswith(f"/a/{chat['Download an invoice']}/download-an-invoice")
    assert body["canned"][0]["shortcut"] == "inv"
    assert [a["title"] for a in body["read"]] == ["Change your password"]
    assert [c["number"] for c in body["similar"]] == ["SB-0000004"]  # gb: not Ana's group
    assert (await client.get(f"/api/kb/assist?conversation_id={chat['other']}")
            ).status_code == 403


async def test_assist_follows_new_messages(client: httpx.AsyncClient, chat: dict[str, Any],
                                           sm: SessionMaker) -> None:
    await as_agent(client)
    async with sm() as s:
        s.add(Message(conversation_id=chat["conv"], seq=2, author_kind="contact",
                      body="Actually I forgot my password and cannot log in"))
        await s.commit()
    body = (await client.get(f"/api/kb/assist?conversation_id={chat['conv']}")).json()
    assert body["articles"][0]["title"] == "Change your password"


async def test_insert_and_reports(client: httpx.AsyncClient, chat: dict[str, Any]) -> None:
    h = await as_agent(client)
    r = await client.post("/api/kb/events", headers=h, json={
        "kind": "insert", "article_id": chat["Download an invoice"],
        "conversation_id": chat["conv"]})
    assert r.status_code == 201
    assert (await client.post("/api/kb/events", headers=h, json={
        "kind": "insert", "article_id": chat["Download an invoice"],
        "conversation_id": chat["other"]})).status_code == 403
    assert (await client.post("/api/kb/events", headers=h, json={
        "kind": "view", "article_id": 1, "conversation_id": chat["conv"]})).status_code == 422
    r = await client.get(f"/api/kb/search?site_id={chat['site']}&q=nothingatall")
    assert r.json() == []
    r = await client.get(f"/api/kb/search?site_id={chat['site']}&q=bill")
    assert {a["title"] for a in r.json()} >= {"Download an invoice",
                                              "Invoice disputes (internal)"}
    r = await client.get(f"/api/kb/reports?site_id={chat['site']}&grain=day")
    assert r.status_code == 200, r.text
    totals = r.json()["totals"]
    assert totals["inserted"] == 1 and totals["views"] == 1 and totals["searches"] == 2
    assert totals["searches_no_result"] == 1
    assert r.json()["no_result_queries"] == [{"query": "nothingatall", "count": 1}]
    assert totals["deflections"] == 0  # that session went on to a chat
    for bad in ("grain=year", "tz=Mars/Base", "from=2026-02-01&to=2026-01-01",
                "from=2020-01-01&to=2026-01-01", "grain=hour&from=2026-01-01&to=2026-03-01"):
        r = await client.get(f"/api/kb/reports?site_id={chat['site']}&{bad}")
        assert r.status_code in {400, 422}, bad
    await as_admin(client)
