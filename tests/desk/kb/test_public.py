"""The public knowledge base and the widget's KB endpoints on the real app (both databases):
pages by language with fallback, canonical URLs and descriptions, search, and internal or
unpublished articles never in any answer to a visitor."""

from __future__ import annotations

import re
from typing import Any

import httpx
import pytest
import redis.asyncio as aioredis
from sqlalchemy import select

from desk.auth import issue_visitor_token
from desk.db import SessionMaker
from desk.kb import articles, rules
from desk.models import Agent, Contact, Conversation, KbEvent, KbSite, KbTopic, Site
from desk.settings import Settings
from tests.desk.kb.conftest import staff

SESSION = "s" * 22
ORIGIN = "https://shop.test"



@pytest.fixture
async def kb(sm: SessionMaker) -> dict[str, Any]:
    async with sm() as s:
        site = Site(key="site_public", name="Acme", allowed_origins=[ORIGIN])
        s.add(site)
        s.add(Agent(id=1, email="a@x.test", display_name="A", password_hash="x", role="admin"))
        await s.flush()
        s.add(KbSite(site_id=site.id, languages=["en", "de"], default_language="en",
                     synonyms=[["invoice", "bill"]]))
        topic = KbTopic(site_id=site.id, slug="billing", name="Billing")
        s.add(topic)
        await s.flush()

        async def add(lang: str, title: str, body: str, **extra: Any) -> int:
            inp = rules.check_article({"title": title, "body": body, "language": lang,
                                       "publish": True, **extra}, languages=["en", "de"],
                                      creating=True)
            return (await articles.create(s, site.id, inp, staff(1), "https://desk.test")).id

        invoice = await add("en", "Download an invoice", "Open **Billing** and press PDF. " * 20,
                            topic_id=topic.id)
        de = await add("de", "Rechnung herunterladen", "Öffnen Sie die Abrechnung.",
                       translation_of=invoice, topic_id=topic.id)
        shipping = await add("en", "Shipping times", "Parcels ship in two days.",
                             related_ids=[invoice])
        secret = await add("en", "Invoice fraud checklist", "Internal invoice notes.",
                           audience="internal", topic_id=topic.id)
        draft = rules.check_article({"title": "Invoice draft", "body": "invoice",
                                     "language": "en"}, languages=["en"], creating=True)
        draft_id = (await articles.create(s, site.id, draft, staff(1), "https://desk.test")).id
        await s.commit()
        return {"site": site.id, "key": site.key, "invoice": invoice, "de": de,
                "shipping": shipping, "secret": secret, "draft": draft_id}


async def test_index_by_language_with_fallback(client: httpx.AsyncClient,
                                               kb: dict[str, Any]) -> None:
    r = await client.get(f"/kb/{kb['key']}", headers={"Accept-Language": "de-DE,de;q=0.9"})
    assert r.status_code == 302 and r.headers["location"] == f"/kb/{kb['key']}/de"
    de = (await client.get(f"/kb/{kb['key']}/de")).text
    assert "Rechnung herunterladen" in de and "Download an invoice" not in de
    assert "Shipping times" in de  # no German version: the English one, marked
    assert "<html lang=\"de\">" in de
    en = await client.get(f"/kb/{kb['key']}/en")
    assert "Download an invoice" in en.text and "Billing" in en.text
    assert "default-src 'none'" in en.headers["content-security-policy"]
    assert (await client.get(f"/kb/{kb['key']}/fr")).status_code == 404
    assert (await client.get("/kb/nope/en")).status_code == 404


async def test_article_page(client: httpx.AsyncClient, kb: dict[str, Any]) -> None:
    url = f"/kb/{kb['key']}/en/a/{kb['invoice']}/download-an-invoice"
    r = await client.get(url)
    assert r.status_code == 200
    assert f'<link rel="canonical" href="http://127.0.0.1:8000{url}">' in r.text
    m = re.search(r'<meta name="description" content="([^"]*)">', r.text)
    assert m and m.group(1).startswith("Open Billing and press PDF.") and len(m.group(1)) <= 160
    assert 'hreflang="de"' in r.text and "<strong>Billing</strong>" in r.text
    wrong = await client.get(f"/kb/{kb['key']}/en/a/{kb['invoice']}/x", follow_redirects=False)
    assert wrong.status_code == 301 and wrong.headers["location"] == url
    to_de = await client.get(f"/kb/{kb['key']}/de/a/{kb['invoice']}/x", follow_redirects=False)
    assert to_de.headers["location"] == f"/kb/{kb['key']}/de/a/{kb['de']}/rechnung-herunterladen"
    related = await client.get(f"/kb/{kb['key']}/de/a/{kb['shipping']}/shipping-times",
                               follow_redirects=True)
    assert "Rechnung herunterladen" in related.text  # the related article in German
    assert "Noch nicht übersetzt" in related.text and '<html lang="de">' in related.text
    assert f"/kb/{kb['key']}/en/a/{kb['shipping']}/shipping-times\">" in related.text


async def test_internal_and_drafts_never_public(client: httpx.AsyncClient,
                                                kb: dict[str, Any]) -> None:
    for art in (kb["secret"], kb["draft"], 2**31, 0, 99999999999999999999):
        r = await client.get(f"/kb/{kb['key']}/en/a/{art}/x", follow_redirects=True)
        assert r.status_code == 404
    pages = [f"/kb/{kb['key']}/en", f"/kb/{kb['key']}/en/t/billing",
             f"/kb/{kb['key']}/en/search?q=invoice+fraud+checklist+draft"]
    for page in pages:
        text = (await client.get(page)).text
        assert "Invoice fraud checklist" not in text and "Internal invoice" not in text, page
        assert "Invoice draft<" not in text and f"/a/{kb['secret']}/" not in text, page
    r = await client.get(f"/api/public/kb/{kb['key']}/suggest?q=invoice+fraud+draft",
                         headers={"Origin": ORIGIN})
    titles = [a["title"] for a in r.json()["articles"]]
    assert "Download an invoice" in titles
    assert "Invoice fraud checklist" not in titles and "Invoice draft" not in titles


async def test_search_page_and_operators(client: httpx.AsyncClient, kb: dict[str, Any]) -> None:
    r = await client.get(f"/kb/{kb['key']}/en/search", params={"q": "my bill"})
    assert "Download an invoice" in r.text
    for q in ['"x" OR "y"', "NEAR(a b)", "title:bill", "bill*", "<script>alert(1)</script>"]:
        r = await client.get(f"/kb/{kb['key']}/en/search", params={"q": q})
        assert r.status_code == 200 and "<script>alert" not in r.text
    r = await client.get(f"/kb/{kb['key']}/en/search", params={"q": "x" * 501})
    assert r.status_code == 400
    r = await client.get(f"/kb/{kb['key']}/en/search", params={"q": "nothingmatches"})
    assert "No articles match" in r.text


async def test_suggest_language_and_cors(client: httpx.AsyncClient, kb: dict[str, Any]) -> None:
    r = await client.get(f"/api/public/kb/{kb['key']}/suggest",
                         params={"q": "Rechnung", "lang": "de-AT"}, headers={"Origin": ORIGIN})
    assert r.headers["access-control-allow-origin"] == ORIGIN
    body = r.json()
    assert body["language"] == "de" and body["articles"][0]["title"] == "Rechnung herunterladen"
    r = await client.get(f"/api/public/kb/{kb['key']}/suggest", params={"q": "invoice"},
                         headers={"Origin": "https://evil.test"})
    assert "access-control-allow-origin" not in r.headers
    r = await client.get(f"/api/public/kb/{kb['key']}/suggest", params={"q": "x" * 501})
    assert r.status_code == 400


async def test_suggestions_while_typing_are_one_search(
        client: httpx.AsyncClient, kb: dict[str, Any], sm: SessionMaker) -> None:
    """The widget asks at every pause in the typing: only the settled question is a search
    (its prefixes with no result never reach the report's list)."""
    url = f"/api/public/kb/{kb['key']}/suggest"
    for q in ("downl", "download an", "download an invoice"):
        r = await client.get(url, params={"q": q, "s": SESSION}, headers={"Origin": ORIGIN})
        assert r.status_code == 200
    await client.get(url, params={"q": "shipping"}, headers={"Origin": ORIGIN})
    async with sm() as s:
        rows = (await s.execute(select(KbEvent.query, KbEvent.results, KbEvent.session).where(
            KbEvent.kind == "search").order_by(KbEvent.id))).all()
    assert [tuple(r) for r in rows] == [("download an invoice", 1, SESSION),
                                        ("shipping", 1, None)]


async def test_chat_link_needs_the_conversations_token(
        client: httpx.AsyncClient, kb: dict[str, Any], sm: SessionMaker,
        settings: Settings) -> None:
    async with sm() as s:
        mine, other = Contact(token_nonce="n1"), Contact(token_nonce="n2")
        s.add_all([mine, other])
        await s.flush()
        conv = Conversation(number="SB-0000001", channel="chat", contact_id=mine.id,
                            site_id=kb["site"])
        s.add(conv)
        await s.commit()
        ids = (mine.id, other.id, conv.id)
    url = f"/api/public/kb/{kb['key']}/chat"
    view = f"/kb/{kb['key']}/en/a/{kb['invoice']}/download-an-invoice?s={SESSION}"
    assert (await client.get(view)).status_code == 200
    stranger = issue_visitor_token(settings, ids[1], "n2")
    r = await client.post(url, json={"session": SESSION, "conversation_id": ids[2],
                                     "token": stranger})
    assert r.status_code == 403
    r = await client.post(url, json={"session": "short", "conversation_id": ids[2],
                                     "token": stranger})
    assert r.status_code == 422
    token = issue_visitor_token(settings, ids[0], "n1")
    for _ in range(2):
        r = await client.post(url, json={"session": SESSION, "conversation_id": ids[2],
                                         "token": token})
        assert r.status_code == 200
    async with sm() as s:
        kinds = [(e.kind, e.source) for e in (await s.execute(
            select(KbEvent).where(KbEvent.session == SESSION).order_by(KbEvent.id))).scalars()]
    assert kinds == [("view", "widget"), ("chat", "widget")]


async def test_help_centre_requests_are_counted_per_address(
        client: httpx.AsyncClient, kb: dict[str, Any], redis: aioredis.Redis) -> None:
    """Each page and suggestion is a search and a logged event: a stranger gets a minute's
    budget of them (429 + Retry-After past it), so kb_events cannot be grown without bound."""
    from realtime.client_limits import KB_REQUESTS_PER_MIN

    for key in await redis.keys("sb:kb:limit:*"):  # this file's other tests used the minute
        await redis.delete(key)

    statuses = [(await client.get(f"/kb/{kb['key']}/en/search", params={"q": "invoice"}))
                .status_code for _ in range(KB_REQUESTS_PER_MIN)]
    assert set(statuses) == {200}
    refused = await client.get(f"/kb/{kb['key']}/en")
    assert refused.status_code == 429 and int(refused.headers["Retry-After"]) > 0
    suggest = await client.get(f"/api/public/kb/{kb['key']}/suggest", params={"q": "invoice"},
                               headers={"Origin": ORIGIN})
    assert suggest.status_code == 429
