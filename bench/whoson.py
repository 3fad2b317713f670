"""``python -m bench.whoson``: tracked visitors moving through one site, agents watching the list.

Brings up a private redis-server, a throwaway SQLite database and one web process. ``--visitors``
widget sockets (authenticated with tokens written straight to the records) each report a page
view every 5 to 30 s (uniformly drawn; the first within the first interval, so visits do not all
begin at once), and ``--agents`` console sockets watch the site's list, agent ``i`` following
page ``i % --pages`` (50 rows each). Every page view carries its send time in its address; an
agent's push latency is its receipt time minus that, for each row it is sent.

The default visitor count fits the machine's two cores together with the load generator; the
issue's figure is ``--visitors 10000`` (it needs about four minutes, mostly opening the sockets).

Last line: JSON with visitors, updates_per_s (page views sent per second), agent_push_p99_ms
(and p50), agent_frames_per_s (deltas per second over all agents), server_cpu_cores (the web
process and Redis, over the measured window), generator_late_p99_ms (how far this load
generator fell behind its own schedule: large, it was starved of CPU and the latencies it
measures include that) and the details.
"""

from __future__ import annotations

import argparse
import asyncio
import heapq
import random
import secrets
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
import orjson

from bench.hub import (
    CONSOLE,
    PASSWORD,
    SECRET,
    SHOP,
    SITE_KEY,
    cpu_s,
    raise_nofile,
    start_web,
    stop,
    wait_ready,
)
from bench.wsload import WsClient, connect
from desk.embedded import free_port
from tests.support.redis_server import PrivateRedis
from tests.support.stats import percentile

PAGE = 50


async def seed(database_url: str, agents: int, visitors: int) -> list[str]:
    """Site, group, agents and ``visitors`` anonymous contacts; returns the visitors' tokens."""
    from desk.auth import hash_password, issue_visitor_token
    from desk.db import make_engine, make_sessionmaker
    from desk.models import Agent, AgentGroup, Contact, Department, Group, Site
    from desk.schema import create_all
    from desk.settings import Settings

    settings = Settings(database_url=database_url, secret_key=SECRET)
    engine = make_engine(settings)
    await create_all(engine)
    sm = make_sessionmaker(engine)
    h = hash_password(PASSWORD)
    async with sm() as s:
        dept = Department(name="Bench")
        s.add(dept)
        await s.flush()
        group = Group(department_id=dept.id, name="G")
        site = Site(key=SITE_KEY, name="Bench", allowed_origins=[SHOP])
        s.add_all([group, site])
        await s.flush()
        s.add_all([Agent(email=f"a{i}@bench.test", display_name=f"A{i}", password_hash=h,
                         groups=[AgentGroup(group_id=group.id)]) for i in range(agents)])
        contacts = [Contact(name=f"V{i}", token_nonce=secrets.token_hex(16), site_id=site.id)
                    for i in range(visitors)]
        s.add_all(contacts)
        await s.commit()
        tokens = [issue_visitor_token(settings, c.id, c.token_nonce) for c in contacts]
    await engine.dispose()
    return tokens


class Watcher:
    def __init__(self, latencies: list[float]) -> None:
        self.latencies = latencies
        self.stamps: dict[int, str] = {}  # visitor -> the send stamp of the row last shown
        self.frames = 0
        self.ready: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.measuring = False

    def on_text(self, data: bytes, now: float) -> None:
        frame = orjson.loads(data)
        kind = frame["type"]
        if kind == "welcome" and not self.ready.done():
            self.ready.set_result(None)
        elif kind == "visitors":
            self.stamps = {r["visitor_id"]: r["url"].rsplit("t=", 1)[-1] for r in frame["rows"]}
        elif kind == "visitors_delta":
            self.frames += self.measuring
            wall = time.time() * 1000
            for row in frame["upserts"]:
                # An update of a row already shown; a row entering the page (its order moved)
                # carries an older page view, and is not an update's latency.
                sent = row["url"].rsplit("t=", 1)[-1]
                before = self.stamps.get(row["visitor_id"])
                self.stamps[row["visitor_id"]] = sent
                if self.measuring and before is not None and before != sent and sent.isdigit():
                    self.latencies.append(wall - int(sent))


class Visitor:
    def __init__(self) -> None:
        self.ready: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.ws: WsClient | None = None

    def on_text(self, data: bytes, now: float) -> None:
        if not self.ready.done() and data.startswith(b'{"type":"welcome"'):
            self.ready.set_result(None)


async def open_visitors(port: int, tokens: list[str], concurrency: int) -> list[Visitor]:
    """Every visitor's socket, authenticated; one that gets no welcome is tried again (a loaded
    machine drops the odd connection attempt), then left out (the count says so)."""
    sem = asyncio.Semaphore(concurrency)

    async def one(i: int) -> Visitor | None:
        for _ in range(3):
            v = Visitor()
            async with sem:
                try:
                    v.ws = await connect("127.0.0.1", port, f"/ws/visitor?site={SITE_KEY}",
                                         {"Origin": SHOP}, v.on_text,
                                         local_host=f"127.0.0.{2 + i // 5000}")
                    v.ws.send(orjson.dumps({"type": "auth", "token": tokens[i]}))
                    await asyncio.wait_for(v.ready, 20)
                    return v
                except (TimeoutError, OSError):
                    if v.ws is not None:
                        v.ws.close()
        return None

    found = await asyncio.gather(*(one(i) for i in range(len(tokens))))
    return [v for v in found if v is not None]


async def open_agents(n: int, base: str, port: int, pages: int,
                      latencies: list[float]) -> list[Watcher]:
    async with httpx.AsyncClient(timeout=60) as http:
        cookies = []
        for i in range(n):  # one at a time: each login writes a session (SQLite: one writer)
            r = await http.post(base + "/api/auth/login", headers={"Origin": CONSOLE},
                                json={"email": f"a{i}@bench.test", "password": PASSWORD})
            r.raise_for_status()
            cookies.append(r.cookies["sb_session"])
    out = []
    for i, cookie in enumerate(cookies):
        w = Watcher(latencies)
        ws = await connect("127.0.0.1", port, "/ws/agent",
                           {"Origin": CONSOLE, "Cookie": f"sb_session={cookie}"}, w.on_text)
        await asyncio.wait_for(w.ready, 30)
        ws.send(orjson.dumps({"type": "watch_visitors", "offset": (i % pages) * PAGE,
                              "limit": PAGE}))
        out.append(w)
    return out


async def move(visitors: list[Visitor], until: float, lo: float, hi: float,
               sent: list[int], late: list[float]) -> None:
    """Each visitor reports a page every lo..hi seconds until ``until`` (loop time); ``late``
    gets how far behind its schedule each send went (the generator's own lag, in ms)."""
    loop = asyncio.get_running_loop()
    rng = random.Random(7)
    due = [(loop.time() + rng.uniform(0, hi), i) for i in range(len(visitors))]
    heapq.heapify(due)
    while due:
        at, i = due[0]
        if at >= until:
            return
        now = loop.time()
        if at > now:
            await asyncio.sleep(min(at - now, 0.05))
            continue
        heapq.heappop(due)
        late.append((now - at) * 1000)
        ws = visitors[i].ws
        if ws is not None:
            page, stamp = rng.randrange(40), int(time.time() * 1000)
            ws.send(orjson.dumps({"type": "page_view", "title": f"Page {page}",
                                  "url": f"https://shop.bench/p{page}?t={stamp}"}))
            sent[0] += 1
        heapq.heappush(due, (at + rng.uniform(lo, hi), i))


async def measure(args: argparse.Namespace, tmp: Path, redis: PrivateRedis) -> dict[str, Any]:
    db_url = f"sqlite+aiosqlite:///{tmp / 'bench.db'}"
    tokens = await seed(db_url, args.agents, args.visitors)
    port = free_port()
    env = {"SWITCHBOARD_MODE": "test", "SWITCHBOARD_SECRET_KEY": SECRET,
           "SWITCHBOARD_DATA_DIR": str(tmp / "w"), "SWITCHBOARD_PORT": str(port),
           "SWITCHBOARD_CONSOLE_ORIGINS": CONSOLE, "SWITCHBOARD_LOG_LEVEL": "warning",
           "SWITCHBOARD_LOGIN_ATTEMPTS_PER_MIN": "10000",
           "SWITCHBOARD_VISIT_PUSH_MS": str(args.push_ms),
           "DATABASE_URL": db_url, "REDIS_URL": redis.url()}
    web = start_web(env, tmp / "w.log")
    procs = [web]
    try:
        base = f"http://127.0.0.1:{port}"
        await wait_ready(base, web)
        t0 = time.perf_counter()
        visitors = await open_visitors(port, tokens, args.concurrency)
        print(f"{len(visitors)} visitors in {time.perf_counter() - t0:.1f} s", file=sys.stderr)
        latencies: list[float] = []
        agents = await open_agents(args.agents, base, port, args.pages, latencies)
        print(f"web process {web.pid}: moving, measuring after {args.warmup} s", file=sys.stderr)
        loop = asyncio.get_running_loop()
        sent: list[int] = [0]
        late: list[float] = []
        start = loop.time()
        end = start + args.warmup + args.seconds
        mover = asyncio.create_task(move(visitors, end, args.min_s, args.max_s, sent, late))
        await asyncio.sleep(args.warmup)
        for a in agents:
            a.measuring = True
        sent_at_start, cpu0, wall0 = sent[0], cpu_s([web.pid, redis.pid]), time.perf_counter()
        await mover
        await asyncio.sleep(args.push_ms / 1000 * 2)  # the last pushes
        wall = time.perf_counter() - wall0
        cpu = cpu_s([web.pid, redis.pid]) - cpu0
        updates = sent[0] - sent_at_start
        frames = sum(a.frames for a in agents)
        return {
            "visitors": len(visitors), "visitors_asked": args.visitors,
            "updates_per_s": round(updates / args.seconds, 1),
            "agent_push_p50_ms": round(percentile(latencies, 0.5), 1) if latencies else None,
            "agent_push_p99_ms": round(percentile(latencies, 0.99), 1) if latencies else None,
            "agent_frames_per_s": round(frames / wall, 1),
            "generator_late_p99_ms": round(percentile(late, 0.99), 1) if late else None,
            "server_cpu_cores": round(cpu / wall, 3),
            "agents": args.agents, "pages_watched": args.pages, "rows_pushed": len(latencies),
            "push_ms": args.push_ms, "seconds": args.seconds,
            "move_every_s": [args.min_s, args.max_s],
        }
    except BaseException:
        print((tmp / "w.log").read_text(errors="replace")[-3000:], file=sys.stderr)
        raise
    finally:
        stop(procs)


async def main(args: argparse.Namespace) -> dict[str, Any]:
    raise_nofile()
    tmp = Path(tempfile.mkdtemp(prefix="bench-whoson-"))
    try:
        with PrivateRedis() as redis:
            return await measure(args, tmp, redis)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def parse(argv: list[str] | None = None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--visitors", type=int, default=2000)
    ap.add_argument("--agents", type=int, default=50)
    ap.add_argument("--pages", type=int, default=10, help="distinct list pages the agents watch")
    ap.add_argument("--seconds", type=float, default=20.0)
    ap.add_argument("--warmup", type=float, default=30.0, help="every visit begun by then")
    ap.add_argument("--min-s", type=float, default=5.0)
    ap.add_argument("--max-s", type=float, default=30.0)
    ap.add_argument("--push-ms", type=int, default=250)
    ap.add_argument("--concurrency", type=int, default=20, help="visitor sockets opening")
    args = ap.parse_args(argv)
    if args.warmup < args.max_s:
        ap.error("--warmup must be at least --max-s: the first page view of a visit comes "
                 "within --max-s, and visits beginning are not the load measured")
    return args


if __name__ == "__main__":
    print(orjson.dumps(asyncio.run(main(parse()))).decode())
