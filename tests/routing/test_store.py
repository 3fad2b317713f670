"""The Lua scripts against a real Redis: each invariant the claim and its siblings enforce."""

from __future__ import annotations

import redis.asyncio as aioredis

from routing import keys
from routing.policy import Item
from routing.store import Store
from tests.routing.conftest import seed_agent

NOW = 1_700_000_000_000


async def load(redis: aioredis.Redis, agent_id: int) -> tuple[int, int]:
    v = await redis.hmget(keys.agent(agent_id), "chats", "tickets")
    return int(v[0] or 0), int(v[1] or 0)


async def test_enqueue_is_idempotent_and_ordered(store: Store) -> None:
    assert await store.enqueue(Item(1, 5, "chat", priority=2, arrival=10.0)) == ("ok", 0)
    assert await store.enqueue(Item(2, 5, "chat", priority=1, arrival=20.0)) == ("ok", 0)
    assert await store.enqueue(Item(3, 5, "email", priority=2, arrival=5.0)) == ("ok", 1)
    assert await store.enqueue(Item(1, 5, "chat")) == ("exists", "queued")
    assert await store.queue_ids(5) == [2, 3, 1]
    assert await store.position(1) == (3, 5)
    c = await store.conv(3)
    assert c is not None and c.kind == "ticket" and c.state == "queued"


async def test_no_epoch_refuses(redis: aioredis.Redis) -> None:
    s = Store(redis)
    assert (await s.enqueue(Item(1, 5, "chat")))[0] == "no_epoch"
    assert (await s.claim(1, 5, [1], offer_deadline_ms=None, now_ms=NOW)).status == "no_epoch"


async def test_claim_checks_every_invariant(store: Store, redis: aioredis.Redis) -> None:
    await seed_agent(redis, 1, [5], online=False)
    await seed_agent(redis, 2, [6])
    await seed_agent(redis, 3, [5], max_chats=0)
    await seed_agent(redis, 4, [5])
    await seed_agent(redis, 5, [5])
    await store.enqueue(Item(10, 5, "chat"))
    await redis.sadd(keys.excluded(10), "4")
    r = await store.claim(10, 5, [1, 2, 3, 4, 5], offer_deadline_ms=None, now_ms=NOW)
    assert r.status == "ok" and r.agent_id == 5
    assert r.skipped == {1: "offline", 2: "inactive", 3: "at_capacity", 4: "excluded"}
    assert await load(redis, 5) == (1, 0)
    assert await store.queue_ids(5) == []
    assert await store.agent_convs(5) == {10}
    # Never twice.
    again = await store.claim(10, 5, [5], offer_deadline_ms=None, now_ms=NOW)
    assert again.status == "not_queued"
    assert await load(redis, 5) == (1, 0)


async def test_claim_no_agent_and_wrong_group(store: Store, redis: aioredis.Redis) -> None:
    await seed_agent(redis, 1, [5], max_chats=1)
    await store.enqueue(Item(10, 5, "chat"))
    await store.enqueue(Item(11, 5, "chat"))
    assert (await store.claim(10, 6, [1], offer_deadline_ms=None, now_ms=NOW)).status \
        == "not_queued"
    assert (await store.claim(10, 5, [1], offer_deadline_ms=None, now_ms=NOW)).status == "ok"
    r = await store.claim(11, 5, [1], offer_deadline_ms=None, now_ms=NOW)
    assert (r.status, r.skipped) == ("no_agent", {1: "at_capacity"})


async def test_cursor_expectation(store: Store, redis: aioredis.Redis) -> None:
    await seed_agent(redis, 1, [5])
    await store.enqueue(Item(10, 5, "chat"))
    r = await store.claim(10, 5, [1], offer_deadline_ms=None, now_ms=NOW, expect_cursor="7")
    assert r.status == "stale_cursor"
    r = await store.claim(10, 5, [1], offer_deadline_ms=None, now_ms=NOW, expect_cursor="-")
    assert r.status == "ok"
    assert await redis.get(keys.cursor(5)) == b"1"


async def test_cherry_pick_checks(store: Store, redis: aioredis.Redis) -> None:
    await seed_agent(redis, 1, [])
    await store.enqueue(Item(10, 5, "chat"))
    await redis.sadd(keys.excluded(10), "1")
    r = await store.claim(10, 5, [1], offer_deadline_ms=None, now_ms=NOW, checks="")
    assert r.status == "ok"


async def test_offer_accept_decline_expire(store: Store, redis: aioredis.Redis) -> None:
    await seed_agent(redis, 1, [5])
    await seed_agent(redis, 2, [5])
    await store.enqueue(Item(10, 5, "chat", arrival=1.0))
    await store.enqueue(Item(11, 5, "chat", arrival=2.0))
    r = await store.claim(10, 5, [1], offer_deadline_ms=NOW + 30_000, now_ms=NOW)
    assert r.status == "ok"
    c = await store.conv(10)
    assert c is not None and (c.state, c.agent_id, c.deadline_ms) == ("offered", 1, NOW + 30_000)
    assert await load(redis, 1) == (1, 0)  # an offer reserves the slot
    assert await store.accept(10, 2) == "not_offered"
    assert await store.return_offer(10, 1, 5, NOW) == "not_due"
    assert await store.due_offers(NOW + 30_000) == [10]
    assert await store.return_offer(10, 1, 5, NOW + 30_000) == "ok"  # lapsed
    assert await load(redis, 1) == (0, 0)
    assert await store.excluded(10) == {1}
    assert await store.queue_ids(5) == [10, 11]  # back at its original place
    assert await store.due_offers(NOW + 99_000) == []
    # Decline.
    await store.claim(10, 5, [2], offer_deadline_ms=NOW + 30_000, now_ms=NOW)
    assert await store.return_offer(10, 2, 5, None) == "ok"
    assert await store.excluded(10) == {1, 2}
    # Accept.
    await store.claim(11, 5, [1], offer_deadline_ms=NOW + 30_000, now_ms=NOW)
    assert await store.accept(11, 1) == "ok"
    assert await store.accept(11, 1) == "not_offered"
    assert await store.return_offer(11, 1, 5, None) == "not_offered"
    assert await store.due_offers(NOW + 99_000) == []


async def test_requeue_front_only_if_offline(store: Store, redis: aioredis.Redis) -> None:
    await seed_agent(redis, 1, [5])
    await store.enqueue(Item(10, 5, "chat", arrival=1.0))
    await store.enqueue(Item(11, 5, "chat", arrival=2.0))
    await store.claim(11, 5, [1], offer_deadline_ms=None, now_ms=NOW)
    c = await store.conv(11)
    assert c is not None
    assert await store.requeue(c, 1, 5, front=True, only_if_offline=True, exclude=False) == \
        "alive"
    await redis.delete(keys.heartbeat(1))
    assert await store.requeue(c, 1, 5, front=True, only_if_offline=True, exclude=False) == "ok"
    assert await store.queue_ids(5) == [11, 10]
    assert await load(redis, 1) == (0, 0)
    again = await store.conv(11)
    assert again is not None and again.item().front
    assert await store.requeue(c, 1, 5, front=True, only_if_offline=True, exclude=False) == \
        "not_held"


async def test_transfer_rules(store: Store, redis: aioredis.Redis) -> None:
    await seed_agent(redis, 1, [5])
    await seed_agent(redis, 2, [5], max_chats=1)
    await seed_agent(redis, 3, [6])
    await seed_agent(redis, 4, [5], online=False)
    for c in (10, 11):
        await store.enqueue(Item(c, 5, "chat"))
    await store.claim(10, 5, [1], offer_deadline_ms=None, now_ms=NOW)
    await store.claim(11, 5, [2], offer_deadline_ms=None, now_ms=NOW)
    assert await store.transfer(10, 1, 1, 5) == "same_agent"
    assert await store.transfer(10, 2, 1, 5) == "not_held"
    assert await store.transfer(10, 1, 4, 5) == "offline"
    assert await store.transfer(10, 1, 3, 5) == "inactive"
    assert await store.transfer(10, 1, 2, 5) == "at_capacity"
    assert await store.transfer(10, 1, 3, 6) == "ok"
    moved = await store.conv(10)
    assert moved is not None and (moved.agent_id, moved.group_id) == (3, 6)
    assert await load(redis, 1) == (0, 0) and await load(redis, 3) == (1, 0)


async def test_release(store: Store, redis: aioredis.Redis) -> None:
    await seed_agent(redis, 1, [5])
    await store.enqueue(Item(10, 5, "email"))
    await store.enqueue(Item(11, 5, "chat"))
    await store.claim(10, 5, [1], offer_deadline_ms=None, now_ms=NOW)
    c10, c11 = await store.conv(10), await store.conv(11)
    assert c10 is not None and c11 is not None
    assert await load(redis, 1) == (0, 1)
    assert await store.release(c11) == "ok"  # left the queue
    assert await store.queue_ids(5) == []
    assert await store.release(c10) == "ok"
    assert await load(redis, 1) == (0, 0)
    assert await store.conv(10) is None
    assert await store.release(c10) == "unknown"
