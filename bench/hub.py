"""``python -m bench.hub``: two web processes, visitor/agent pairs across them, open-loop load.

Brings up a private redis-server and a SQLite database in a temp dir (``--postgres URL`` to use
PostgreSQL instead), two uvicorn web processes (visitors on A, agents on B, so every message
crosses Redis), then:

1. a rate ladder: for each rate, messages are sent on a fixed schedule (open loop: the schedule
   never waits for replies) from visitors, spread over the pairs; latency is visitor send ->
   agent receive; every message is persisted (ack with seq) before it is delivered;
2. lost / duplicated: every client_id sent must reach its agent exactly once;
3. idle connections: RSS growth of process A per idle authenticated visitor socket.

Last line: JSON with rate, p50_ms, p99_ms (at ``--rate``), lost, duplicated,
rss_kib_per_idle_conn, max_rate_p99_under_10ms.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import resource
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
import orjson
from websockets.asyncio.client import ClientConnection, connect

PASSWORD = "bench password 123"
SHOP = "http://shop.bench"
CONSOLE = "http://console.bench"
SITE_KEY = "site_bench"
ROOT = Path(__file__).resolve().parents[1]


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def raise_nofile() -> None:
    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


async def seed(database_url: str, agents: int) -> None:
    from desk.auth import hash_password
    from desk.db import make_engine, make_sessionmaker
    from desk.models import Agent, AgentGroup, Department, Group, Site
    from desk.schema import create_all
    from desk.settings import Settings

    settings = Settings(database_url=database_url)
    engine = make_engine(settings)
    await create_all(engine)
    sm = make_sessionmaker(engine)
    h = hash_password(PASSWORD)
    async with sm() as s:
        dept = Department(name="Bench")
        s.add(dept)
        await s.flush()
        group = Group(department_id=dept.id, name="G")
        s.add(group)
        await s.flush()
        dept.front_group_id = group.id
        s.add(Site(key=SITE_KEY, name="Bench", allowed_origins=[SHOP]))
        for i in range(agents):
            s.add(Agent(email=f"a{i}@bench.test", display_name=f"A{i}", password_hash=h,
                        chat_capacity=1000, groups=[AgentGroup(group_id=group.id)]))
        await s.commit()
    await engine.dispose()


def start_web(env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    code = ("import os; from desk.settings import Settings; from realtime.server import serve; "
            "serve(Settings.from_env(os.environ))")
    with log.open("wb") as out:
        return subprocess.Popen([sys.executable, "-c", code], env=env, cwd=ROOT, stdout=out,
                                stderr=subprocess.STDOUT, start_new_session=True)


async def wait_ready(url: str, proc: subprocess.Popen[bytes]) -> None:
    async with httpx.AsyncClient() as http:
        for _ in range(300):
            if proc.poll() is not None:
                raise RuntimeError(f"web process exited ({proc.returncode})")
            with contextlib.suppress(httpx.HTTPError):
                if (await http.get(url + "/readyz")).status_code == 200:
                    return
            await asyncio.sleep(0.1)
    raise TimeoutError(url)


class Pair:
    def __init__(self, visitor: ClientConnection, agent: ClientConnection, cid: int) -> None:
        self.visitor = visitor
        self.agent = agent
        self.cid = cid


async def recv_json(ws: ClientConnection) -> dict[str, Any]:
    frame: dict[str, Any] = orjson.loads(await ws.recv())
    return frame


async def expect(ws: ClientConnection, kind: str) -> dict[str, Any]:
    while True:
        frame = await asyncio.wait_for(recv_json(ws), 10)
        if frame["type"] == kind:
            return frame


async def visitor_token(base: str, i: int) -> str:
    # Visitor sessions are rate limited per client address: spread over 127.0.0.x.
    transport = httpx.AsyncHTTPTransport(local_address=f"127.0.0.{2 + i // 25}")
    async with httpx.AsyncClient(transport=transport) as http:
        r = await http.post(base + "/api/visitor/session", json={"site_key": SITE_KEY},
                            headers={"Origin": SHOP})
    token: str = r.json()["token"]
    return token


async def visitor(base: str, ws_base: str, i: int) -> ClientConnection:
    token = await visitor_token(base, i)
    ws = await connect(f"{ws_base}/ws/visitor?site={SITE_KEY}", origin=SHOP,  # type: ignore[arg-type]
                       max_queue=None)
    await ws.send(orjson.dumps({"type": "auth", "token": token}).decode())
    await expect(ws, "welcome")
    return ws


async def make_pairs(n: int, agents: int, a: str, b: str) -> list[Pair]:
    pairs = []
    async with httpx.AsyncClient() as http:
        agent_ws = []
        for i in range(agents):
            r = await http.post(b + "/api/auth/login", headers={"Origin": CONSOLE},
                                json={"email": f"a{i}@bench.test", "password": PASSWORD})
            cookie = {"Cookie": f"sb_session={r.cookies['sb_session']}"}
            ws = await connect(b.replace("http", "ws") + "/ws/agent", origin=CONSOLE,  # type: ignore[arg-type]
                               additional_headers=cookie, max_queue=None)
            await expect(ws, "welcome")
            agent_ws.append(ws)
        for i in range(n):
            v = await visitor(a, a.replace("http", "ws"), i)
            await v.send(orjson.dumps({"type": "start_chat", "client_id": "start", "text": "",
                                       "department_id": 1}).decode())
            cid = (await expect(v, "started"))["conversation_id"]
            ag = agent_ws[i % agents]
            await ag.send(orjson.dumps({"type": "accept", "conversation_id": cid}).decode())
            await expect(ag, "done")
            pairs.append(Pair(v, ag, cid))
    return pairs


async def drain(ws: ClientConnection, sink: dict[str, list[float]]) -> None:
    """Record receive times of every message frame by client_id (agents' side)."""
    with contextlib.suppress(Exception):
        async for raw in ws:
            now = time.perf_counter()
            if b'"type":"message"' not in (raw if isinstance(raw, bytes) else raw.encode()):
                continue
            frame = orjson.loads(raw)
            cid = frame.get("client_id") or ""
            if cid.startswith("L"):
                sink.setdefault(cid, []).append(now)


async def discard(ws: ClientConnection) -> None:
    with contextlib.suppress(Exception):
        async for _ in ws:
            pass


async def run_rate(pairs: list[Pair], rate: float, seconds: float, tag: str,
                   sink: dict[str, list[float]]) -> tuple[list[float], int, int]:
    sent: dict[str, float] = {}
    total = int(rate * seconds)
    start = time.perf_counter()
    for i in range(total):
        due = start + i / rate
        delay = due - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        pair = pairs[i % len(pairs)]
        cid = f"L{tag}-{i}"
        sent[cid] = due  # open loop: latency counts from the scheduled time
        await pair.visitor.send(orjson.dumps({"type": "message", "conversation_id": pair.cid,
                                              "client_id": cid, "text": "hello bench"}).decode())
    deadline = time.perf_counter() + 5
    # Polls a dict the reader tasks fill; an Event per message would cost more than it saves.
    while time.perf_counter() < deadline and sum(1 for c in sent if c in sink) < total:  # noqa: ASYNC110
        await asyncio.sleep(0.05)
    lat = sorted((sink[c][0] - t) * 1000 for c, t in sent.items() if c in sink)
    lost = sum(1 for c in sent if c not in sink)
    dup = sum(len(sink[c]) - 1 for c in sent if c in sink)
    return lat, lost, dup


def pct(values: list[float], q: float) -> float:
    if not values:
        return float("inf")
    return values[min(len(values) - 1, int(q * len(values)))]


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


async def idle_rss(a: str, pid: int, count: int) -> float:
    token = await visitor_token(a, 250 * 25)
    auth = orjson.dumps({"type": "auth", "token": token}).decode()
    ws_url = a.replace("http", "ws") + f"/ws/visitor?site={SITE_KEY}"
    socks: list[ClientConnection] = []
    warm = await connect(ws_url, origin=SHOP)  # type: ignore[arg-type]
    await warm.send(auth)
    await expect(warm, "welcome")
    await asyncio.sleep(0.5)
    before = rss_kib(pid)
    sem = asyncio.Semaphore(200)

    async def one() -> None:
        async with sem:
            ws = await connect(ws_url, origin=SHOP, max_queue=1)  # type: ignore[arg-type]
            await ws.send(auth)
            await expect(ws, "welcome")
            socks.append(ws)

    await asyncio.gather(*(one() for _ in range(count)))
    await asyncio.sleep(1.0)
    after = rss_kib(pid)
    await asyncio.gather(*(s.close() for s in socks), return_exceptions=True)
    await warm.close()
    return (after - before) / max(1, len(socks))


async def main(args: argparse.Namespace) -> dict[str, Any]:
    raise_nofile()
    tmp = Path(tempfile.mkdtemp(prefix="bench-hub-"))
    procs: list[subprocess.Popen[bytes]] = []
    try:
        redis_port = free_port()
        procs.append(subprocess.Popen(  # noqa: ASYNC220 - start-up, before any load
            ["redis-server", "--port", str(redis_port), "--bind", "127.0.0.1", "--save", "",
             "--appendonly", "no", "--dir", str(tmp)], stdout=subprocess.DEVNULL))
        db = args.postgres or f"sqlite+aiosqlite:///{tmp / 'bench.db'}"
        await seed(db, args.agents)
        ports = [free_port(), free_port()]
        base_env = {k: v for k, v in os.environ.items() if not k.startswith("SWITCHBOARD_")}
        for i, port in enumerate(ports):
            env = {**base_env, "SWITCHBOARD_MODE": "test", "SWITCHBOARD_SECRET_KEY": "b" * 40,
                   "SWITCHBOARD_DATA_DIR": str(tmp / f"w{i}"), "SWITCHBOARD_PORT": str(port),
                   "SWITCHBOARD_CONSOLE_ORIGINS": CONSOLE, "SWITCHBOARD_LOG_LEVEL": "warning",
                   "DATABASE_URL": db, "REDIS_URL": f"redis://127.0.0.1:{redis_port}/0"}
            procs.append(start_web(env, tmp / f"w{i}.log"))
        a, b = (f"http://127.0.0.1:{p}" for p in ports)
        await asyncio.gather(wait_ready(a, procs[1]), wait_ready(b, procs[2]))
        pairs = await make_pairs(args.pairs, args.agents, a, b)
        sink: dict[str, list[float]] = {}
        readers = [asyncio.create_task(drain(ag, sink))
                   for ag in {id(p.agent): p.agent for p in pairs}.values()]
        readers += [asyncio.create_task(discard(p.visitor)) for p in pairs]
        ladder = sorted({*args.ladder, args.rate})
        results: dict[float, tuple[float, float]] = {}
        lost = dup = 0
        for rate in ladder:
            lat, l_, d_ = await run_rate(pairs, rate, args.seconds, str(rate), sink)
            lost += l_
            dup += d_
            results[rate] = (pct(lat, 0.5), pct(lat, 0.99))
            print(f"rate {rate:>6.0f}/s p50 {results[rate][0]:7.2f} ms "
                  f"p99 {results[rate][1]:7.2f} ms lost {l_} dup {d_}", file=sys.stderr)
        for t in readers:
            t.cancel()
        per_conn = await idle_rss(a, procs[1].pid, args.idle)
        ok = [r for r, (_, p99) in results.items() if p99 <= 10.0]
        return {"rate": args.rate, "p50_ms": round(results[args.rate][0], 2),
                "p99_ms": round(results[args.rate][1], 2), "lost": lost, "duplicated": dup,
                "rss_kib_per_idle_conn": round(per_conn, 1), "idle_conns": args.idle,
                "max_rate_p99_under_10ms": max(ok) if ok else 0,
                "pairs": args.pairs, "database": "postgresql" if args.postgres else "sqlite"}
    finally:
        for proc in reversed(procs):
            with contextlib.suppress(ProcessLookupError):
                proc.send_signal(signal.SIGTERM)
        for proc in procs:
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pairs", type=int, default=50)
    parser.add_argument("--agents", type=int, default=10)
    parser.add_argument("--rate", type=float, default=2000)
    parser.add_argument("--ladder", type=float, nargs="*", default=[500, 1000, 3000, 5000])
    parser.add_argument("--seconds", type=float, default=3.0)
    parser.add_argument("--idle", type=int, default=2000)
    parser.add_argument("--postgres", default=None, help="postgresql+asyncpg://... database URL")
    print(orjson.dumps(asyncio.run(main(parser.parse_args()))).decode())
