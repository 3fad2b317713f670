"""Redis trouble under live chats: a node cut off from Redis for seconds, Redis flushed mid-chat.

Real web processes and the real shared Redis (the test's DB index); the cut is a small TCP proxy
between one web process and Redis that the test can sever (connections reset, new ones refused)
and restore.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from urllib.parse import urlsplit

import pytest
import redis.asyncio as aioredis
from websockets.exceptions import ConnectionClosed

from desk.db import SessionMaker
from desk.models import Agent
from routing import keys
from tests.realtime.conftest import (
    Client,
    Clients,
    Org,
    WebFactory,
    accepted_chat,
    start_chat,
    update_row,
)
from tests.support.proxy import CuttableProxy


@pytest.fixture
async def proxy(redis_url: str) -> AsyncIterator[CuttableProxy]:
    url = urlsplit(redis_url)
    p = CuttableProxy(url.hostname or "127.0.0.1", url.port or 6379)
    await p.start()
    yield p
    await p.stop()


async def _talk(c: Client, cid: int, tag: str, n: int, every_s: float) -> None:
    for i in range(n):
        await c.send(type="message", conversation_id=cid, client_id=f"{tag}{i}", text=f"{tag}{i}")
        await asyncio.sleep(every_s)


async def test_node_cut_off_from_redis_for_5s_loses_and_doubles_nothing(
        web: WebFactory, clients: Clients, org: Org, proxy: CuttableProxy,
        redis_url: str) -> None:
    db = urlsplit(redis_url).path
    [a] = await web(1, redis_url=f"redis://127.0.0.1:{proxy.port}{db}")
    [b] = await web(1)
    v, ana, cid = await accepted_chat(clients, org, a, b, "start")

    # Both sides write at ~7 msg/s for ~9 s; process A loses Redis from ~2 s to ~7 s.
    n, every = 60, 0.15
    talking = asyncio.gather(_talk(v, cid, "vm", n, every), _talk(ana, cid, "am", n, every))
    await asyncio.sleep(2)
    proxy.cut()
    await asyncio.sleep(5)
    proxy.restore()
    await talking

    # Every message, on both sides, exactly once and in order (seq 1 is the first line).
    total = 1 + 2 * n
    for c in (v, ana):
        loop = asyncio.get_running_loop()
        deadline = loop.time() + 15
        while len(c.of("message")) < total and loop.time() < deadline:
            await c.quiet(0.3)
        await c.quiet(0.5)
        seqs = [m["seq"] for m in c.of("message")]
        assert seqs == list(range(1, total + 1)), (len(seqs), seqs[:5], seqs[-5:])
        texts = {m["text"] for m in c.of("message")}
        assert texts == {"start"} | {f"vm{i}" for i in range(n)} | {f"am{i}" for i in range(n)}
    assert len(v.of("ack")) == n + 1 and len(ana.of("ack")) == n


async def _reloaded(c: Client) -> None:
    """The client is told to reload, then the socket closes with 1012."""
    with pytest.raises(ConnectionClosed) as info:
        while True:
            await c.next(within=10)
    assert c.of("reload"), c.frames
    assert info.value.rcvd is not None and info.value.rcvd.code == 1012


async def test_flushdb_mid_chat_reloads_clients_and_rebuilds_routing(
        web: WebFactory, clients: Clients, org: Org, redis: aioredis.Redis,
        sm: SessionMaker) -> None:
    await update_row(sm, Agent, org.ana, chat_capacity=1)
    [w] = await web(1)
    ana = await clients.staff(w, "ana@x.test")
    await ana.send(type="active_groups", group_ids=[org.group])
    v1 = await clients.visitor(w)
    c1 = await start_chat(v1, org.dept, "first")
    await ana.expect("offer", conversation_id=c1)
    await ana.send(type="accept", conversation_id=c1)
    await v1.expect("assigned")
    v2 = await clients.visitor(w)
    c2 = await start_chat(v2, org.dept, "second")
    await v2.expect("queued")
    epoch = ana.frames[0]["epoch"]

    await redis.flushdb()
    for c in (ana, v1, v2):
        await _reloaded(c)
    new_epoch = ana.of("reload")[0]["epoch"]
    assert new_epoch != epoch and await redis.get(keys.epoch()) == new_epoch.encode()

    # Everyone reconnects and resumes; the chat carries on and nothing was lost or doubled.
    ana2 = await clients.staff(w, "ana@x.test")
    assert ana2.frames[0]["conversations"] == [c1]
    await ana2.send(type="resume", conversation_id=c1, after_seq=1)
    v1b = await clients.visitor(w, token=v1.token)
    await v1b.send(type="resume", conversation_id=c1, after_seq=1)
    assert (await v1b.expect("state"))["agent_name"] == "Ana"
    v2b = await clients.visitor(w, token=v2.token)
    await v2b.send(type="resume", conversation_id=c2, after_seq=1)
    assert (await v2b.expect("queued"))["position"] == 1  # still waiting, not stranded
    await ana2.send(type="message", conversation_id=c1, client_id="after", text="still here")
    assert (await v1b.expect("message", client_id="after"))["seq"] == 2
    # The rebuilt load says Ana is full (1/1): the second chat waits for her capacity...
    assert await redis.hget(keys.agent(org.ana), "chats") == b"1"
    assert not ana2.of("offer")
    # ...which the end of the first frees at once.
    await v1b.send(type="end", conversation_id=c1)
    await ana2.expect("offer", conversation_id=c2)
