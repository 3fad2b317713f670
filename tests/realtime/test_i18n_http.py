"""``GET /api/public/i18n``: the catalogue of the first shipped language wanted, cacheable."""

from __future__ import annotations

import httpx
from starlette.applications import Starlette
from starlette.routing import Route

from realtime.public_http import catalogue


def client() -> httpx.AsyncClient:
    app = Starlette(routes=[Route("/api/public/i18n", catalogue)])
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://desk")


async def test_the_first_shipped_language_wanted() -> None:
    async with client() as c:
        r = await c.get("/api/public/i18n", params={"lang": "pt-BR,de-CH;q=0.9,fr;q=0.8"})
        assert r.status_code == 200
        body = r.json()
        assert body["language"] == "de"
        assert body["messages"]["widget.start_chat"] == "Chat starten"
        assert body["languages"]["fr"] == "Français"
        assert r.headers["cache-control"] == "public, max-age=3600"
        assert r.headers["access-control-allow-origin"] == "*"
        assert (await c.get("/api/public/i18n")).json()["language"] == "en"
        long = await c.get("/api/public/i18n", params={"lang": "x" * 5000})
        assert long.json()["language"] == "en"


async def test_an_unchanged_catalogue_is_not_sent_again() -> None:
    async with client() as c:
        etag = (await c.get("/api/public/i18n", params={"lang": "es"})).headers["etag"]
        again = await c.get("/api/public/i18n", params={"lang": "es"},
                            headers={"If-None-Match": etag})
        assert again.status_code == 304 and again.content == b""
        other = await c.get("/api/public/i18n", params={"lang": "fr"},
                            headers={"If-None-Match": etag})
        assert other.status_code == 200
