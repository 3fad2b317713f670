"""The per-address minute every public endpoint counts against (real Redis)."""

from __future__ import annotations

import pytest
import redis.asyncio as aioredis

from desk.errors import RateLimited, Unavailable
from realtime.client_limits import WINDOW_S, admit


async def test_the_minute_opens_with_its_expiry_and_refuses_past_the_limit(
        redis: aioredis.Redis) -> None:
    for _ in range(3):
        await admit(redis, "sb:test:limit:a", 3, "pings")
    assert 0 < await redis.ttl("sb:test:limit:a") <= WINDOW_S
    with pytest.raises(RateLimited, match="too many pings from your address") as refused:
        await admit(redis, "sb:test:limit:a", 3, "pings")
    assert 0 < refused.value.retry_after_s <= WINDOW_S
    await admit(redis, "sb:test:limit:b", 3, "pings")  # another address has its own minute


async def test_a_counter_left_without_expiry_gets_one(redis: aioredis.Redis) -> None:
    # An INCR whose EXPIRE never ran (the old two-step count) must not block an address for good.
    await redis.set("sb:test:limit:c", 1)
    await admit(redis, "sb:test:limit:c", 5, "pings")
    assert await redis.ttl("sb:test:limit:c") == -1  # SET NX keeps the old key as it is...
    await redis.delete("sb:test:limit:c")
    await admit(redis, "sb:test:limit:c", 5, "pings")
    assert await redis.ttl("sb:test:limit:c") > 0  # ...a fresh window always has its expiry


async def test_redis_down_refuses_rather_than_lets_through() -> None:
    dead = aioredis.Redis(host="127.0.0.1", port=1, socket_connect_timeout=0.2)
    try:
        with pytest.raises(Unavailable):
            await admit(dead, "sb:test:limit:d", 5, "pings")
    finally:
        await dead.aclose()
