"""``python -m bench.soak``: chat traffic through every fault in turn, a ledger of each message.

Brings up Redis behind Sentinel (a primary, a replica, one Sentinel: ``tests.support.sentinel``),
a throwaway PostgreSQL database reached through a proxy that the bench can cut (what a restart
looks like to the clients, without touching the shared server), two visitor-side web processes
on one port (``switchboard web --processes 2``, whose supervisor restarts a dead one) and one
agent-side process. ``--pairs`` visitors each chat with one of ``--agents`` agents, every
visitor sending on a fixed schedule (open loop) like the widget does: a message stays in the
visitor's outbox, and is sent again with the same ``client_id`` after a reconnect or an error,
until the server acknowledges it. Agents resume every conversation from the last ``seq`` they
saw after each reconnect, like the console. Meanwhile a Dovecot mailbox gets ``--mail-rate``
customer mails a second, which a ``switchboard poll`` process (on the same Redis and database)
imports as tickets.

Phases, ``--phase-s`` seconds each: ``steady``; ``redis_failover`` (the Redis primary SIGKILLed,
Sentinel promotes the replica); ``web_kill`` (one visitor-side web process SIGKILLed);
``pg_restart`` (every database connection reset, new ones refused for 3 s); ``agent_churn``
(a third of the agents drop their sockets and come back 2 s later); ``tail`` (quiet traffic
while everything settles). ``--minutes`` stretches the run to that length by repeating the
fault phases.

The ledger, checked after a final quiet period:
- ``lost``: acknowledged messages that are not in the database once, or that never reached the
  conversation's agent;
- ``duplicated``: a message stored twice (two seqs, one client_id), or delivered to the agent
  under two seqs;
- ``stranded``: conversations not active with their agent at the end, or whose acknowledged
  messages the agent never saw;
- ``mail_lost`` / ``mail_duplicated``: delivered mails that are not exactly one ticket message;
- ``p99_ms`` per phase: visitor send (scheduled time) -> the agent's first receipt.

Last line: JSON with lost, duplicated, stranded, unacked (sent but never acknowledged: must be
0 too, the outbox retries until the end), p99_ms (per phase), messages and the fault timings.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import orjson
import websockets
from sqlalchemy import func, select
from websockets.exceptions import ConnectionClosed

from bench.hub import (
    CONSOLE,
    PASSWORD,
    SHOP,
    SITE_KEY,
    raise_nofile,
    seed,
    start_web,
    stop,
    wait_ready,
    with_children,
)
from desk.db import SessionMaker, make_engine, make_sessionmaker
from desk.embedded import free_port
from desk.models import Agent, Conversation, Message
from desk.settings import Settings
from tests.support.databases import PostgresServer, drop_database
from tests.support.dovecot import Dovecot
from tests.support.mailboxes import add_mailbox
from tests.support.processes import ROOT, child_env
from tests.support.proxy import CuttableProxy
from tests.support.sentinel import SentinelSet
from tests.support.stats import percentile

FAULTS = ("redis_failover", "web_kill", "pg_restart", "agent_churn")
RETRY_S = 1.0  # an unacknowledged message is sent again after this long


@dataclass
class Ledger:
    sent: dict[str, tuple[int, float, str]] = field(default_factory=dict)  # id -> cid, t, phase
    acked: set[str] = field(default_factory=set)
    delivered: dict[str, tuple[int, float]] = field(default_factory=dict)  # id -> seq, t
    duplicated_deliveries: int = 0
    reconnects: int = 0
    errors: dict[str, int] = field(default_factory=dict)
    phase: str = "steady"

    def error(self, code: str) -> None:
        self.errors[code] = self.errors.get(code, 0) + 1


class Visitor:
    """One widget: an outbox of unacknowledged messages, reconnecting for ever until stopped."""

    def __init__(self, i: int, cid: int, token: str, port: int, ledger: Ledger) -> None:
        self.i, self.cid, self.token, self.port, self.ledger = i, cid, token, port, ledger
        self.outbox: dict[str, tuple[bytes, float]] = {}  # client_id -> frame, last sent
        self.ws: Any = None
        self.live = asyncio.Event()
        self.stopped = False
        self.n = 0

    def post(self, now: float) -> None:
        client_id = f"m{self.i}-{self.n}"
        self.n += 1
        frame = orjson.dumps({"type": "message", "conversation_id": self.cid,
                              "client_id": client_id, "text": client_id})
        self.ledger.sent[client_id] = (self.cid, now, self.ledger.phase)
        self.outbox[client_id] = (frame, now)
        self._send(frame)

    def resend_due(self, now: float) -> None:
        for client_id, (frame, at) in list(self.outbox.items()):
            if now - at >= RETRY_S:
                self.outbox[client_id] = (frame, now)
                self._send(frame)

    def _send(self, frame: bytes) -> None:
        if self.ws is not None and self.live.is_set():
            asyncio.get_running_loop().create_task(_write(self.ws, frame))

    async def run(self) -> None:
        url = f"ws://127.0.0.1:{self.port}/ws/visitor?site={SITE_KEY}"
        while not self.stopped:
            try:
                async with websockets.connect(url, origin=SHOP, open_timeout=10,  # type: ignore[arg-type]
                                              max_queue=None) as ws:
                    self.ws = ws
                    await ws.send(orjson.dumps({"type": "auth", "token": self.token}).decode())
                    async for raw in ws:
                        self._on(orjson.loads(raw))
            except (ConnectionClosed, OSError, TimeoutError, websockets.InvalidStatus):
                pass
            self.ws = None
            self.live.clear()
            if not self.stopped:
                self.ledger.reconnects += 1
                await asyncio.sleep(0.2 + random.random() * 0.3)

    def _on(self, frame: dict[str, Any]) -> None:
        kind = frame["type"]
        if kind == "welcome":
            # The visitor's own lines come back on resume; only the acks matter here.
            self.live.set()
            for frame_bytes, _ in self.outbox.values():
                self._send(frame_bytes)
        elif kind == "ack":
            self.outbox.pop(frame["client_id"], None)
            self.ledger.acked.add(frame["client_id"])
        elif kind == "error":
            self.ledger.error(str(frame.get("code")))


async def _write(ws: Any, frame: bytes) -> None:
    with contextlib.suppress(ConnectionClosed, OSError, RuntimeError):
        await ws.send(frame.decode())


class AgentSocket:
    """One console: resumes each conversation from the last seq it saw after every reconnect."""

    def __init__(self, cookie: str, port: int, ledger: Ledger) -> None:
        self.cookie, self.port, self.ledger = cookie, port, ledger
        self.last_seq: dict[int, int] = {}
        self.seen: set[tuple[int, int]] = set()
        self.ws: Any = None
        self.stopped = False
        self.away_until = 0.0

    async def run(self) -> None:
        url = f"ws://127.0.0.1:{self.port}/ws/agent"
        loop = asyncio.get_running_loop()
        while not self.stopped:
            if loop.time() < self.away_until:
                await asyncio.sleep(self.away_until - loop.time())
            try:
                async with websockets.connect(
                        url, origin=CONSOLE, open_timeout=10,  # type: ignore[arg-type]
                        additional_headers={"Cookie": f"sb_session={self.cookie}"},
                        max_queue=None) as ws:
                    self.ws = ws
                    async for raw in ws:
                        await self._on(orjson.loads(raw), loop.time())
            except (ConnectionClosed, OSError, TimeoutError, websockets.InvalidStatus):
                pass
            self.ws = None
            if not self.stopped:
                self.ledger.reconnects += 1
                await asyncio.sleep(0.2 + random.random() * 0.3)

    async def _on(self, frame: dict[str, Any], now: float) -> None:
        kind = frame["type"]
        if kind == "welcome":
            for cid in frame["conversations"]:
                await self.ws.send(orjson.dumps({
                    "type": "resume", "conversation_id": cid,
                    "after_seq": self.last_seq.get(cid, 0)}).decode())
        elif kind == "message" and frame.get("author_kind") == "contact":
            cid, seq, client_id = frame["conversation_id"], frame["seq"], frame.get("client_id")
            self.last_seq[cid] = max(self.last_seq.get(cid, 0), seq)
            if (cid, seq) in self.seen or not client_id:
                return  # a resume's overlap with what was live: the console drops it too
            self.seen.add((cid, seq))
            if client_id in self.ledger.delivered:
                self.ledger.duplicated_deliveries += 1
            else:
                self.ledger.delivered[client_id] = (seq, now)
        elif kind == "error":
            self.ledger.error(str(frame.get("code")))

    async def drop(self, away_s: float) -> None:
        self.away_until = asyncio.get_running_loop().time() + away_s
        if self.ws is not None:
            with contextlib.suppress(Exception):
                await self.ws.close()


async def logins(base: str, n: int) -> list[str]:
    async with httpx.AsyncClient(timeout=60) as http:
        out = []
        for i in range(n):
            r = await http.post(base + "/api/auth/login", headers={"Origin": CONSOLE},
                                json={"email": f"a{i}@bench.test", "password": PASSWORD})
            r.raise_for_status()
            out.append(r.cookies["sb_session"])
        return out


async def traffic(visitors: list[Visitor], rate: float, until: float) -> None:
    """Open loop: the i-th message goes out at its scheduled time, whatever the answers."""
    loop = asyncio.get_running_loop()
    interval = 1.0 / rate
    nxt = loop.time()
    i = 0
    while nxt < until:
        now = loop.time()
        while nxt <= now and nxt < until:
            visitors[i % len(visitors)].post(nxt)
            i += 1
            nxt += interval
        if i % 50 == 0:
            for v in visitors:
                v.resend_due(now)
        await asyncio.sleep(max(0.0, min(nxt - loop.time(), 0.05)))


async def mail(dovecot: Dovecot, rate: float, until: float, ids: list[str]) -> None:
    """Customer mails at ``rate`` a second into the polled mailbox."""
    loop = asyncio.get_running_loop()
    while loop.time() < until:
        mid = f"<soak-{len(ids)}@customer.example>"
        raw = (f"From: Customer {len(ids)} <c{len(ids) % 50}@customer.example>\r\n"
               f"To: support@desk.example\r\nSubject: Order {len(ids)}\r\n"
               f"Message-ID: {mid}\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n"
               "Where is my order?\r\n").encode()
        await asyncio.to_thread(dovecot.deliver, raw)
        ids.append(mid)
        await asyncio.sleep(1.0 / rate)


async def fault(name: str, env: Env, agents: list[AgentSocket]) -> float:
    """Inflict ``name``; returns how long it took (the outage as the bench saw it)."""
    t0 = time.perf_counter()
    if name == "redis_failover":
        await asyncio.to_thread(env.sentinels.kill_primary)
        took = round(time.perf_counter() - t0, 2)
        await asyncio.to_thread(env.sentinels.revive)  # the next round's failover target
        return took
    elif name == "web_kill":
        children = with_children(env.web_a.pid)[1:]
        if children:
            os.kill(children[0], signal.SIGKILL)
    elif name == "pg_restart":
        env.proxy.cut()
        await asyncio.sleep(3)
        env.proxy.restore()
    elif name == "agent_churn":
        await asyncio.gather(*(a.drop(2.0) for a in agents[::3]))
    return round(time.perf_counter() - t0, 2)


@dataclass
class Env:
    sentinels: SentinelSet
    proxy: CuttableProxy
    web_a: Any


@contextlib.asynccontextmanager
async def records(db_url: str) -> AsyncIterator[SessionMaker]:
    """The bench's own sessions on the database, past the proxy (its cuts are the servers')."""
    engine = make_engine(Settings(database_url=db_url))
    try:
        yield make_sessionmaker(engine)
    finally:
        await engine.dispose()


async def mail_copies(sm: SessionMaker) -> dict[str, int]:
    async with sm() as s:
        rows = (await s.execute(select(Message.email_message_id, func.count())
                                .where(Message.email_message_id.is_not(None))
                                .group_by(Message.email_message_id))).all()
    return {str(m): int(n) for m, n in rows}


async def check(ledger: Ledger, sm: SessionMaker, chats: list[tuple[int, str]],
                agent_of: dict[int, int]) -> dict[str, Any]:
    async with sm() as s:
        copies = dict((await s.execute(
            select(Message.client_id, func.count()).where(Message.author_kind == "contact")
            .group_by(Message.client_id))).all())
        convs = {c.id: c for c in (await s.scalars(select(Conversation))).all()}
        agent_ids = {a.email: a.id for a in (await s.scalars(select(Agent))).all()}
    lost = sum(1 for m in ledger.acked if copies.get(m) != 1 or m not in ledger.delivered)
    duplicated = sum(n - 1 for n in copies.values() if n > 1) + ledger.duplicated_deliveries
    undelivered = {ledger.sent[m][0] for m in ledger.acked if m not in ledger.delivered}
    stranded = sum(1 for cid, _ in chats
                   if convs[cid].status != "active"
                   or convs[cid].assignee_id != agent_ids[f"a{agent_of[cid]}@bench.test"]
                   or cid in undelivered)
    return {"lost": lost, "duplicated": duplicated, "stranded": stranded}


def per_phase(ledger: Ledger) -> dict[str, float]:
    lat: dict[str, list[float]] = {}
    for client_id, (_, at) in ledger.delivered.items():
        _, sent, phase = ledger.sent[client_id]
        lat.setdefault(phase, []).append((at - sent) * 1000)
    return {ph: round(percentile(sorted(v), 0.99), 1) for ph, v in lat.items()}


async def main(args: argparse.Namespace) -> dict[str, Any]:
    raise_nofile()
    tmp = Path(tempfile.mkdtemp(prefix="bench-soak-"))
    server = PostgresServer(args.pg)
    db_url = await asyncio.to_thread(server.create_database, "bench_soak")
    procs: list[Any] = []
    dovecot = Dovecot()
    try:
        dovecot.start()
        with SentinelSet() as sentinels:
            async with records(db_url) as sm:
                return await soak(args, tmp, db_url, sm, sentinels, dovecot, procs)
    finally:
        stop(procs)
        dovecot.cleanup()
        await asyncio.to_thread(drop_database, server, db_url)
        shutil.rmtree(tmp, ignore_errors=True)


async def soak(args: argparse.Namespace, tmp: Path, db_url: str, sm: SessionMaker,
               sentinels: SentinelSet, dovecot: Dovecot, procs: list[Any]) -> dict[str, Any]:
    chats = await seed(db_url, args.agents, args.pairs)
    await add_mailbox(sm, port=dovecot.port, user=dovecot.user, password=dovecot.password)
    agent_of = {cid: i % args.agents for i, (cid, _) in enumerate(chats)}
    url = urlsplit(db_url)
    proxy = CuttableProxy(url.hostname or "127.0.0.1", url.port or 5432)
    await proxy.start()
    proxied = url._replace(netloc=f"{url.username}@127.0.0.1:{proxy.port}").geturl()
    ports = [free_port(), free_port()]
    for i, port in enumerate(ports):
        web_env = {"SWITCHBOARD_MODE": "test", "SWITCHBOARD_SECRET_KEY": "b" * 40,
               "SWITCHBOARD_DATA_DIR": str(tmp / f"w{i}"), "SWITCHBOARD_PORT": str(port),
               "SWITCHBOARD_CONSOLE_ORIGINS": CONSOLE, "SWITCHBOARD_LOG_LEVEL": "warning",
               "SWITCHBOARD_LOGIN_ATTEMPTS_PER_MIN": "10000",
               "DATABASE_URL": proxied, "REDIS_URL": sentinels.url()}
        procs.append(start_web(web_env, tmp / f"w{i}.log", 2 if i == 0 else 1))
    procs.append(start_poller({**web_env, "SWITCHBOARD_DATA_DIR": str(tmp / "poll")},
                              tmp / "poll.log"))
    a, b = (f"http://127.0.0.1:{p}" for p in ports)
    await asyncio.gather(wait_ready(a, procs[0]), wait_ready(b, procs[1]))
    env = Env(sentinels, proxy, procs[0])
    ledger = Ledger()
    agents = [AgentSocket(c, ports[1], ledger) for c in await logins(b, args.agents)]
    visitors = [Visitor(i, cid, tok, ports[0], ledger) for i, (cid, tok) in enumerate(chats)]
    sockets: list[Visitor | AgentSocket] = [*agents, *visitors]
    tasks = [asyncio.create_task(x.run()) for x in sockets]
    loop = asyncio.get_running_loop()
    await asyncio.wait_for(asyncio.gather(*(v.live.wait() for v in visitors)), 60)
    rounds = max(1, round(args.minutes * 60 / (args.phase_s * (len(FAULTS) + 2))))
    faults: list[dict[str, Any]] = []
    mails: list[str] = []
    for phase in ["steady", *FAULTS * rounds, "tail"]:
        ledger.phase = phase
        end = loop.time() + args.phase_s
        sending = asyncio.gather(traffic(visitors, args.rate, end),
                                 mail(dovecot, args.mail_rate, end, mails))
        if phase in FAULTS:
            await asyncio.sleep(args.phase_s / 4)
            took = await fault(phase, env, agents)
            faults.append({"fault": phase, "s": took})
            print(f"{phase}: {took} s", file=sys.stderr)
        await sending
    # Settle: the outboxes empty, the agents catch up.
    deadline = loop.time() + 60
    copies: dict[str, int] = {}
    while loop.time() < deadline and (any(v.outbox for v in visitors)
                                      or len(ledger.delivered) < len(ledger.acked)
                                      or len(copies) < len(mails)):
        for v in visitors:
            v.resend_due(loop.time())
        await asyncio.sleep(0.5)
        copies = await mail_copies(sm)
    await asyncio.sleep(1)
    for x in sockets:
        x.stopped = True
        if x.ws is not None:
            with contextlib.suppress(Exception):
                await x.ws.close()
    for t in tasks:
        t.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    result = await check(ledger, sm, chats, agent_of)
    await proxy.stop()
    copies = await mail_copies(sm)
    return {**result, "unacked": len(ledger.sent) - len(ledger.acked),
            "mails": len(mails), "mail_lost": sum(1 for m in mails if m not in copies),
            "mail_duplicated": sum(n - 1 for n in copies.values() if n > 1),
            "p99_ms": per_phase(ledger), "messages": len(ledger.sent),
            "reconnects": ledger.reconnects, "errors": ledger.errors, "faults": faults,
            "pairs": args.pairs, "agents": args.agents, "rate": args.rate}


def start_poller(env: dict[str, str], log: Path) -> Any:
    with log.open("wb") as out:
        return subprocess.Popen([str(Path(sys.executable).with_name("switchboard")), "poll"],
                                env=child_env(env), cwd=ROOT, stdout=out,
                                stderr=subprocess.STDOUT, start_new_session=True)


def cli() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--pairs", type=int, default=60)
    parser.add_argument("--agents", type=int, default=12)
    parser.add_argument("--rate", type=float, default=100.0, help="messages per second in all")
    parser.add_argument("--phase-s", type=float, default=12.0)
    parser.add_argument("--mail-rate", type=float, default=2.0, help="customer mails a second")
    parser.add_argument("--minutes", type=float, default=0.0,
                        help="repeat the fault phases to last this long (10 for the full soak)")
    parser.add_argument("--pg", default=os.environ.get("SWITCHBOARD_TEST_PG",
                                                       "postgresql://postgres@127.0.0.1:5432"))
    print(orjson.dumps(asyncio.run(main(parser.parse_args()))).decode())


if __name__ == "__main__":
    cli()
