"""A real Redis restart (private redis-server, killed and started again): rebuilt from records."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import redis.asyncio as aioredis
from redis.asyncio.retry import Retry
from redis.backoff import ExponentialBackoff

from bench.router import PrivateRedis
from desk.db import SessionMaker
from desk.settings import Settings
from routing import events
from routing.router import Router
from tests.routing.conftest import Clock, Desk, online


@pytest.fixture
def private_redis() -> Iterator[PrivateRedis]:
    with PrivateRedis() as server:
        yield server


async def test_restart_rebuilds_queues_loads_and_offers(
        private_redis: PrivateRedis, settings: Settings, sessions: SessionMaker,
        desk: Desk, clock: Clock) -> None:
    # As in production: commands retried over reconnects (every routing script is safe to
    # resend: a repeated claim/accept/release finds the state already changed and refuses).
    client = aioredis.Redis.from_url(private_redis.url,
                                     retry=Retry(ExponentialBackoff(cap=0.5, base=0.05), 5))
    router = Router(settings.with_(redis_url=private_redis.url), client, sessions, clock=clock)
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
    assert abs(again.deadline_ms - before.deadline_ms) < 5_000  # from the offer's record time
    assert await router.store.excluded(offered) == {bob}
    assert await router.store.queue_ids(g) == [offered]
    # The rebuilt offer still expires, and never goes back to the agent who declined.
    clock.advance(31)
    await router.tick()
    assert await router.store.agent_convs(bob) == set()
    assert sorted(await router.store.queue_ids(g)) == sorted([offered, queued])
    await client.aclose()


async def test_events_stay_within_their_database(
        private_redis: PrivateRedis, settings: Settings, sessions: SessionMaker) -> None:
    # Pub/sub is server-wide: a rebuild in one database must not reach another's listeners.
    clients = [aioredis.Redis.from_url(private_redis.url.rsplit("/", 1)[0] + f"/{db}")
               for db in (0, 1)]
    routers = [Router(settings, c, sessions) for c in clients]
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
    for c in clients:
        await c.aclose()
