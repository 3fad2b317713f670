"""Many client processes claiming conversations at once, straight on the Redis assignment path.

The driver of ``bench.router`` (throughput, latency) and of tests/routing/test_contention.py
(exactly once, never over capacity): ``seed`` a group, ``run_worker`` in each process with its
``WorkerPlan``, then ``audit`` what the callers were told against what Redis holds.
"""

from __future__ import annotations

import asyncio
import gc
import random
import time
from collections import Counter
from dataclasses import dataclass, field

import redis.asyncio as aioredis

from routing import keys
from routing.policy import AgentView, Item, Policy, decide
from routing.store import ClaimRequest, Store

GROUP = 1


@dataclass(frozen=True)
class WorkerPlan:
    url: str
    agent_ids: list[int]
    conv_ids: list[int]  # in the order this process attempts them
    concurrency: int = 64
    rate: float | None = None  # attempts/s for open loop; None = as fast as possible
    dup_every: int = 0  # every n-th attempt re-targets an earlier conversation
    top: int = 2  # ranked candidates passed to the claim script (it falls through them)
    batch: int = 16  # claims per pipelined round trip at most
    start_at: float = 0.0  # wall-clock time to begin, so every process starts together
    tick_s: float = 0.001  # open loop: longest a due attempt waits to join a batch
    seed: int = 0


@dataclass
class WorkerResult:
    won: list[tuple[int, int]] = field(default_factory=list)
    attempts: int = 0
    latencies_ms: list[float] = field(default_factory=list)
    statuses: Counter[str] = field(default_factory=Counter)
    began: float = 0.0  # wall clock
    ended: float = 0.0
    cpu_s: float = 0.0  # this process's CPU time during the run


def run_worker(plan: WorkerPlan) -> WorkerResult:
    """Entry point of one client process."""
    try:
        import uvloop

        return uvloop.run(_drive(plan))
    except ImportError:  # uvloop is optional: uvicorn[standard] brings it where it builds
        return asyncio.run(_drive(plan))


async def _drive(plan: WorkerPlan) -> WorkerResult:
    """Issue the plan's attempts in small pipelined batches, like a dispatcher draining a queue.

    Open loop: attempt ``i`` is due at ``start + i / rate`` whatever happened before; a batch
    takes every attempt already due (at most ``batch``). Each attempt is ranked with the policy
    on the process's view of loads, which counts its own batch provisionally, and is refreshed
    from Redis every 50 ms. An attempt that finds every ranked agent full is retried once after
    a refresh (up to three times, each counted as an attempt).
    """
    client = aioredis.Redis.from_url(plan.url, max_connections=plan.concurrency + 4)
    store = Store(client)
    rng = random.Random(plan.seed)
    result = WorkerResult()
    views: dict[int, AgentView] = {}
    state = {"refreshed": 0.0, "cursor": None}

    def bump(agent: int, by: int) -> None:
        v = views[agent]
        views[agent] = AgentView(agent, True, True, v.chats + by, 0, v.max_chats, 0)

    async def refresh() -> None:
        snap = await store.snapshot(GROUP, plan.agent_ids, head=0)
        for a, live in snap.agents.items():
            views[a] = AgentView(a, True, True, live.chats, 0, live.max_chats, 0)
        state["refreshed"] = time.monotonic()

    def ranking(conv: int) -> tuple[int, ...]:
        cursor = state["cursor"]
        decision = decide(Policy.LEAST_LOADED, Item(conv, GROUP, "chat"), list(views.values()),
                          cursor if isinstance(cursor, int) else None)
        if decision.agent_id is not None:
            bump(decision.agent_id, 1)  # provisional, undone if the claim goes elsewhere
            state["cursor"] = decision.agent_id
        return decision.ranking[:plan.top]

    retries: list[int] = []

    async def run_batch(batch: list[tuple[int, float]], sem: asyncio.Semaphore) -> None:
        async with sem:
            reqs = [ClaimRequest(conv, GROUP, ranking(conv)) for conv, _ in batch]
            outs = await store.claim_many(reqs, int(time.time() * 1000))
        done = time.perf_counter()
        for (conv, due), req, res in zip(batch, reqs, outs, strict=True):
            result.latencies_ms.append((done - due) * 1000)
            result.attempts += 1
            result.statuses[res.status] += 1
            guessed = req.ranking[0] if req.ranking else None
            if res.agent_id is not None:
                result.won.append((conv, res.agent_id))
            if guessed is not None and guessed != res.agent_id:
                bump(guessed, -1)
                if res.agent_id is not None:
                    bump(res.agent_id, 1)
            if res.status == "no_agent" and retried[conv] < 3:
                retried[conv] += 1
                retries.append(conv)
                state["refreshed"] = 0.0

    retried: Counter[int] = Counter()
    order = list(plan.conv_ids)
    if plan.dup_every:
        for i in range(plan.dup_every, len(order), plan.dup_every):
            order.insert(i, order[rng.randrange(i)])
    await refresh()
    sem = asyncio.Semaphore(plan.concurrency)
    tasks: set[asyncio.Task[None]] = set()
    await asyncio.sleep(max(0.0, plan.start_at - time.time()))
    gc.collect()
    gc.freeze()  # the load generator's own collector pauses are not the router's latency
    result.began = time.time()
    cpu0 = time.process_time()
    start = time.perf_counter()
    i = 0
    while i < len(order) or retries or tasks:
        if not plan.rate and len(tasks) >= plan.concurrency:
            await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
            continue
        if time.monotonic() - state["refreshed"] > 0.05:  # type: ignore[operator]
            await refresh()
        now = time.perf_counter()
        batch: list[tuple[int, float]] = [(c, now) for c in retries[:plan.batch]]
        del retries[:len(batch)]
        while i < len(order) and len(batch) < plan.batch:
            due = start + i / plan.rate if plan.rate else now
            if due > now:
                break
            batch.append((order[i], due))
            i += 1
        if batch:
            task = asyncio.create_task(run_batch(batch, sem))
            tasks.add(task)
            task.add_done_callback(tasks.discard)
        if plan.rate and i < len(order):
            # Wake at most every ``tick_s``: batching due attempts is what a busy dispatcher does.
            await asyncio.sleep(max(plan.tick_s, start + i / plan.rate - time.perf_counter()))
        elif not batch and tasks:
            await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
    result.ended = time.time()
    result.cpu_s = time.process_time() - cpu0
    await client.aclose()
    return result


async def seed(url: str, agents: int, capacity: int, conversations: int) -> None:
    """Epoch, ``agents`` online and active in GROUP, ``conversations`` chats queued."""
    client = aioredis.Redis.from_url(url)
    store = Store(client)
    await client.set(keys.epoch(), "bench")
    pipe = client.pipeline(transaction=False)
    for a in range(1, agents + 1):
        pipe.hset(keys.agent(a), mapping={"chats": 0, "tickets": 0, "max_chats": capacity,
                                          "max_tickets": 0, keys.active_field(GROUP): 1})
        pipe.set(keys.heartbeat(a), 1, px=600_000)
    await pipe.execute()
    base = time.time()
    for start in range(1, conversations + 1, 50):
        await asyncio.gather(*[
            store.enqueue(Item(c, GROUP, "chat", arrival=base + c / 1000))
            for c in range(start, min(start + 50, conversations + 1))
        ])
    await client.aclose()


async def audit(url: str, results: list[WorkerResult], agents: int,
                capacity: int) -> tuple[int, int, int]:
    """(double assignments, capacity violations, conversations assigned) checked two ways:
    what the callers were told, and what Redis holds."""
    owners: dict[int, set[int]] = {}
    for r in results:
        for conv, agent in r.won:
            owners.setdefault(conv, set()).add(agent)
    wins = sum(len(r.won) for r in results)
    doubles = wins - len(owners)
    client = aioredis.Redis.from_url(url)
    violations = 0
    held: Counter[int] = Counter()
    for agent_set in owners.values():
        held.update(agent_set)
    for a in range(1, agents + 1):
        load = int(await client.hget(keys.agent(a), "chats") or 0)
        convs = len(await Store(client).agent_convs(a))
        if load > capacity or held[a] > capacity:
            violations += 1
        if load != held[a] or convs != held[a]:
            doubles += abs(load - held[a])
    await client.aclose()
    return doubles, violations, len(owners)
