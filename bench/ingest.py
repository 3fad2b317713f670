"""Benchmark the email channel: IMAP -> tickets throughput, and time to ticket on the IDLE path.

Brings up a private Dovecot (unprivileged, loopback), a private redis-server and a SQLite
database in a temp dir; preloads the mailbox with a size mix; runs one MailboxPoller.

Phase 1 (backlog): ``--backlog`` mails already in the mailbox -> msgs_per_s (import into
tickets; routing and acknowledgements are stubs, so this is the import path alone).
Phase 2 (IDLE): ``--live`` mails delivered at ``--rate``/s while the poller idles; time from
delivery (Maildir rename) to the ticket being committed and routed -> time_to_ticket_p99_s.
Phase 3 (routed backlog): ``--routed`` more mails through a poller with the real router and
acknowledger, as ``switchboard poll`` runs it -> routed_msgs_per_s (imported and queued), while
``--agents`` agents online in the group accept every offer they get, as from the console
(``Router.accept``) -> routed_accepted_per_s: tickets imported, offered and accepted per second,
from the poller's start to the last acceptance.
Last line: JSON with msgs_per_s, time_to_ticket_p99_s, routed_msgs_per_s, routed_accepted_per_s,
duplicates, lost.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import random
import shutil
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

import redis.asyncio as aioredis
from redis import Redis
from sqlalchemy import func, select, update

from desk.db import SessionMaker, make_engine, make_sessionmaker
from desk.models import Agent, AgentGroup, Conversation, Department, InboundMail, Mailbox, Message
from desk.schema import create_all
from desk.settings import Settings
from ingest import jobs
from ingest.poller import Acknowledge, MailboxPoller, PollerConfig, RouteTickets, make_acknowledger
from ingest.tickets import Imported
from routing import events, keys
from routing.errors import RoutingError
from routing.mail_guard import MailGuard
from routing.router import Router
from routing.store import db_index
from tests.support.dovecot import Dovecot
from tests.support.mailboxes import add_mailbox
from tests.support.redis_server import PrivateRedis
from tests.support.stats import percentile

SIZES = ((0.70, 2_000), (0.25, 20_000), (0.05, 200_000))


def make_mail(i: int, size: int, tag: str) -> bytes:
    filler = ("Lorem ipsum dolor sit amet, consectetur adipiscing elit. " * (size // 56 + 1))
    body = filler[:size]
    return (
        f"From: Customer {i} <customer{i % 500}@example.org>\r\n"
        f"To: support@desk.example\r\nSubject: Question {tag}-{i}\r\n"
        f"Message-ID: <{tag}-{i}@bench.example>\r\n"
        "Content-Type: text/plain; charset=utf-8\r\n\r\n" + body + "\r\n"
    ).encode()


def pick_size(rng: random.Random) -> int:
    x = rng.random()
    for share, size in SIZES:
        if x < share:
            return size
        x -= share
    return SIZES[-1][1]


async def main(args: argparse.Namespace) -> dict[str, object]:
    root = Path(tempfile.mkdtemp(prefix="sb-bench-ingest-"))
    dovecot = Dovecot()
    redis_server = PrivateRedis()
    rng = random.Random(5)
    try:
        redis_server.start()
        dovecot.start()
        for i in range(args.backlog):
            dovecot.deliver(make_mail(i, pick_size(rng), "b"))
        settings = Settings.from_env({
            "SWITCHBOARD_MODE": "test", "SWITCHBOARD_SECRET_KEY": "bench-" + "x" * 40,
            "SWITCHBOARD_DATA_DIR": str(root / "data"),
            "DATABASE_URL": f"sqlite+aiosqlite:///{root / 'bench.db'}",
            "REDIS_URL": redis_server.url(),
        })
        engine = make_engine(settings)
        await create_all(engine)
        sm = make_sessionmaker(engine)
        box_id = await add_mailbox(sm, port=dovecot.port, user=dovecot.user,
                                   password=dovecot.password)
        redis = aioredis.Redis.from_url(settings.redis_url or "")
        routed_at: dict[int, float] = {}
        expected = args.backlog + args.live + args.routed
        all_routed = asyncio.Event()

        async def route(conv_ids: Sequence[int]) -> None:
            routed_at.update(dict.fromkeys(conv_ids, time.time()))
            if len(routed_at) >= args.backlog + args.live:
                all_routed.set()

        async def ack(_: Imported) -> None:
            return None

        stop, task, backlog_s = await _synced_poller(box_id, sm, redis, settings, route, ack)
        # Phase 2: live deliveries while the poller sits in IDLE.
        delivered: dict[str, float] = {}
        for i in range(args.live):
            delivered[f"<l-{i}@bench.example>"] = time.time()
            dovecot.deliver(make_mail(i, pick_size(rng), "l"))
            await asyncio.sleep(1 / args.rate)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(all_routed.wait(), 30)
        stop.set()
        await asyncio.wait_for(task, 30)
        routed_s, accepted_s = await _routed_backlog(args, dovecot, rng, settings, sm, redis,
                                                     box_id)
        async with sm() as s:
            n_conv = (await s.execute(select(func.count()).select_from(Conversation))
                      ).scalar_one()
            n_inbound = (await s.execute(select(func.count()).select_from(InboundMail))
                         ).scalar_one()
            pairs = (await s.execute(select(Message.conversation_id, Message.email_message_id))
                     ).all()
        latencies = [routed_at[c] - delivered[m] for c, m in pairs
                     if m in delivered and c in routed_at]
        distinct = len({m for _, m in pairs})
        await redis.aclose()
        await engine.dispose()
        return {
            "backlog": args.backlog, "live": args.live,
            "backlog_seconds": round(backlog_s, 2),
            "msgs_per_s": round(args.backlog / backlog_s, 1),
            "time_to_ticket_p50_s": round(percentile(latencies, 0.5), 3),
            "time_to_ticket_p99_s": round(percentile(latencies, 0.99), 3),
            "routed": args.routed,
            "routed_msgs_per_s": round(args.routed / routed_s, 1) if args.routed else None,
            "agents": args.agents,
            "routed_accepted_per_s": round(args.routed / accepted_s, 1) if accepted_s else None,
            "duplicates": int(n_conv) - distinct + (int(n_inbound) - distinct),
            "lost": expected - distinct,
        }
    finally:
        dovecot.cleanup()
        redis_server.close()
        shutil.rmtree(root, ignore_errors=True)


async def _agents(sm: SessionMaker, box_id: int, count: int, capacity: int
                  ) -> tuple[int, list[int]]:
    """``count`` agents in the mailbox's front-line group (its id is returned too), each able
    to hold ``capacity`` tickets; the earlier phases' tickets closed, so that the offers are
    for phase 3's alone."""
    async with sm() as s:
        box = await s.get(Mailbox, box_id)
        assert box is not None
        dept = await s.get(Department, box.department_id)
        assert dept is not None and dept.front_group_id is not None
        agents = [Agent(email=f"bench{i}@desk.example", display_name=f"Bench {i}",
                        password_hash="x", ticket_capacity=capacity,
                        groups=[AgentGroup(group_id=dept.front_group_id)])
                  for i in range(count)]
        s.add_all(agents)
        await s.execute(update(Conversation).values(status="closed"))
        await s.commit()
        return dept.front_group_id, [a.id for a in agents]


class Acceptor:
    """The agents at their consoles: every offer made to one of them is accepted at once (as
    the console's accept does, ``Router.accept``); ``assigned`` collects the tickets taken."""

    def __init__(self, router: Router, redis: aioredis.Redis, agents: list[int]) -> None:
        self.router, self.redis, self.agents = router, redis, set(agents)
        self.assigned: dict[int, float] = {}
        self.all_in = asyncio.Event()
        self.expected = 0
        self.refused = 0
        self._tasks: set[asyncio.Task[None]] = set()
        self._pubsub = redis.pubsub(ignore_subscribe_messages=True)

    async def start(self) -> asyncio.Task[None]:
        await self._pubsub.subscribe(keys.events_channel(db_index(self.redis)))
        return asyncio.create_task(self._listen())

    async def _listen(self) -> None:
        while True:
            msg = await self._pubsub.get_message(timeout=1.0)
            if msg is None:
                continue
            event = events.parse(msg["data"])
            match event:
                case events.Offer(cid, _, agent_id, _) if agent_id in self.agents:
                    task = asyncio.create_task(self._accept(agent_id, cid))
                    self._tasks.add(task)
                    task.add_done_callback(self._tasks.discard)
                case events.Assigned(cid, _, agent_id, "accepted") if agent_id in self.agents:
                    self.assigned[cid] = time.perf_counter()
                    if len(self.assigned) >= self.expected:
                        self.all_in.set()

    async def _accept(self, agent_id: int, cid: int) -> None:
        try:
            await self.router.accept(agent_id, cid)
        except RoutingError:  # taken back meanwhile: it is offered again, and counted then
            self.refused += 1

    async def close(self) -> None:
        await self._pubsub.aclose()


async def _routed_backlog(args: argparse.Namespace, dovecot: Dovecot, rng: random.Random,
                          settings: Settings, sm: SessionMaker, redis: aioredis.Redis,
                          box_id: int) -> tuple[float, float | None]:
    """Phase 3: seconds to import ``--routed`` mails with the real router and acknowledger,
    and seconds until ``--agents`` agents had accepted the offer of every one of them."""
    if not args.routed:
        return 0.0, None
    for i in range(args.routed):
        dovecot.deliver(make_mail(i, pick_size(rng), "r"))
    queue = jobs.mail_queue(Redis.from_url(settings.redis_url or ""))
    router = Router(settings, redis, sm)
    group_id, agents = await _agents(sm, box_id, args.agents, args.routed)
    # As under `switchboard poll`, the live routing state exists already (the web and worker
    # processes keep it); here phases 1-2 left their tickets in the records only.
    await router.rebuild()
    for agent_id in agents:  # online and taking tickets in the group, as from a console
        await router.heartbeat(agent_id)
        await router.set_active_groups(agent_id, [group_id])
    acceptor = Acceptor(router, redis, agents)
    acceptor.expected = args.routed
    listening = await acceptor.start()

    async def enqueue(conversation_id: int) -> None:
        await asyncio.to_thread(jobs.enqueue_notify_created, queue, conversation_id)

    ack = make_acknowledger(MailGuard.of(redis, settings), enqueue)
    started = time.perf_counter()
    stop, task, elapsed = await _synced_poller(box_id, sm, redis, settings, router.enqueue_many,
                                               ack)
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(acceptor.all_in.wait(), 60)
    accepted_s = (max(acceptor.assigned.values()) - started
                  if len(acceptor.assigned) >= args.routed else None)
    listening.cancel()
    await acceptor.close()
    stop.set()
    await asyncio.wait_for(task, 30)
    queue.connection.close()
    return elapsed, accepted_s


async def _synced_poller(box_id: int, sm: SessionMaker, redis: aioredis.Redis,
                         settings: Settings, route: RouteTickets, acknowledge: Acknowledge
                         ) -> tuple[asyncio.Event, asyncio.Task[None], float]:
    """A poller on the mailbox, running until ``stop`` is set, once it has imported what the
    mailbox held: (stop, its task, seconds the first sync took)."""
    poller = MailboxPoller(mailbox_id=box_id, sm=sm, redis=redis, settings=settings,
                           route=route, acknowledge=acknowledge,
                           config=PollerConfig(batch_size=200))
    stop = asyncio.Event()
    started = time.perf_counter()
    task = asyncio.create_task(poller.run(stop))
    await asyncio.wait_for(poller.synced.wait(), 120)
    return stop, task, time.perf_counter() - started


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--backlog", type=int, default=int(os.environ.get("BENCH_BACKLOG", 3000)))
    parser.add_argument("--live", type=int, default=200)
    parser.add_argument("--rate", type=float, default=20.0)
    parser.add_argument("--routed", type=int, default=300)
    parser.add_argument("--agents", type=int, default=5, help="agents accepting phase 3's offers")
    result = asyncio.run(main(parser.parse_args()))
    print(json.dumps(result))
