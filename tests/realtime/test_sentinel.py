"""Redis behind Sentinel: the primary is killed mid-chat and the replica promoted. Both web
processes follow the failover through ``redis+sentinel://``; no message is lost or doubled, and
routing works on the new primary (a chat started after it is offered and accepted)."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import pytest

from routing import connect
from tests.realtime.conftest import Client, Clients, Org, WebFactory, accepted_chat, start_chat
from tests.support.sentinel import SentinelSet


@pytest.fixture
def sentinels() -> Iterator[SentinelSet]:
    with SentinelSet() as s:
        yield s


async def _talk(c: Client, cid: int, tag: str, n: int, every_s: float) -> None:
    for i in range(n):
        await c.send(type="message", conversation_id=cid, client_id=f"{tag}{i}", text=f"{tag}{i}")
        await asyncio.sleep(every_s)


async def _all_of(c: Client, total: int) -> list[int]:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + 20
    while len(c.of("message")) < total and loop.time() < deadline:
        await c.quiet(0.3)
    await c.quiet(0.5)
    return [m["seq"] for m in c.of("message")]


async def test_primary_killed_mid_chat_loses_and_doubles_nothing(
        web: WebFactory, clients: Clients, org: Org, sentinels: SentinelSet) -> None:
    a, b = await web(2, redis_url=sentinels.url())
    v, ana, cid = await accepted_chat(clients, org, a, b, "start")

    n, every = 50, 0.12
    talking = asyncio.gather(_talk(v, cid, "vm", n, every), _talk(ana, cid, "am", n, every))
    await asyncio.sleep(1.5)
    await asyncio.to_thread(sentinels.kill_primary)
    await talking

    total = 1 + 2 * n
    for c in (v, ana):
        seqs = await _all_of(c, total)
        assert seqs == list(range(1, total + 1)), (len(seqs), seqs[:5], seqs[-5:])
        texts = {m["text"] for m in c.of("message")}
        assert texts == {"start"} | {f"vm{i}" for i in range(n)} | {f"am{i}" for i in range(n)}
    assert len(v.of("ack")) == n + 1 and len(ana.of("ack")) == n

    # Routing on the new primary: a new visitor's chat is offered to Ana and accepted.
    v2 = await clients.visitor(a)
    cid2 = await start_chat(v2, org.dept, "after the failover", client_id="v2")
    await ana.send(type="active_groups", group_ids=[org.group])
    await ana.send(type="accept", conversation_id=cid2)
    await v2.expect("assigned", within=15)


async def test_sync_and_async_clients_follow_the_new_primary(sentinels: SentinelSet) -> None:
    """The worker's (RQ) and the pollers' clients, built from the same URL."""
    sync = connect.sync_client(sentinels.url(2))
    client = connect.async_client(sentinels.url(2), max_connections=4, wait_s=5)
    try:
        sync.set("before", "1")
        await client.set("before-async", "1")
        new = await asyncio.to_thread(sentinels.kill_primary)
        await asyncio.to_thread(sync.set, "after", "1")
        await client.set("after-async", "1")
        assert await client.get("before") == b"1"  # replicated before the kill
        assert sync.connection_pool.get_master_address()[1] == new  # type: ignore[attr-defined]
    finally:
        sync.close()
        await client.aclose()
