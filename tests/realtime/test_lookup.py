"""The customer 360's company data from a site's lookup provider: a real web process asking a
real local HTTP provider (tests.support.local_http) through desk.outbound_http, with the
answer cached in real Redis. Fields shown; a slow provider times out; a huge body is capped;
malformed JSON, a nested object and a 500 are "unavailable"; a redirect to a private address
is refused; hits and failures are cached (the provider is not asked again)."""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from typing import Any

import httpx
import orjson
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from desk.contacts import new_visitor
from desk.conversations import create_conversation
from desk.db import SessionMaker
from desk.webhook_rules import SIGNATURE_HEADER, verify
from tests.realtime.conftest import Org, WebFactory, api, login
from tests.support.local_http import serving

SECRET = "provider-secret-0123456789"


class Provider:
    """The company's endpoint: answers by path, counts the requests, checks each signature."""

    def __init__(self) -> None:
        self.asked: Counter[str] = Counter()
        self.bodies: list[dict[str, Any]] = []
        self.release = asyncio.Event()  # lets the slow handler end at teardown

    async def handle(self, request: Request) -> Response:
        body = await request.body()
        assert verify(SECRET, request.headers[SIGNATURE_HEADER], body, int(time.time()))
        kind = request.path_params["kind"]
        self.asked[kind] += 1
        self.bodies.append(orjson.loads(body))
        match kind:
            case "ok":
                return Response(orjson.dumps({
                    "Plan": "Gold <script>alert(1)</script>", "Orders": 12, "VIP": True,
                    "Balance": 10.5, "Notes": None}), media_type="application/json")
            case "slow":
                try:
                    await asyncio.wait_for(self.release.wait(), 10)
                except TimeoutError:
                    pass
                return Response(b"{}", media_type="application/json")
            case "huge":
                return Response(orjson.dumps({"Blob": "x" * 200_000}),
                                media_type="application/json")
            case "malformed":
                return Response(b'{"Plan": "Gold"', media_type="application/json")
            case "nested":
                return Response(orjson.dumps({"Plan": {"name": "Gold"}}),
                                media_type="application/json")
            case "private":
                return RedirectResponse("http://10.1.2.3/steal", status_code=307)
        return Response(b'{"error": "boom"}', status_code=500)

    def app(self) -> Starlette:
        return Starlette(routes=[Route("/lookup/{kind}", self.handle, methods=["POST"])])


async def _case(sm: SessionMaker, org: Org) -> int:
    olga = await new_visitor(sm, name="Olga", email="olga@umbrella.test")
    conv = await create_conversation(sm, channel="email", group_id=org.group, site_id=org.site,
                                     contact_id=olga.id, subject="Printer")
    return conv.id


async def test_the_panel_s_company_data_from_a_local_provider(
        sm: SessionMaker, org: Org, web: WebFactory) -> None:
    (w,) = await web(1, SWITCHBOARD_OUTBOUND_ALLOW_NETWORKS="127.0.0.0/8")
    cid = await _case(sm, org)
    path = f"/api/conversations/{cid}/customer/lookup"
    assert (await api(w, "GET", path, "ana@x.test")).json() == {"state": "none"}
    provider = Provider()
    async with serving(provider.app()) as base:
        async def use(kind: str, **extra: Any) -> None:
            r = await api(w, "PUT", f"/api/sites/{org.site}/lookup", "adm@x.test", {
                "url": f"{base}/lookup/{kind}", "secret": SECRET, **extra})
            assert r.status_code == 200, r.text

        cookie, _ = await login(w, "ana@x.test")

        async def ask() -> tuple[dict[str, Any], float]:
            async with httpx.AsyncClient(cookies={"sb_session": cookie}) as http:
                started = time.monotonic()
                r = await http.get(w.http + path)
                took = time.monotonic() - started
            assert r.status_code == 200, r.text
            return r.json(), took

        await use("ok", cache_ttl_s=60)
        got, _ = await ask()
        assert got == {"state": "ok", "cached": False, "fields": [
            ["Plan", "Gold <script>alert(1)</script>"], ["Orders", 12], ["VIP", True],
            ["Balance", 10.5], ["Notes", None]]}
        assert provider.bodies[-1]["contact"]["email"] == "olga@umbrella.test"
        again, _ = await ask()
        assert again["cached"] is True and again["fields"] == got["fields"]
        assert provider.asked["ok"] == 1  # the cache answered

        await use("slow", timeout_ms=300)
        got, took = await ask()
        assert got == {"state": "unavailable", "cached": False}
        assert took < 3, took  # the deadline, not the provider's 10 s
        got, took = await ask()
        assert got == {"state": "unavailable", "cached": True} and took < 3
        assert provider.asked["slow"] == 1  # a failure is cached too: not hammered
        provider.release.set()

        for kind in ("huge", "malformed", "nested", "error", "private"):
            await use(kind)
            got, _ = await ask()
            assert got == {"state": "unavailable", "cached": False}, kind
            assert provider.asked[kind] == 1, kind
        assert "10.1.2.3 is not a public address" in w.log.read_text()

        # An agent outside the conversation's groups learns nothing, the provider is not asked.
        denied = await api(w, "GET", path, "zed@x.test")
        assert denied.status_code == 403
        assert sum(provider.asked.values()) == 7


async def test_the_provider_s_settings_are_checked_and_the_secret_shown_once(
        org: Org, web: WebFactory) -> None:
    (w,) = await web(1)
    where = f"/api/sites/{org.site}/lookup"
    r = await api(w, "PUT", where, "adm@x.test", {"url": "https://crm.example/lookup"})
    assert r.status_code == 200, r.text
    made = r.json()
    assert made["configured"] and len(made["secret"]) >= 32
    assert made["timeout_ms"] == 2000 and made["cache_ttl_s"] == 300
    r = await api(w, "PUT", where, "adm@x.test", {"url": "https://crm.example/v2",
                                                   "timeout_ms": 1500})
    assert "secret" not in r.json() and r.json()["secret_hint"] == made["secret_hint"]
    shown = (await api(w, "GET", where, "adm@x.test")).json()
    assert shown == {"configured": True, "url": "https://crm.example/v2", "timeout_ms": 1500,
                     "cache_ttl_s": 300, "secret_hint": made["secret_hint"]}
    for bad, field in (({"url": "ftp://crm.example/"}, "url"),
                       ({"url": "https://u:p@crm.example/"}, "url"),
                       ({"url": "https://crm.example/", "timeout_ms": 60_000}, "timeout_ms"),
                       ({"url": "https://crm.example/", "cache_ttl_s": -1}, "cache_ttl_s"),
                       ({"url": "https://crm.example/", "secret": "short"}, "secret")):
        r = await api(w, "PUT", where, "adm@x.test", bad)
        assert r.status_code == 422, (bad, r.text)
        assert field in r.json()["error"]["message"], r.text
    assert (await api(w, "PUT", where, "ana@x.test", {"url": "https://x.example/"})
            ).status_code == 403
    assert (await api(w, "DELETE", where, "adm@x.test")).status_code == 204
    assert (await api(w, "GET", where, "adm@x.test")).json() == {"configured": False}
