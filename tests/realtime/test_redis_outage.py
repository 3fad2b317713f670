"""Redis goes away for ~5 s and comes back (a private redis-server, stopped and started again with
its data): HTTP answers 503 + Retry-After while it is down and 200 at once after, never a 500; a
chat started then is routed as soon as Redis is back; an idle process logs nothing."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import httpx
import pytest

from routing import connect
from tests.realtime.conftest import SHOP, SITE_KEY, Clients, Org, Web, WebFactory
from tests.support.redis_server import PrivateRedis


@pytest.fixture
def private_redis() -> Iterator[PrivateRedis]:
    with PrivateRedis(persist=True) as server:
        yield server


async def _sessions(w: Web, n: int, subnet: int) -> list[httpx.Response]:
    """``n`` concurrent ``POST /api/visitor/session``, each from its own loopback address (the
    per-address budget is not what is tested)."""

    async def one(i: int) -> httpx.Response:
        transport = httpx.AsyncHTTPTransport(local_address=f"127.0.{subnet}.{i + 1}")
        async with httpx.AsyncClient(transport=transport, timeout=30) as http:
            return await http.post(w.http + "/api/visitor/session", json={"site_key": SITE_KEY},
                                   headers={"Origin": SHOP})

    return list(await asyncio.gather(*(one(i) for i in range(n))))


def _unavailable(r: httpx.Response) -> bool:
    return (r.status_code == 503 and r.headers.get("retry-after", "").isdigit()
            and r.json()["error"]["code"] == "unavailable"
            and r.headers["x-content-type-options"] == "nosniff"
            # The widget reads the answer cross-origin: without CORS it would see no 503 at all.
            and r.headers.get("access-control-allow-origin") == SHOP)


async def test_outage_answers_503_then_200_and_routes_the_chat_started_during_it(
        web: WebFactory, clients: Clients, org: Org, private_redis: PrivateRedis) -> None:
    # No routing timers in this process: nothing but the web process's own retry routes a chat.
    [w] = await web(1, redis_url=private_redis.url())
    ana = await clients.staff(w, "ana@x.test")
    await ana.send(type="active_groups", group_ids=[org.group])
    await ana.quiet(0.3)
    v = await clients.visitor(w)
    # Every pooled connection has been used, and is idle when Redis goes.
    assert all(r.status_code == 200 for r in await _sessions(w, 40, 1))

    private_redis.stop()
    down = await _sessions(w, 10, 2)
    assert all(_unavailable(r) for r in down), [(r.status_code, r.text) for r in down]
    await v.send(type="start_chat", client_id="c1", text="anyone?", department_id=org.dept)
    refused = await v.expect("error", within=10)
    assert refused["code"] == "unavailable", refused
    await v.send(type="ping")
    await v.expect("pong")
    await asyncio.sleep(4)
    private_redis.start()

    # At once after: every request is answered, on the stale pooled connections too.
    after = await _sessions(w, 40, 3)
    assert [r.status_code for r in after] == [200] * 40, [r.text for r in after if r.is_error]
    await v.send(type="start_chat", client_id="c2", text="anyone?", department_id=org.dept)
    cid = (await v.expect("started"))["conversation_id"]
    await ana.expect("offer", conversation_id=cid)
    assert "Traceback" not in w.log.read_text()


async def test_idle_process_logs_nothing(web: WebFactory, clients: Clients) -> None:
    [w] = await web(1)
    await clients.staff(w, "ana@x.test")
    await clients.visitor(w)
    # Past the socket timeout, where an idle connection's read used to fail every time.
    await asyncio.sleep(connect.SOCKET_TIMEOUT_S + 2)
    assert (await asyncio.to_thread(w.log.read_text)).strip() == ""
