"""The staff KB API on the real app: settings, topics, articles, revisions, publishing,
translations, images, and bad input (both databases)."""

from __future__ import annotations

from typing import Any

import httpx

from tests.desk.kb.conftest import as_admin, as_agent

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 32


async def _setup(client: httpx.AsyncClient, site_id: int) -> dict[str, str]:
    h = await as_admin(client)
    r = await client.put(f"/api/kb/sites/{site_id}", headers=h, json={
        "languages": ["en", "de"], "synonyms": [["invoice", "bill"]]})
    assert r.status_code == 200, r.text
    return h


async def test_admin_writes_and_publishes(client: httpx.AsyncClient, org: dict[str, int],
                                          site: dict[str, Any]) -> None:
    h = await _setup(client, site["id"])
    r = await client.post("/api/kb/topics", headers=h,
                          json={"site_id": site["id"], "name": "Billing & invoices"})
    assert r.status_code == 201 and r.json()["slug"] == "billing-invoices"
    topic = r.json()["id"]
    r = await client.post("/api/kb/articles", headers=h, json={
        "site_id": site["id"], "title": "Download an invoice", "language": "en",
        "body": "Open **Billing**.\n\n<script>alert(1)</script>[x](javascript:alert(1))",
        "topic_id": topic, "tags": ["Billing"], "publish": True})
    assert r.status_code == 201, r.text
    a = r.json()
    assert a["status"] == "published" and a["slug"] == "download-an-invoice"
    assert "<strong>Billing</strong>" in a["html"] and "<script" not in a["html"]
    assert "href" not in a["html"]
    r = await client.post("/api/kb/articles", headers=h, json={
        "site_id": site["id"], "title": "Rechnung herunterladen", "language": "de",
        "body": "Öffnen Sie **Abrechnung**.", "translation_of": a["id"]})
    assert r.status_code == 201 and r.json()["family_id"] == a["id"]
    assert r.json()["status"] == "draft"
    dup = await client.post("/api/kb/articles", headers=h, json={
        "site_id": site["id"], "title": "Noch eine", "language": "de", "body": "x",
        "translation_of": a["id"]})
    assert dup.status_code == 409
    got = (await client.get(f"/api/kb/articles/{a['id']}")).json()
    assert got["translations"][0]["language"] == "de" and got["latest"]["number"] == 1


async def test_agents_propose_admins_publish(client: httpx.AsyncClient, org: dict[str, int],
                                             site: dict[str, Any]) -> None:
    admin = await _setup(client, site["id"])
    r = await client.post("/api/kb/articles", headers=admin, json={
        "site_id": site["id"], "title": "Reset a password", "language": "en",
        "body": "First text.", "publish": True})
    art = r.json()["id"]
    agent = await as_agent(client)
    r = await client.post("/api/kb/articles", headers=agent, json={
        "site_id": site["id"], "title": "Mine", "language": "en", "body": "x", "publish": True})
    assert r.status_code == 403
    r = await client.patch(f"/api/kb/articles/{art}", headers=agent, json={"body": "Better."})
    assert r.status_code == 200, r.text
    assert r.json()["latest"]["number"] == 2 and r.json()["body"] == "First text."
    assert r.json()["published_revision"] == 1
    r = await client.patch(f"/api/kb/articles/{art}", headers=agent,
                           json={"audience": "internal"})
    assert r.status_code == 403
    assert (await client.post(f"/api/kb/articles/{art}/publish", headers=agent,
                              json={})).status_code == 403
    admin = await as_admin(client)
    r = await client.post(f"/api/kb/articles/{art}/publish", headers=admin, json={})
    assert r.json()["body"] == "Better." and r.json()["published_revision"] == 2
    revs = (await client.get(f"/api/kb/articles/{art}/revisions")).json()
    assert [x["number"] for x in revs] == [2, 1]
    r = await client.post(f"/api/kb/articles/{art}/publish", headers=admin, json={"revision": 1})
    assert r.json()["body"] == "First text."
    assert (await client.post(f"/api/kb/articles/{art}/publish", headers=admin,
                              json={"revision": 9})).status_code == 404
    await client.put(f"/api/kb/sites/{site['id']}", headers=admin,
                     json={"languages": ["en", "de"], "agents_publish": True})
    agent = await as_agent(client)
    r = await client.post(f"/api/kb/articles/{art}/publish", headers=agent, json={})
    assert r.status_code == 200 and r.json()["published_revision"] == 2
    r = await client.post(f"/api/kb/articles/{art}/archive", headers=agent, json={})
    assert r.json()["status"] == "archived"


async def test_bad_input(client: httpx.AsyncClient, org: dict[str, int],
                         site: dict[str, Any]) -> None:
    h = await _setup(client, site["id"])
    base = {"site_id": site["id"], "title": "T", "language": "en", "body": "b"}

    async def post(**extra: Any) -> httpx.Response:
        return await client.post("/api/kb/articles", headers=h, json={**base, **extra})

    huge = await client.post("/api/kb/articles", headers=h,
                             json={**base, "body": "x" * (1024 * 1024)})
    assert huge.status_code == 422 and "larger than" in huge.json()["error"]["message"]
    over = await post(body="x" * 100_001)
    assert over.status_code == 422 and over.json()["error"]["field"] == "body"
    assert (await post(language="fr")).status_code == 422
    assert (await post(topic_id=2**31)).status_code == 422
    assert (await post(related_ids=[999])).status_code == 422
    assert (await post(site_id=999)).status_code == 404
    assert (await post(body="a\x00b")).status_code == 422
    r = await post()
    assert (await client.patch(f"/api/kb/articles/{r.json()['id']}", headers=h,
                               json={"related_ids": [r.json()["id"]]})).status_code == 422
    assert (await client.patch(f"/api/kb/articles/{r.json()['id']}", headers=h,
                               json={"language": "de"})).status_code == 422
    assert (await client.get("/api/kb/articles/2147483648")).status_code == 404
    assert (await client.get("/api/kb/articles")).status_code == 422
    r = await client.put(f"/api/kb/sites/{site['id']}", headers=h, json={"languages": "en"})
    assert r.status_code == 422


async def test_images(client: httpx.AsyncClient, org: dict[str, int],
                      site: dict[str, Any]) -> None:
    h = await as_agent(client)
    url = f"/api/kb/images?site_id={site['id']}"
    r = await client.post(url, headers={**h, "Content-Type": "image/png"}, content=PNG)
    assert r.status_code == 201, r.text
    assert r.json()["url"].startswith("/kb/images/")
    svg = b"<svg xmlns='http://www.w3.org/2000/svg' onload='alert(1)'/>"
    for ctype, data in (("image/svg+xml", svg), ("image/png", svg), ("text/html", b"<b>"),
                        ("image/png", b"x" * (2 * 1024 * 1024 + 1))):
        r = await client.post(url, headers={**h, "Content-Type": ctype}, content=data)
        assert r.status_code == 422, (ctype, r.text)


async def test_needs_login(client: httpx.AsyncClient, org: dict[str, int],
                           site: dict[str, Any]) -> None:
    assert (await client.get(f"/api/kb/articles?site_id={site['id']}")).status_code == 401
    h = await as_agent(client)
    r = await client.put(f"/api/kb/sites/{site['id']}", headers=h, json={"languages": ["en"]})
    assert r.status_code == 403


async def test_images_follow_their_articles_audience(
        client: httpx.AsyncClient, org: dict[str, int], site: dict[str, Any]) -> None:
    """An image is as readable as the articles showing it: staff see every one, anyone else
    only those a published public article shows (never one only an internal article, a draft
    or nothing shows), and a staff-only one is never put in a shared cache."""
    h = await _setup(client, site["id"])
    urls = []
    for _ in range(4):
        r = await client.post(f"/api/kb/images?site_id={site['id']}",
                              headers={**h, "Content-Type": "image/png"}, content=PNG)
        urls.append(r.json()["url"])
    public, internal, draft, loose = urls

    async def article(body: str, **extra: Any) -> None:
        r = await client.post("/api/kb/articles", headers=h, json={
            "site_id": site["id"], "title": body[:20], "language": "en", "body": body, **extra})
        assert r.status_code == 201, r.text

    await article(f"Public ![a]({public})", publish=True)
    await article(f"Internal ![b]({internal})", publish=True, audience="internal")
    await article(f"Draft ![c]({draft})")
    for url in urls:
        r = await client.get(url)
        assert r.status_code == 200 and r.headers["content-type"] == "image/png", url
    assert (await client.get(internal)).headers["cache-control"] == "private, no-store"
    client.cookies.clear()
    r = await client.get(public)
    assert r.status_code == 200 and r.headers["cache-control"].startswith("public")
    for url in (internal, draft, loose, "/kb/images/" + "0" * 40, "/kb/images/nothex"):
        assert (await client.get(url)).status_code == 404, url


async def test_editor_endpoints(client: httpx.AsyncClient, org: dict[str, int],
                                site: dict[str, Any]) -> None:
    """What the editor page uses: sites with the caller's right to publish, the preview by the
    articles' renderer, the diff of two revisions, topics renamed."""
    assert (await client.post("/api/kb/preview", json={"body": "x"})).status_code == 401
    h = await _setup(client, site["id"])
    mine = [x for x in (await client.get("/api/kb/sites")).json() if x["site_id"] == site["id"]]
    assert mine[0]["may_publish"] is True and mine[0]["languages"] == ["en", "de"]
    r = await client.post("/api/kb/preview", headers=h, json={
        "body": "**Hi** <script>alert(1)</script> ![x](https://evil.test/p.png)"})
    assert r.status_code == 200
    assert r.json()["html"] == "<p><strong>Hi</strong>  x</p>\n"
    r = await client.post("/api/kb/preview", headers=h, json={"body": "x" * 100_001})
    assert r.status_code == 422 and r.json()["error"]["field"] == "body"
    r = await client.post("/api/kb/articles", headers=h, json={
        "site_id": site["id"], "title": "Steps", "language": "en",
        "body": "one\ntwo\nthree", "publish": True})
    art = r.json()["id"]
    await client.patch(f"/api/kb/articles/{art}", headers=h, json={"body": "one\n2\nthree"})
    d = (await client.get(f"/api/kb/articles/{art}/diff")).json()
    assert (d["from"], d["to"]) == (1, 2)
    assert d["body"] == [["=", "one"], ["-", "two"], ["+", "2"], ["=", "three"]]
    assert d["title"] == [["…", "1"]]
    assert (await client.get(f"/api/kb/articles/{art}/diff?from=9")).status_code == 404
    topics = []
    for name in ("Billing", "Shipping"):
        r = await client.post("/api/kb/topics", headers=h, json={"site_id": site["id"],
                                                                 "name": name})
        topics.append(r.json()["id"])
    r = await client.patch(f"/api/kb/topics/{topics[0]}", headers=h,
                           json={"name": "Invoices", "position": 2})
    assert r.status_code == 200 and r.json()["name"] == "Invoices" and r.json()["position"] == 2
    r = await client.patch(f"/api/kb/topics/{topics[0]}", headers=h, json={"slug": "shipping"})
    assert r.status_code == 409
    agent = await as_agent(client)
    mine = [x for x in (await client.get("/api/kb/sites")).json() if x["site_id"] == site["id"]]
    assert mine[0]["may_publish"] is False
    r = await client.patch(f"/api/kb/topics/{topics[1]}", headers=agent, json={"name": "x"})
    assert r.status_code == 403
