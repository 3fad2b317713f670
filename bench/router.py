"""Router benchmark: atomic assignments per second under contention, with a private Redis.

    python -m bench.router [--seconds 5] [--rate 11000] [--procs 2] [--agents 20] [--top 2]

Starts its own redis-server on a free loopback port, queues enough conversations for the run,
then several client processes drive the assignment path open-loop (attempts are scheduled at a
fixed rate; latency counts from the scheduled time, so queueing delay is included). Each attempt
ranks the group's agents with the pure policy over a snapshot of loads (refreshed every 50 ms,
like a dispatcher would) and runs the claim script with the ``--top`` best-ranked agents (it
falls through them if the first filled meanwhile); attempts already due are sent as one pipeline
(``Store.claim_many``; each claim is still its own atomic script). The Router's own dispatcher
claims one conversation per round trip and adds a record write, so this measures the Redis
assignment path's capacity, not an end-to-end dispatch. One attempt in ``--dup-every`` deliberately
targets a conversation that is already taken, which must be refused.

Last line: JSON with ``assignments_per_s``, ``p99_ms``, ``double_assignments``,
``capacity_violations``, ``attempts`` (plus latency percentiles and Redis CPU seconds).

The process-level driver is tests/support/claims.py, shared with the contention test.
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import os
import time
from collections import Counter
from typing import Any

import orjson

from tests.support.claims import WorkerPlan, audit, run_worker, seed
from tests.support.redis_server import PrivateRedis
from tests.support.stats import percentile


def main(argv: list[str] | None = None) -> dict[str, Any]:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--seconds", type=float, default=5.0)
    ap.add_argument("--rate", type=float, default=11_000.0, help="total attempts/s (open loop)")
    ap.add_argument("--procs", type=int, default=2)
    ap.add_argument("--agents", type=int, default=20)
    ap.add_argument("--concurrency", type=int, default=64, help="in-flight per process")
    ap.add_argument("--dup-every", type=int, default=20,
                    help="every n-th attempt re-targets a taken conversation (must be refused)")
    ap.add_argument("--top", type=int, default=2, help="ranked candidates per claim")
    ap.add_argument("--tick-ms", type=float, default=1.0,
                    help="longest a due attempt waits to join the next pipelined batch")
    args = ap.parse_args(argv)

    total = int(args.rate * args.seconds)
    conversations = total - total // max(args.dup_every, 1) if args.dup_every else total
    capacity = -(-conversations // args.agents)
    agent_ids = list(range(1, args.agents + 1))
    with PrivateRedis() as server:
        asyncio.run(seed(server.url(), args.agents, capacity, conversations))
        ids = list(range(1, conversations + 1))
        start_at = time.time() + 2.0  # after the spawned processes have imported
        plans = [
            WorkerPlan(server.url(), agent_ids, ids[p::args.procs], args.concurrency,
                       args.rate / args.procs, args.dup_every, args.top, seed=p,
                       start_at=start_at, tick_s=args.tick_ms / 1000)
            for p in range(args.procs)
        ]
        ctx = multiprocessing.get_context("spawn")
        with ctx.Pool(args.procs) as pool:
            pending = pool.map_async(run_worker, plans)
            time.sleep(max(0.0, start_at - time.time()))
            cpu0 = server.cpu_seconds()
            results = pending.get()
            cpu = server.cpu_seconds() - cpu0
        elapsed = max(r.ended for r in results) - min(r.began for r in results)
        doubles, violations, assigned = asyncio.run(
            audit(server.url(), results, args.agents, capacity))
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
        "client_cpu_s": round(sum(r.cpu_s for r in results), 2),
        "client_cpu_us_per_attempt": round(
            1e6 * sum(r.cpu_s for r in results) / max(sum(r.attempts for r in results), 1), 1),
        "loadavg_1m": os.getloadavg()[0],
        "cpus": os.cpu_count(),
    }
    print(orjson.dumps(report).decode())
    return report


if __name__ == "__main__":
    main()
