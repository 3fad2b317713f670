"""Benchmark the email channel: IMAP -> tickets throughput, and time to ticket on the IDLE path.

Brings up a private Dovecot (unprivileged, loopback), a private redis-server and a SQLite
database in a temp dir; preloads the mailbox with a size mix; runs one MailboxPoller.

Phase 1 (backlog): ``--backlog`` mails already in the mailbox -> msgs_per_s (import into
tickets; routing and acknowledgements are stubs, so this is the import path alone).
Phase 2 (IDLE): ``--live`` mails delivered at ``--rate``/s while the poller idles; time from
delivery (Maildir rename) to the ticket being committed and routed -> time_to_ticket_p99_s.
Phase 3 (routed backlog): ``--routed`` more mails through a poller with the real router and
acknowledger, as ``switchboard poll`` runs it -> routed_msgs_per_s.
Last line: JSON with msgs_per_s, time_to_ticket_p99_s, routed_msgs_per_s, duplicates, lost.
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
from sqlalchemy import func, select

from desk.db import SessionMaker, make_engine, make_sessionmaker
from desk.models import Conversation, InboundMail, Message
from desk.schema import create_all
from desk.settings import Settings
from ingest import jobs
from ingest.poller import Acknowledge, MailboxPoller, PollerConfig, RouteTickets, make_acknowledger
from ingest.tickets import Imported
from routing.mail_guard import MailGuard
from routing.router import Router
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
        routed_s = await _routed_backlog(args, dovecot, rng, settings, sm, redis, box_id)
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
            "duplicates": int(n_conv) - distinct + (int(n_inbound) - distinct),
            "lost": expected - distinct,
        }
    finally:
        dovecot.cleanup()
        redis_server.close()
        shutil.rmtree(root, ignore_errors=True)


async def _routed_backlog(args: argparse.Namespace, dovecot: Dovecot, rng: random.Random,
                          settings: Settings, sm: SessionMaker, redis: aioredis.Redis,
                          box_id: int) -> float:
    """Phase 3: seconds to import ``--routed`` mails with the real router and acknowledger."""
    if not args.routed:
        return 0.0
    for i in range(args.routed):
        dovecot.deliver(make_mail(i, pick_size(rng), "r"))
    queue = jobs.mail_queue(Redis.from_url(settings.redis_url or ""))
    router = Router(settings, redis, sm)
    # As under `switchboard poll`, the live routing state exists already (the web and worker
    # processes keep it); here phases 1-2 left their tickets in the records only.
    await router.rebuild()

    async def enqueue(conversation_id: int) -> None:
        await asyncio.to_thread(jobs.enqueue_notify_created, queue, conversation_id)

    ack = make_acknowledger(MailGuard.of(redis, settings), enqueue)
    stop, task, elapsed = await _synced_poller(box_id, sm, redis, settings, router.enqueue_many,
                                               ack)
    stop.set()
    await asyncio.wait_for(task, 30)
    queue.connection.close()
    return elapsed


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
    result = asyncio.run(main(parser.parse_args()))
    print(json.dumps(result))
