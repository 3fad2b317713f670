"""Router benchmark: atomic assignments per second under contention, with a private Redis.

    python -m bench.router [--seconds 5] [--rate 12000] [--procs 2] [--agents 20]

Starts its own redis-server on a free loopback port, queues enough conversations for the run,
then several client processes drive the assignment path open-loop (attempts are scheduled at a
fixed rate; latency counts from the scheduled time, so queueing delay is included). Each attempt
ranks the group's agents with the pure policy over a snapshot of loads (refreshed every 50 ms,
like a dispatcher would) and runs the claim script. One attempt in ``--dup-every`` deliberately
targets a conversation that is already taken, which must be refused. The record write that the
Router adds per assignment is not part of this figure.

Last line: JSON with ``assignments_per_s``, ``p99_ms``, ``double_assignments``,
``capacity_violations``, ``attempts`` (plus latency percentiles and Redis CPU seconds).

The process-level driver (``run_worker``) and ``PrivateRedis`` are reused by the contention and
restart tests in tests/routing.
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import os
import random
import shutil
import socket
import subprocess
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson
import redis
import redis.asyncio as aioredis

from routing import keys
from routing.policy import AgentView, Item, Policy, decide
from routing.store import Store

GROUP = 1


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class PrivateRedis:
    """A redis-server of our own on a free loopback port, in a temporary directory."""

    def __init__(self, binary: str = "/usr/bin/redis-server") -> None:
        self.binary = binary if Path(binary).exists() else (shutil.which("redis-server") or binary)
        self.port = free_port()
        self.dir = tempfile.mkdtemp(prefix="sb-redis-")
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        self.proc = subprocess.Popen(
            [self.binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
             "--appendonly", "no", "--dir", self.dir, "--daemonize", "no", "--loglevel",
             "warning"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        client = redis.Redis(port=self.port)
        try:
            for _ in range(500):
                try:
                    client.ping()
                    return
                except redis.ConnectionError:
                    time.sleep(0.01)
            raise RuntimeError("private redis-server did not start")
        finally:
            client.close()

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.kill()
            self.proc.wait()
            self.proc = None

    def restart(self) -> None:
        """Kill and start again on the same port: every key is gone (no persistence)."""
        self.stop()
        self.start()

    def cpu_seconds(self) -> float:
        client = redis.Redis(port=self.port)
        try:
            info: Any = client.info("cpu")
            return float(info["used_cpu_user"]) + float(info["used_cpu_sys"])
        finally:
            client.close()

    def close(self) -> None:
        self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)

    def __enter__(self) -> PrivateRedis:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


@dataclass(frozen=True)
class WorkerPlan:
    url: str
    agent_ids: list[int]
    conv_ids: list[int]  # in the order this process attempts them
    concurrency: int = 64
    rate: float | None = None  # attempts/s for open loop; None = as fast as possible
    dup_every: int = 0  # every n-th attempt re-targets an earlier conversation
    ranked: bool = True  # rank with the policy (bench) or a random order of every agent (test)
    seed: int = 0


@dataclass
class WorkerResult:
    won: list[tuple[int, int]] = field(default_factory=list)
    attempts: int = 0
    latencies_ms: list[float] = field(default_factory=list)
    statuses: Counter[str] = field(default_factory=Counter)


def run_worker(plan: WorkerPlan) -> WorkerResult:
    """Entry point of one client process."""
    try:
        import uvloop

        return uvloop.run(_drive(plan))
    except ImportError:  # uvloop is optional: uvicorn[standard] brings it where it builds
        return asyncio.run(_drive(plan))


async def _drive(plan: WorkerPlan) -> WorkerResult:
    client = aioredis.Redis.from_url(plan.url, max_connections=plan.concurrency + 4)
    store = Store(client)
    rng = random.Random(plan.seed)
    result = WorkerResult()
    loads: dict[int, int] = dict.fromkeys(plan.agent_ids, 0)
    caps: dict[int, int] = dict.fromkeys(plan.agent_ids, 0)
    refreshed = 0.0
    cursor: int | None = None

    async def refresh() -> None:
        nonlocal refreshed
        snap = await store.snapshot(GROUP, plan.agent_ids, head=0)
        for a, live in snap.agents.items():
            loads[a], caps[a] = live.chats, live.max_chats
        refreshed = time.monotonic()

    def ranking(conv: int) -> list[int]:
        if not plan.ranked:
            return rng.sample(plan.agent_ids, len(plan.agent_ids))
        views = [AgentView(a, True, True, loads[a], 0, caps[a], 0) for a in plan.agent_ids]
        return list(decide(Policy.LEAST_LOADED, Item(conv, GROUP, "chat"), views, cursor).ranking)

    async def attempt(conv: int, due: float) -> None:
        nonlocal cursor
        res = await store.claim(conv, GROUP, ranking(conv), offer_deadline_ms=None,
                                now_ms=int(time.time() * 1000))
        result.latencies_ms.append((time.perf_counter() - due) * 1000)
        result.attempts += 1
        result.statuses[res.status] += 1
        if res.agent_id is not None:
            result.won.append((conv, res.agent_id))
            loads[res.agent_id] += 1
            cursor = res.agent_id

    await refresh()
    order = list(plan.conv_ids)
    if plan.dup_every:
        for i in range(plan.dup_every, len(order), plan.dup_every):
            order.insert(i, order[rng.randrange(i)])
    sem = asyncio.Semaphore(plan.concurrency)
    tasks: set[asyncio.Task[None]] = set()
    start = time.perf_counter()

    async def one(conv: int, due: float) -> None:
        async with sem:
            await attempt(conv, due)

    for i, conv in enumerate(order):
        due = time.perf_counter()
        if plan.rate:
            due = start + i / plan.rate
            delay = due - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
        elif len(tasks) >= plan.concurrency * 2:
            await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
        if plan.ranked and time.monotonic() - refreshed > 0.05:
            await refresh()
        task = asyncio.create_task(one(conv, due))
        tasks.add(task)
        task.add_done_callback(tasks.discard)
    if tasks:
        await asyncio.gather(*tasks)
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
                                          "max_tickets": 0})
        pipe.sadd(keys.agent_groups(a), str(GROUP))
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
    for conv, agent_set in owners.items():
        held.update(agent_set)
    for a in range(1, agents + 1):
        load = int(await client.hget(keys.agent(a), "chats") or 0)
        convs = await client.scard(keys.agent_convs(a))  # type: ignore[misc]
        if load > capacity or held[a] > capacity:
            violations += 1
        if load != held[a] or convs != held[a]:
            doubles += abs(load - held[a])
    await client.aclose()
    return doubles, violations, len(owners)


def percentile(values: list[float], q: float) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def main(argv: list[str] | None = None) -> dict[str, Any]:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--seconds", type=float, default=5.0)
    ap.add_argument("--rate", type=float, default=12_000.0, help="total attempts/s (open loop)")
    ap.add_argument("--procs", type=int, default=2)
    ap.add_argument("--agents", type=int, default=20)
    ap.add_argument("--concurrency", type=int, default=64, help="in-flight per process")
    ap.add_argument("--dup-every", type=int, default=10)
    args = ap.parse_args(argv)

    total = int(args.rate * args.seconds)
    conversations = total - total // max(args.dup_every, 1) if args.dup_every else total
    capacity = -(-conversations // args.agents)
    agent_ids = list(range(1, args.agents + 1))
    with PrivateRedis() as server:
        asyncio.run(seed(server.url, args.agents, capacity, conversations))
        ids = list(range(1, conversations + 1))
        plans = [
            WorkerPlan(server.url, agent_ids, ids[p::args.procs], args.concurrency,
                       args.rate / args.procs, args.dup_every, True, seed=p)
            for p in range(args.procs)
        ]
        cpu0 = server.cpu_seconds()
        t0 = time.perf_counter()
        ctx = multiprocessing.get_context("spawn")
        with ctx.Pool(args.procs) as pool:
            results = pool.map(run_worker, plans)
        elapsed = time.perf_counter() - t0
        cpu = server.cpu_seconds() - cpu0
        doubles, violations, assigned = asyncio.run(
            audit(server.url, results, args.agents, capacity))
    lat = [x for r in results for x in r.latencies_ms]
    statuses: Counter[str] = Counter()
    for r in results:
        statuses.update(r.statuses)
    report = {
        "assignments_per_s": round(assigned / elapsed, 1),
        "p50_ms": round(percentile(lat, 0.50), 3),
        "p99_ms": round(percentile(lat, 0.99), 3),
        "max_ms": round(max(lat, default=0.0), 3),
        "double_assignments": doubles,
        "capacity_violations": violations,
        "attempts": sum(r.attempts for r in results),
        "assigned": assigned,
        "conversations": conversations,
        "refused": dict(statuses),
        "seconds": round(elapsed, 2),
        "procs": args.procs,
        "target_rate": args.rate,
        "redis_cpu_s": round(cpu, 2),
        "redis_cpu_pct": round(100 * cpu / elapsed, 1),
        "cpus": os.cpu_count(),
    }
    print(orjson.dumps(report).decode())
    return report


if __name__ == "__main__":
    main()
