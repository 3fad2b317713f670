"""Many processes and callers claiming at once: exactly once, never over capacity."""

from __future__ import annotations

import asyncio
import multiprocessing
import random

import redis.asyncio as aioredis

from routing import keys
from tests.support.claims import GROUP, WorkerPlan, audit, run_worker, seed

PROCS = 4
AGENTS = 40
CAPACITY = 625
CONVERSATIONS = AGENTS * CAPACITY  # exactly the total capacity: every one must be placed


async def test_contention_exactly_once(redis_url: str, redis: aioredis.Redis) -> None:
    await seed(redis_url, AGENTS, CAPACITY, CONVERSATIONS)
    ids = list(range(1, CONVERSATIONS + 1))
    plans = []
    for p in range(PROCS):
        order = ids[:]
        random.Random(p).shuffle(order)  # every process attempts every conversation
        plans.append(WorkerPlan(redis_url, list(range(1, AGENTS + 1)), order,
                                concurrency=32, batch=8, seed=p))
    ctx = multiprocessing.get_context("spawn")
    loop = asyncio.get_running_loop()
    with ctx.Pool(PROCS) as pool:
        results = await loop.run_in_executor(None, pool.map, run_worker, plans)
    attempts = sum(r.attempts for r in results)
    assert attempts >= 100_000
    doubles, violations, assigned = await audit(redis_url, results, AGENTS, CAPACITY)
    assert (doubles, violations) == (0, 0)
    assert assigned == CONVERSATIONS
    assert await redis.zcard(keys.queue(GROUP)) == 0
    wins = sum(len(r.won) for r in results)
    assert wins == CONVERSATIONS
    for a in range(1, AGENTS + 1):
        assert int(await redis.hget(keys.agent(a), "chats") or 0) == CAPACITY
