"""``python -m bench.hub``: two web processes, visitor/agent pairs across them, open-loop load.

Brings up a private redis-server, a throwaway PostgreSQL database (``--sqlite`` for the embedded
SQLite instead) and two uvicorn web processes: every visitor on A, every agent on B, so each
message crosses Redis. The pairs' chats are written to the records already assigned (routing
has its own bench, ``bench.router``); visitors connect with their token, agents log in. Then:

1. a rate ladder: at each rate the visitors' messages go out on a schedule fixed in advance
   (open loop: the sender never waits for replies; if it falls behind, the lateness counts).
   Latency = the agent's receipt - the message's scheduled send time. Every message is stored
   (commit) before it is acknowledged and delivered;
2. lost / duplicated, counted over the messages the server acknowledged: each one must reach its
   agent exactly once. Refusals (rate limit) and unacknowledged sends are reported apart;
3. idle connections: ``--idle`` authenticated visitor sockets held on A; RSS growth per socket.

CPU is reported per rate for the servers (both web processes, Redis, the PostgreSQL backends of
the bench database), the load generator (this process) and everything else running on the
machine meanwhile (``other_cores``), in cores.

The default pair count keeps each visitor within the production per-connection message rate
(10/s, burst 30): 800 pairs at 8,000 msg/s, the top of the default ladder, is 10 msg/s per
visitor. ``max_rate_zero_loss`` is the highest rate up to which every rate of the ladder ran
with 0 lost, 0 duplicated, 0 unacknowledged and 0 refused (a rate skipped after two overloaded
ones ends it).

``server_cpu_us_per_msg`` is that server CPU (utime + stime from ``/proc/<pid>/stat``) divided by
the messages delivered at the rate: unlike the latencies, other load on the machine barely moves it.

``--web-processes 1 2`` runs the whole bench once per count, with that many visitor-side web
processes on one port (``switchboard web --processes``), agents still on one process; the JSON
then has ``scaling``: per count, the highest rate with p99 <= 50 ms (and <= 10 ms) and the CPU
per message.

Last line: JSON with rate, p50_ms, p99_ms, server_cpu_us_per_msg (at ``--rate``), lost, duplicated,
rss_kib_per_idle_conn, max_rate_p99_under_10ms, max_rate_p99_under_50ms, max_rate_zero_loss and
the details.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import os
import resource
import secrets
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

from bench.wsload import WsClient, connect
from desk.embedded import free_port
from tests.support.databases import PostgresServer, drop_database
from tests.support.processes import ROOT, child_env
from tests.support.redis_server import PrivateRedis
from tests.support.stats import percentile

PASSWORD = "bench password 123"
SHOP = "http://shop.bench"
CONSOLE = "http://console.bench"
SITE_KEY = "site_bench"
SECRET = "b" * 40
CLK_TCK = os.sysconf("SC_CLK_TCK")


def raise_nofile() -> int:
    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    return hard


def cpu_s(pids: list[int]) -> float:
    total = 0
    for pid in pids:
        with contextlib.suppress(OSError):
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            total += int(fields[11]) + int(fields[12])
    return total / CLK_TCK


def busy_s() -> float:
    """CPU seconds the whole machine spent busy (all processes), from /proc/stat."""
    fields = Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]
    user, nice, system, _idle, _iowait, irq, softirq, steal = (int(f) for f in fields[:8])
    return (user + nice + system + irq + softirq + steal) / CLK_TCK


def pg_backends(dbname: str) -> list[int]:
    """PostgreSQL backend processes serving the bench database (titles name the database)."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            with contextlib.suppress(OSError):
                if f" {dbname} ".encode() in (entry / "cmdline").read_bytes():
                    found.append(int(entry.name))
    return found


def with_children(pid: int) -> list[int]:
    """A web process and, under ``--web-processes``, the web processes it supervises."""
    with contextlib.suppress(OSError):
        return [pid, *map(int, Path(f"/proc/{pid}/task/{pid}/children").read_text().split())]
    return [pid]


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


async def seed(database_url: str, agents: int, pairs: int) -> list[tuple[int, str]]:
    """Site, group, agents, and ``pairs`` live chats (contact + conversation assigned to an
    agent), written straight to the records: the message path is measured here, routing has
    its own bench. Returns each pair's (conversation id, visitor token)."""
    from desk.auth import hash_password, issue_visitor_token
    from desk.db import make_engine, make_sessionmaker
    from desk.models import Agent, AgentGroup, Contact, Conversation, Department, Group, Site
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
        dept.front_group_id = group.id
        staff = [Agent(email=f"a{i}@bench.test", display_name=f"A{i}", password_hash=h,
                       chat_capacity=100_000, groups=[AgentGroup(group_id=group.id)])
                 for i in range(agents)]
        contacts = [Contact(name=f"V{i}", token_nonce=secrets.token_hex(16))
                    for i in range(pairs)]
        s.add_all([*staff, *contacts])
        await s.flush()
        convs = [Conversation(number=f"SB-{2_000_000 + i}", channel="chat", status="active",
                              department_id=dept.id, group_id=group.id, site_id=site.id,
                              contact_id=c.id, assignee_id=staff[i % agents].id)
                 for i, c in enumerate(contacts)]
        s.add_all(convs)
        await s.commit()
        out = [(cv.id, issue_visitor_token(settings, c.id, c.token_nonce))
               for cv, c in zip(convs, contacts, strict=True)]
    await engine.dispose()
    return out


def start_web(env: dict[str, str], log: Path, processes: int = 1) -> subprocess.Popen[bytes]:
    """One web process, or ``processes`` of them on one port (``switchboard web --processes``)."""
    code = ("import os; from desk.settings import Settings; "
            "from realtime.server import serve_processes; "
            f"serve_processes(Settings.from_env(os.environ), {processes})")
    with log.open("wb") as out:
        return subprocess.Popen([sys.executable, "-c", code], env=child_env(env), cwd=ROOT,
                                stdout=out, stderr=subprocess.STDOUT, start_new_session=True)


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


class Peer:
    """One bench socket: futures for the frames the set-up waits on, counters for the load."""

    def __init__(self, stats: Stats) -> None:
        self.stats = stats
        self.waiting: dict[Any, asyncio.Future[dict[str, Any]]] = {}
        self.resuming: set[int] = set()
        self.ws: WsClient | None = None

    def expect(self, key: Any) -> asyncio.Future[dict[str, Any]]:
        fut = self.waiting[key] = asyncio.get_running_loop().create_future()
        return fut

    def _resolve(self, key: Any, frame: dict[str, Any]) -> None:
        fut = self.waiting.pop(key, None)
        if fut is not None and not fut.done():
            fut.set_result(frame)

    def on_text(self, data: bytes, now: float) -> None:
        if not self.is_agent and data.startswith(b'{"type":"message"'):
            return  # a visitor's own message coming back: only the ack is measured
        frame = orjson.loads(data)
        kind = frame["type"]
        stats = self.stats
        if kind == "message":
            cid = frame.get("client_id") or ""
            if cid.startswith("L") and frame["author_kind"] == "contact" and self.is_agent:
                got = stats.received.get(cid)
                if got is None:
                    stats.received[cid] = now
                else:
                    stats.duplicated += 1
        elif kind == "ack":
            stats.acked[frame["client_id"]] = now
        elif kind == "welcome":
            # Like the widget and the console: resume every conversation, then go live.
            self.resuming = set(frame["conversations"])
            for cid in self.resuming:
                send(self, {"type": "resume", "conversation_id": cid, "after_seq": 0})
            if not self.resuming:
                self._resolve("ready", frame)
        elif kind == "state":
            self.resuming.discard(frame["conversation_id"])
            if not self.resuming:
                self._resolve("ready", frame)
        elif kind == "error":
            if frame.get("code") == "rate_limited":
                stats.refused += 1
            else:
                stats.errors.append(frame)
            self._resolve(frame.get("ref"), frame)
        else:
            self._resolve(kind, frame)

    is_agent = False


class AgentPeer(Peer):
    is_agent = True


class Stats:
    def __init__(self) -> None:
        self.received: dict[str, float] = {}
        self.acked: dict[str, float] = {}  # client_id -> ack receipt time
        self.duplicated = 0
        self.refused = 0
        self.errors: list[dict[str, Any]] = []


class Pair:
    __slots__ = ("agent", "cid", "visitor")

    def __init__(self, visitor: Peer, agent: AgentPeer, cid: int) -> None:
        self.visitor, self.agent, self.cid = visitor, agent, cid


def send(peer: Peer, frame: dict[str, Any]) -> None:
    assert peer.ws is not None
    peer.ws.send(orjson.dumps(frame))


async def visitor_token(base: str, address: str) -> str:
    transport = httpx.AsyncHTTPTransport(local_address=address)
    async with httpx.AsyncClient(transport=transport, timeout=30) as http:
        r = await http.post(base + "/api/visitor/session", json={"site_key": SITE_KEY},
                            headers={"Origin": SHOP})
    r.raise_for_status()
    token: str = r.json()["token"]
    return token


async def open_visitor(port: int, token: str, stats: Stats, address: str) -> Peer:
    peer = Peer(stats)
    ready = peer.expect("ready")
    peer.ws = await connect("127.0.0.1", port, f"/ws/visitor?site={SITE_KEY}",
                            {"Origin": SHOP}, peer.on_text, local_host=address)
    send(peer, {"type": "auth", "token": token})
    await asyncio.wait_for(ready, 30)
    return peer


async def open_agents(n: int, base: str, port: int, stats: Stats) -> list[AgentPeer]:
    # Logins first: each verifies an argon2 hash on the server's event loop, which would
    # hold up the other agents' socket set-up.
    async with httpx.AsyncClient(timeout=60) as http:
        cookies = []
        for i in range(n):
            r = await http.post(base + "/api/auth/login", headers={"Origin": CONSOLE},
                                json={"email": f"a{i}@bench.test", "password": PASSWORD})
            r.raise_for_status()
            cookies.append(r.cookies["sb_session"])

    async def one(cookie: str) -> AgentPeer:
        peer = AgentPeer(stats)
        ready = peer.expect("ready")
        peer.ws = await connect("127.0.0.1", port, "/ws/agent",
                                {"Origin": CONSOLE, "Cookie": f"sb_session={cookie}"},
                                peer.on_text)
        await asyncio.wait_for(ready, 30)
        return peer

    return list(await asyncio.gather(*(one(c) for c in cookies)))


async def open_pairs(chats: list[tuple[int, str]], agents: list[AgentPeer], port: int,
                     stats: Stats, concurrency: int) -> list[Pair]:
    """Connect every pair's visitor (agents hold their chats from the welcome on)."""
    sem = asyncio.Semaphore(concurrency)

    async def one(i: int) -> Pair:
        cid, token = chats[i]
        async with sem:
            v = await open_visitor(port, token, stats, f"127.0.0.{2 + i // 5000}")
        return Pair(v, agents[i % len(agents)], cid)

    return list(await asyncio.gather(*(one(i) for i in range(len(chats)))))


async def run_rate(pairs: list[Pair], rate: float, seconds: float, tag: str,
                   stats: Stats) -> dict[str, Any]:
    """Send ``rate * seconds`` messages on a fixed schedule; wait for them; measure."""
    loop = asyncio.get_running_loop()
    total = int(rate * seconds)
    frames = [orjson.dumps({"type": "message", "conversation_id": pairs[i % len(pairs)].cid,
                            "client_id": f"L{tag}-{i}", "text": "hello bench"})
              for i in range(total)]
    ids = [f"L{tag}-{i}" for i in range(total)]
    refused0, acked0, received0 = stats.refused, len(stats.acked), len(stats.received)
    duplicated0 = stats.duplicated
    # The generator's own pauses would count as latency: no cyclic collection while timing
    # (the frames are freed by reference counting; the tables of receipts only grow).
    gc.collect()
    gc.disable()
    try:
        start = loop.time() + 0.05
        due = [start + i / rate for i in range(total)]
        i = 0
        while i < total:
            now = loop.time()
            while i < total and due[i] <= now:
                ws = pairs[i % len(pairs)].visitor.ws
                assert ws is not None
                ws.send(frames[i])
                i += 1
            if i < total:
                await asyncio.sleep(max(0.0, due[i] - loop.time()))
        deadline = loop.time() + 10
        # Counts only: a scan of every id here would stall the receipts still in flight.
        while loop.time() < deadline:
            acked = len(stats.acked) - acked0
            if acked + stats.refused - refused0 >= total and \
                    len(stats.received) - received0 >= acked:
                break
            await asyncio.sleep(0.05)
    finally:
        gc.enable()
    refused = stats.refused - refused0
    acked_ids = [c for c in ids if c in stats.acked]
    lat = [(stats.received[c] - due[k]) * 1000 for k, c in enumerate(ids)
           if c in stats.received]
    ack_lat = [(stats.acked[c] - due[k]) * 1000 for k, c in enumerate(ids) if c in stats.acked]
    return {"rate": rate, "sent": total, "acked": len(acked_ids), "refused": refused,
            "ack_p50_ms": round(percentile(ack_lat, 0.5), 2),
            "ack_p99_ms": round(percentile(ack_lat, 0.99), 2),
            "delivered": len(lat), "unacked": total - len(acked_ids) - refused,
            "lost": sum(1 for c in acked_ids if c not in stats.received),
            "duplicated": stats.duplicated - duplicated0,
            "p50_ms": round(percentile(lat, 0.5), 2), "p99_ms": round(percentile(lat, 0.99), 2),
            "max_ms": round(max(lat), 2) if lat else None}


async def idle_sockets(base: str, port: int, pid: int, count: int,
                       stats: Stats) -> dict[str, Any]:
    """Open ``count`` authenticated visitor sockets on one process; RSS growth per socket."""
    token = await visitor_token(base, "127.0.0.200")
    await asyncio.sleep(0.5)
    before = rss_kib(pid)
    cpu0 = cpu_s([pid])
    t0 = time.perf_counter()
    sem = asyncio.Semaphore(128)
    peers: list[Peer] = []
    failures = 0

    async def one(i: int) -> None:
        nonlocal failures
        async with sem:
            try:
                peers.append(await open_visitor(port, token, stats, f"127.0.1.{1 + i % 8}"))
            except (OSError, TimeoutError) as exc:
                failures += 1
                if failures <= 3:
                    print(f"idle socket failed: {exc!r}", file=sys.stderr)

    await asyncio.gather(*(one(i) for i in range(count)))
    opened_s = time.perf_counter() - t0
    cpu = cpu_s([pid]) - cpu0
    await asyncio.sleep(1.0)
    after = rss_kib(pid)
    for peer in peers:
        assert peer.ws is not None
        peer.ws.close()
    return {"idle_conns": len(peers), "idle_failed": failures,
            "rss_kib_per_idle_conn": round((after - before) / max(1, len(peers)), 1),
            "idle_rss_mib": round(after / 1024, 1), "idle_open_s": round(opened_s, 1),
            "server_cpu_ms_per_open": round(cpu * 1000 / max(1, len(peers)), 2)}


class Database:
    """A throwaway PostgreSQL database (dropped afterwards) or a SQLite file in the temp dir."""

    def __init__(self, args: argparse.Namespace, tmp: Path) -> None:
        self.sqlite = args.sqlite
        self.server = PostgresServer(args.pg)
        self.url = f"sqlite+aiosqlite:///{tmp / 'bench.db'}"

    async def __aenter__(self) -> Database:
        if not self.sqlite:
            self.url = await asyncio.to_thread(self.server.create_database, "bench_hub")
        return self

    async def __aexit__(self, *exc: object) -> None:
        if not self.sqlite:
            await asyncio.to_thread(drop_database, self.server, self.url)

    def backends(self) -> list[int]:
        return [] if self.sqlite else pg_backends(self.url.rsplit("/", 1)[1])


async def main(args: argparse.Namespace) -> dict[str, Any]:
    raise_nofile()  # inherited by the web processes
    tmp = Path(tempfile.mkdtemp(prefix="bench-hub-"))
    procs: list[subprocess.Popen[bytes]] = []
    try:
        with PrivateRedis() as redis_server:
            async with Database(args, tmp) as db:
                try:
                    return await measure(args, db, tmp, redis_server, procs)
                finally:
                    stop(procs)  # before the database is dropped
    finally:
        if os.environ.get("BENCH_KEEP"):
            print(f"kept {tmp}", file=sys.stderr)
        else:
            shutil.rmtree(tmp, ignore_errors=True)


async def measure(args: argparse.Namespace, db: Database, tmp: Path, redis_server: PrivateRedis,
                  procs: list[subprocess.Popen[bytes]]) -> dict[str, Any]:
    wall0 = time.perf_counter()
    chats = await seed(db.url, args.agents, args.pairs)
    ports = [free_port(), free_port()]
    for i, port in enumerate(ports):
        env = {"SWITCHBOARD_MODE": "test",
               "SWITCHBOARD_SECRET_KEY": "b" * 40,
               "SWITCHBOARD_DATA_DIR": str(tmp / f"w{i}"),
               "SWITCHBOARD_PORT": str(port), "SWITCHBOARD_CONSOLE_ORIGINS": CONSOLE,
               "SWITCHBOARD_LOG_LEVEL": "warning",
               "SWITCHBOARD_LOGIN_ATTEMPTS_PER_MIN": "10000",
               "DATABASE_URL": db.url, "REDIS_URL": redis_server.url()}
        procs.append(start_web(env, tmp / f"w{i}.log", args.web_processes if i == 0 else 1))
    web_a, web_b = procs
    a, b = (f"http://127.0.0.1:{p}" for p in ports)
    await asyncio.gather(wait_ready(a, web_a), wait_ready(b, web_b))
    stats = Stats()
    t0 = time.perf_counter()
    agents = await open_agents(args.agents, b, ports[1], stats)
    print(f"{len(agents)} agents ready in {time.perf_counter() - t0:.1f} s", file=sys.stderr)
    pairs = await open_pairs(chats, agents, ports[0], stats, args.concurrency)
    setup_s = time.perf_counter() - t0
    print(f"{len(pairs)} pairs ready in {setup_s:.1f} s", file=sys.stderr)
    await run_rate(pairs, min(500.0, args.rate), 1.0, "warm", stats)
    ladder = sorted({*args.ladder, args.rate})
    results: list[dict[str, Any]] = []
    failures = 0
    for rate in ladder:
        if failures >= 2 and rate != args.rate:
            continue
        parts = {"web_a": with_children(web_a.pid), "web_b": [web_b.pid],
                 "redis": [redis_server.pid],
                 "db": db.backends()}
        cpu0 = {k: cpu_s(v) for k, v in parts.items()}
        gen0 = time.process_time()
        machine0 = busy_s()
        w0 = time.perf_counter()
        r = await run_rate(pairs, rate, args.seconds, str(int(rate)), stats)
        wall = time.perf_counter() - w0
        parts["db"] = db.backends()
        cores = {k: (cpu_s(v) - cpu0[k]) / wall for k, v in parts.items()}
        r["cores"] = {k: round(v, 2) for k, v in cores.items()}
        r["server_cores"] = round(sum(cores.values()), 2)
        # Noise-robust: CPU the servers spent per delivered message. Latency moves with
        # whatever else the machine runs; this moves only with the work done per message.
        r["server_cpu_us_per_msg"] = round(sum(cores.values()) * wall * 1e6
                                           / max(1, r["delivered"]), 1)
        r["loadgen_cores"] = round((time.process_time() - gen0) / wall, 2)
        # Whatever else ran on the machine meanwhile (other test suites share these 2 cores).
        r["other_cores"] = round((busy_s() - machine0) / wall - r["server_cores"]
                                 - r["loadgen_cores"], 2)
        results.append(r)
        print(orjson.dumps(r).decode(), file=sys.stderr)
        # Climb past a missed 10 ms target (noise, a neighbour's load) but not past overload.
        overloaded = r["p99_ms"] > 250.0 or r["lost"] or r["unacked"]
        failures = failures + 1 if overloaded else 0
    duplicated = stats.duplicated
    for pair in pairs:
        assert pair.visitor.ws is not None
        pair.visitor.ws.close()
    # RSS per idle socket is a one-process figure: measured with one visitor-side process.
    idle = await idle_sockets(a, ports[0], web_a.pid, args.idle if args.web_processes == 1 else 0,
                              stats)
    at = next(r for r in results if r["rate"] == args.rate)
    ok = [r["rate"] for r in results
          if r["p99_ms"] <= 10.0 and r["lost"] == 0 and r["unacked"] == 0]
    ok50 = [r["rate"] for r in results
            if r["p99_ms"] <= 50.0 and r["lost"] == 0 and r["unacked"] == 0]
    # Every rate of the ladder up to it ran (none skipped) with each acknowledged message
    # delivered exactly once, every message acknowledged and none refused by the rate limit.
    clean = 0.0
    ran = {r["rate"]: r for r in results}
    for rung in sorted({*args.ladder, args.rate}):
        step = ran.get(rung)
        if step is None or step["lost"] or step["duplicated"] or step["unacked"] \
                or step["refused"]:
            break
        clean = rung
    return {
        "rate": args.rate, "p50_ms": at["p50_ms"], "p99_ms": at["p99_ms"],
        "lost": sum(r["lost"] for r in results), "duplicated": duplicated,
        "unacked": sum(r["unacked"] for r in results),
        "refused": sum(r["refused"] for r in results),
        "rss_kib_per_idle_conn": idle["rss_kib_per_idle_conn"],
        "max_rate_p99_under_10ms": max(ok) if ok else 0,
        "max_rate_p99_under_50ms": max(ok50) if ok50 else 0,
        "max_rate_zero_loss": clean,
        "web_processes": args.web_processes,
        "server_cpu_us_per_msg": at["server_cpu_us_per_msg"],
        "server_cores_at_rate": at["server_cores"],
        "loadgen_cores_at_rate": at["loadgen_cores"],
        "other_cores_at_rate": at["other_cores"],
        **{k: v for k, v in idle.items() if k != "rss_kib_per_idle_conn"},
        "pairs": len(pairs), "agents": len(agents), "setup_s": round(setup_s, 1),
        "database": "sqlite" if args.sqlite else "postgresql",
        "nofile": resource.getrlimit(resource.RLIMIT_NOFILE)[0],
        "other_errors": len(stats.errors), "ladder": results,
        "wall_s": round(time.perf_counter() - wall0, 1),
    }


async def scaling(args: argparse.Namespace) -> dict[str, Any]:
    """The bench once per ``--web-processes`` count: the first run's figures, plus per count
    the highest rate with p99 <= 50 ms and the CPU per message at ``--rate``."""
    runs = []
    for n in args.web_processes:
        runs.append(await main(argparse.Namespace(**{**vars(args), "web_processes": n})))
        print(orjson.dumps(runs[-1]).decode(), file=sys.stderr)
    first = runs[0]
    if len(runs) > 1:
        first["scaling"] = [
            {k: r[k] for k in ("web_processes", "max_rate_p99_under_50ms",
                               "max_rate_p99_under_10ms", "max_rate_zero_loss", "p99_ms",
                               "server_cpu_us_per_msg", "lost", "duplicated")} for r in runs]
    return first


def stop(procs: list[subprocess.Popen[bytes]]) -> None:
    for proc in reversed(procs):
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
    for proc in procs:
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pairs", type=int, default=800)
    parser.add_argument("--agents", type=int, default=20)
    parser.add_argument("--rate", type=float, default=2000)
    parser.add_argument("--ladder", type=float, nargs="*",
                        default=[1000, 3000, 5000, 6000, 8000])
    parser.add_argument("--seconds", type=float, default=2.0)
    parser.add_argument("--idle", type=int, default=10_000)
    parser.add_argument("--concurrency", type=int, default=64, help="pairs opened at once")
    parser.add_argument("--sqlite", action="store_true", help="embedded SQLite, not PostgreSQL")
    parser.add_argument("--pg", default="postgresql://postgres@127.0.0.1:5432",
                        help="PostgreSQL server (a throwaway database is created and dropped)")
    parser.add_argument("--web-processes", type=int, nargs="+", default=[1],
                        help="visitor-side web processes on one port; several counts run the "
                             "whole bench once each and report the scaling")
    print(orjson.dumps(asyncio.run(scaling(parser.parse_args()))).decode())
