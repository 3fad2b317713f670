"""The page-view beacon (``POST /api/visitor/page-view``) through a real web process and Redis:
it lands where the socket's page views do, within the same limits, and refuses strangers."""

from __future__ import annotations

from typing import Any

import httpx
import orjson
import redis.asyncio as aioredis
from sqlalchemy import update

from desk.db import SessionMaker
from desk.models import Site
from tests.realtime.conftest import (
    SHOP,
    SITE_KEY,
    Clients,
    Org,
    Web,
    WebFactory,
    visitor_token,
)

TEXT = {"Content-Type": "text/plain;charset=UTF-8", "Origin": SHOP}


async def beacon(w: Web, body: Any, headers: dict[str, str] | None = None) -> httpx.Response:
    raw = body if isinstance(body, bytes) else orjson.dumps(body)
    async with httpx.AsyncClient() as http:
        return await http.post(w.http + "/api/visitor/page-view", content=raw,
                               headers={**TEXT, **(headers or {})})


def view(token: str, **fields: Any) -> dict[str, Any]:
    return {"site_key": SITE_KEY, "token": token, "url": "https://shop.test/", **fields}


async def test_a_beacon_page_view_is_stored_as_the_sockets_and_pushed_to_agents(
        web: WebFactory, clients: Clients, org: Org, redis: aioredis.Redis) -> None:
    [w] = await web(1, SWITCHBOARD_VISIT_PUSH_MS="200", SWITCHBOARD_VISIT_VIEWS_PER_S="5")
    ana = await clients.staff(w, "ana@x.test")
    await ana.send(type="watch_visitors")
    await ana.expect("visitors")
    token = await visitor_token(w)
    r = await beacon(w, view(token, url="https://shop.test/pricing", title="<b>Prices</b>",
                             referrer="https://search.test/", lang="de"))
    assert r.status_code == 202, r.text
    [row] = (await ana.expect("visitors_delta"))["upserts"]
    assert (row["url"], row["title"], row["pages"]) == ("https://shop.test/pricing",
                                                        "<b>Prices</b>", 1)
    assert row["referrer"] == "https://search.test/" and row["returning"] is False

    # The socket that follows goes on with the same visit (one storage path); the page the
    # beacon told, repeated by the socket, is not another page.
    v = await clients.visitor(w, token)
    await v.send(type="page_view", url="https://shop.test/pricing", repeat=True)
    await v.send(type="page_view", url="https://shop.test/cart")
    [row] = (await ana.expect("visitors_delta"))["upserts"]
    assert (row["url"], row["pages"]) == ("https://shop.test/cart", 2)

    # javascript: is kept as text (the console links only http(s)), as on the socket.
    await ana.quiet(1.1)  # the visitor's second is over
    r = await beacon(w, view(token, url="javascript:alert(1)"))
    assert r.status_code == 202
    [row] = (await ana.expect("visitors_delta"))["upserts"]
    assert row["url"] == "javascript:alert(1)"


async def test_bad_beacons_are_refused_and_store_nothing(
        web: WebFactory, org: Org, redis: aioredis.Redis) -> None:
    [w] = await web(1)
    token, other = await visitor_token(w), await visitor_token(w)
    big = await beacon(w, view(token, url="https://shop.test/" + "x" * 100_000))
    assert big.status_code == 413 and "larger than" in big.json()["error"]["message"]
    long_url = await beacon(w, view(token, url="https://shop.test/" + "x" * 3000))
    assert long_url.status_code == 422
    # Who viewed the page is the token's: naming another visitor is refused, whoever it is.
    named = await beacon(w, {**view(token), "visitor_id": 1})
    assert named.status_code == 422 and "visitor_id" in named.json()["error"]["message"]
    forged = await beacon(w, view(other[:-4] + "AAAA"))
    assert forged.status_code == 403
    assert (await beacon(w, view(token), {"Origin": "http://evil.test"})).status_code == 403
    assert (await beacon(w, b"not json")).status_code == 422
    assert (await beacon(w, view(token, url=""))).status_code == 422
    assert (await beacon(w, {**view(token), "site_key": "nope"})).status_code == 404
    assert not await redis.keys("sb:visits:*:v:*")


async def test_do_not_track_gpc_and_the_site_switch_record_nothing(
        web: WebFactory, org: Org, redis: aioredis.Redis, sm: SessionMaker) -> None:
    [w] = await web(1)
    token = await visitor_token(w)
    assert (await beacon(w, view(token), {"DNT": "1"})).status_code == 204
    assert (await beacon(w, view(token), {"Sec-GPC": "1"})).status_code == 204
    assert not await redis.keys("sb:visits:*")
    async with sm() as s:
        await s.execute(update(Site).values(config={"tracking": False}))
        await s.commit()
    [w2] = await web(1)  # a fresh process: no site facts cached from before the switch
    assert (await beacon(w2, view(token))).status_code == 204
    assert not await redis.keys("sb:visits:*:v:*")


async def test_beacons_are_throttled_per_visitor_and_per_address(
        web: WebFactory, org: Org, redis: aioredis.Redis) -> None:
    [w] = await web(1, SWITCHBOARD_VISIT_BEACONS_PER_MIN="10", SWITCHBOARD_VISIT_VIEWS_PER_S="1")
    token = await visitor_token(w)
    # The visitor's per-second count, shared with their sockets: a burst mostly not stored.
    codes = [(await beacon(w, view(token, url=f"https://shop.test/{i}"))).status_code
             for i in range(6)]
    assert codes[0] == 202 and 204 in codes and set(codes) == {202, 204}
    [key] = await redis.keys("sb:visits:*:v:*")
    assert int(await redis.hget(key, "n") or 0) == codes.count(202)
    # The address's minute: past it 429 with Retry-After, before anything is looked up.
    for _ in range(4):
        await beacon(w, view(token))
    limited = await beacon(w, b"not even json")
    assert limited.status_code == 429 and int(limited.headers["retry-after"]) > 0
