"""A private redis-server: restart (killed, started again) rebuilt from records, script loss,
events kept within their database."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

import pytest
import redis.asyncio as aioredis
from redis.asyncio.retry import Retry
from redis.backoff import ExponentialBackoff

from desk.db import SessionMaker
from desk.settings import Settings
from routing import events, keys
from routing.policy import Item
from routing.router import Router
from routing.store import AgentLive, Store
from tests.routing.conftest import Clock, seed_agent
from tests.support.redis_server import PrivateRedis
from tests.support.routing_desk import Desk, online


@pytest.fixture
def private_redis() -> Iterator[PrivateRedis]:
    with PrivateRedis() as server:
        yield server


Connect = Callable[..., aioredis.Redis]


@pytest.fixture
async def connect() -> AsyncIterator[Connect]:
    """Clients closed at teardown, pass or fail: one a failed test left open was collected
    (ResourceWarning, an error under -W error) during the next test's setup."""
    opened: list[aioredis.Redis] = []

    def make(url: str, **options: Any) -> aioredis.Redis:
        opened.append(aioredis.Redis.from_url(url, **options))
        return opened[-1]

    yield make
    for client in opened:
        await client.aclose()


async def test_restart_rebuilds_queues_loads_and_offers(
        private_redis: PrivateRedis, settings: Settings, sm: SessionMaker,
        desk: Desk, clock: Clock, connect: Connect) -> None:
    # As in production: commands retried over reconnects (every routing script is safe to
    # resend: a repeated claim/accept/release finds the state already changed and refuses).
    client = connect(private_redis.url(), retry=Retry(ExponentialBackoff(cap=0.5, base=0.05), 5))
    router = Router(settings.with_(redis_url=private_redis.url()), client, sm, clock=clock)
    await router.rebuild()
    g = await desk.group(offer_timeout_s=30)
    ana, bob = await desk.agent([g], chats=1), await desk.agent([g], chats=2)
    await online(router, ana, [g])
    await online(router, bob, [g])
    active, offered, queued = [await desk.conversation(g) for _ in range(3)]
    await router.enqueue(active)
    await router.accept(ana, active)
    await router.enqueue(offered)  # offered to bob
    await router.decline(bob, offered)  # bob declined: nobody else free -> queued
    await router.enqueue(queued)  # bob has room: offered to bob
    before = await router.store.conv(queued)
    assert before is not None and (before.state, before.agent_id) == ("offered", bob)

    private_redis.restart()
    assert await router.store.epoch() is None
    await router.heartbeat(ana)
    await router.heartbeat(bob)
    await router.tick()

    assert await router.store.agent_convs(ana) == {active}
    assert await router.store.agent_convs(bob) == {queued}
    again = await router.store.conv(queued)
    assert again is not None and (again.state, again.agent_id) == ("offered", bob)
    assert again.deadline_ms is not None and before.deadline_ms is not None
    # From the offer's record, stamped by the router's clock (frozen here): the same deadline,
    # however long the test took (the row default's wall time once drifted past a margin).
    assert abs(again.deadline_ms - before.deadline_ms) <= 1
    assert await router.store.excluded(offered) == {bob}
    assert await router.store.queue_ids(g) == [offered]
    # The rebuilt offer still expires, and never goes back to the agent who declined.
    clock.advance(31)
    await router.tick()
    assert await router.store.agent_convs(bob) == set()
    assert sorted(await router.store.queue_ids(g)) == sorted([offered, queued])


async def test_events_stay_within_their_database(
        private_redis: PrivateRedis, settings: Settings, sm: SessionMaker,
        connect: Connect) -> None:
    # Pub/sub is server-wide: a rebuild in one database must not reach another's listeners.
    clients = [connect(private_redis.url(db)) for db in (0, 1)]
    routers = [Router(settings, c, sm) for c in clients]
    assert routers[0].events_channel != routers[1].events_channel
    pubsub = clients[0].pubsub(ignore_subscribe_messages=True)
    await pubsub.subscribe(routers[0].events_channel)
    await pubsub.get_message(timeout=1)  # the subscription's confirmation
    epoch_other = await routers[1].rebuild()
    epoch_own = await routers[0].rebuild()
    seen = []
    while (msg := await pubsub.get_message(timeout=0.3)) is not None:
        seen.append(events.parse(msg["data"]))
    assert seen == [events.Rebuilt(epoch_own)] and epoch_own != epoch_other
    await pubsub.aclose()


@pytest.mark.parametrize("options", [{}, {"decode_responses": True}, {"protocol": 3}])
async def test_store_after_script_flush_with_any_client(
        private_redis: PrivateRedis, options: dict[str, Any], connect: Connect) -> None:
    # The hot paths talk RESP on a pooled connection themselves: every reply shape must parse,
    # and a script Redis forgot (SCRIPT FLUSH, restart) is loaded again and the call resent.
    client = connect(private_redis.url(), **options)
    await client.flushdb()
    await client.set(keys.epoch(), "test")
    store = Store(client)
    await seed_agent(client, 1, [5])
    assert await store.enqueue(Item(10, 5, "chat", arrival=1.0)) == ("ok", 0)
    await client.script_flush()
    snap = await store.snapshot(5, [1], 10)
    assert [i.conversation_id for i in snap.items] == [10] and not snap.more
    assert snap.agents[1] == AgentLive(1, True, True, 0, 0, 3, 10)
    assert await store.positions([10, 11]) == {10: (1, 5)}
    res = await store.claim(10, 5, [1], offer_deadline_ms=None, now_ms=1_700_000_000_000)
    assert (res.status, res.agent_id) == ("ok", 1)
    assert await store.queue_head(5) == ([], [1_700_000_000.0])
    await client.script_flush()
    assert await store.enqueue_many([Item(11, 5, "email"), Item(10, 5, "chat")]) == [
        ("ok", 0), ("exists", "assigned")]
