"""Poller processes SIGKILLed (or frozen) mid-batch: every mail ends up exactly once.

Real processes (``python -m tests.ingest.procs poll``: ``ingest.poller.run`` with the real
router and acknowledger), a real Dovecot preloaded with a few hundred mails, the records and
Redis. Kills land at different points of the backlog and at different delays after a commit,
so some hit a transaction in flight, some a body FETCH, some the routing after a commit.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import time

import redis.asyncio as aioredis
from sqlalchemy import func, select
from sqlalchemy.exc import OperationalError

from desk.models import Conversation, InboundMail, Mailbox, Message
from routing import keys
from routing.router import SWEEP_S, Router
from tests.ingest import procs
from tests.ingest.conftest import Records
from tests.ingest.harness import count, eventually
from tests.ingest.procs import Processes
from tests.support.dovecot import Dovecot

N = 300
REPLY_EVERY = 10  # every 10th mail answers the one before it (same sender): the join path


def _mail(i: int) -> bytes:
    sender = f"customer{i % 12}@example.org"
    lines = [f"From: Customer <{sender}>", "To: support@desk.example",
             f"Subject: Question {i}", f"Message-ID: <crash-{i}@example.org>"]
    if i % REPLY_EVERY == REPLY_EVERY - 1:
        lines[0] = f"From: Customer <customer{(i - 1) % 12}@example.org>"
        lines.append(f"In-Reply-To: <crash-{i - 1}@example.org>")
    size = 30_000 if i % 7 == 0 else 1_500
    body = ("Lorem ipsum dolor sit amet. " * (size // 28))[:size]
    lines += ["Content-Type: text/plain; charset=utf-8", "", body, ""]
    return "\r\n".join(lines).encode()


def _preload(dovecot: Dovecot) -> None:
    for i in range(N):
        dovecot.deliver(_mail(i))


async def _imported(records: Records) -> int:
    return await count(records, InboundMail)


async def _until(records: Records, n: int, proc: subprocess.Popen[bytes],
                 within_s: float = 30) -> None:
    async def reached() -> bool:
        assert proc.poll() is None, procs.log_tail(records.settings)
        try:
            return await _imported(records) >= n
        except OperationalError as exc:
            # SQLite: a poller frozen (SIGSTOP) mid-commit can leave readers "database is
            # locked" until it runs again; the observer looks again, it does not fail.
            if "locked" not in str(exc):
                raise
            return False
    await eventually(reached, within_s)


async def _stop(proc: subprocess.Popen[bytes]) -> None:
    proc.send_signal(signal.SIGTERM)
    assert await asyncio.to_thread(proc.wait, 20) == 0


async def _assert_each_mail_once(records: Records, box: int) -> None:
    async with records.sm() as s:
        keys_ = (await s.execute(select(InboundMail.message_key, InboundMail.status))).all()
        ids = (await s.execute(select(Message.email_message_id, Message.conversation_id))
               ).all()
        seqs = (await s.execute(
            select(Conversation.id, Conversation.last_seq, func.count(Message.id),
                   func.max(Message.seq))
            .join(Message, Message.conversation_id == Conversation.id)
            .group_by(Conversation.id, Conversation.last_seq))).all()
        mailbox = await s.get(Mailbox, box)
    expected = {f"<crash-{i}@example.org>" for i in range(N)}
    assert len(keys_) == N and {k for k, _ in keys_} == expected  # no loss, no duplicate
    assert len(ids) == N and {m for m, _ in ids} == expected
    replies = N // REPLY_EVERY
    assert sorted(st for _, st in keys_) == ["reply"] * replies + ["ticket"] * (N - replies)
    conv_of = dict(ids)
    for i in range(REPLY_EVERY - 1, N, REPLY_EVERY):
        assert conv_of[f"<crash-{i}@example.org>"] == conv_of[f"<crash-{i - 1}@example.org>"]
    assert len(seqs) == N - replies
    assert all(last == n == top for _, last, n, top in seqs)  # seq 1..n, no gap or repeat
    assert mailbox is not None and mailbox.last_uid == N


async def test_sigkill_mid_batch_then_restart_imports_each_mail_exactly_once(
    dovecot: Dovecot, records: Records, redis: aioredis.Redis, processes: Processes
) -> None:
    box = await records.mailbox(dovecot)
    _preload(dovecot)
    # (imported mails to wait for, then a delay before SIGKILL): a kill while starting up,
    # then kills right after a commit (mid next transaction or FETCH) and a little later.
    for target, delay_s in ((0, 0.5), (1, 0.0), (60, 0.03), (120, 0.09), (180, 0.0)):
        proc = processes.spawn("poll", "1500")
        # At least one more mail than before, unless an earlier poller already took them all.
        want = min(N, max(target, await _imported(records) + 1)) if target else 0
        await _until(records, want, proc)
        await asyncio.sleep(delay_s)
        procs.kill(proc)
    # The kills at 60 and 120 land mid-backlog; a fast machine may finish before the last one.
    assert 180 <= await _imported(records) <= N
    stale = await redis.get(keys.mailbox_lease(box))  # the last killed poller's, if any
    proc = processes.spawn("poll", "1500")
    await _until(records, N, proc)
    await eventually(lambda: _cursor_at(records, box, N))
    # Running, not still starting up (a SIGTERM then would find no handler): it holds the lease.
    await eventually(lambda: _holds_lease(redis, box, stale))
    await _stop(proc)
    await _assert_each_mail_once(records, box)
    assert not await redis.exists(keys.mailbox_lease(box))  # released on SIGTERM
    await _assert_every_ticket_routed(records, redis)


async def _assert_every_ticket_routed(records: Records, redis: aioredis.Redis) -> None:
    """Tickets a killed poller committed but never routed: the routing timers' sweep queues
    them (two sightings ``SWEEP_S`` apart), so every open ticket ends up in the router."""
    now = [time.time()]
    router = Router(records.settings, redis, records.sm, clock=lambda: now[0])
    for _ in range(3):
        now[0] += SWEEP_S + 1
        await router.tick()
    async with records.sm() as s:
        ids = (await s.scalars(select(Conversation.id).where(
            Conversation.status == "queued", Conversation.group_id.is_not(None)))).all()
    assert len(ids) == N - N // REPLY_EVERY  # nobody online: every ticket waits in its queue
    assert await router.store.missing(list(ids)) == []


async def _holds_lease(redis: aioredis.Redis, box: int, stale: bytes | str | None) -> bool:
    token = await redis.get(keys.mailbox_lease(box))
    return token is not None and token != stale


async def _cursor_at(records: Records, box: int, uid: int) -> bool:
    async with records.sm() as s:
        row = await s.get(Mailbox, box)
    return row is not None and row.last_uid == uid


async def test_second_poller_takes_over_when_the_first_is_sigkilled(
    dovecot: Dovecot, records: Records, redis: aioredis.Redis, processes: Processes
) -> None:
    box = await records.mailbox(dovecot)
    _preload(dovecot)
    first = processes.spawn("poll", "1000")
    await _until(records, 1, first)  # the first holds the lease now
    second = processes.spawn("poll", "1000")
    await _until(records, 120, first)
    procs.kill(first)
    assert await _imported(records) < N
    await _until(records, N, second)
    await eventually(lambda: _cursor_at(records, box, N))
    await _stop(second)
    await _assert_each_mail_once(records, box)


async def test_frozen_poller_losing_its_lease_mid_batch_duplicates_nothing(
    dovecot: Dovecot, records: Records, redis: aioredis.Redis, processes: Processes
) -> None:
    """SIGSTOP past the lease TTL: a second poller takes over; SIGCONT lets the first finish the
    batch it was in (it notices the lost lease only then), so both briefly import the same
    mails — the unique key keeps each once."""
    box = await records.mailbox(dovecot)
    _preload(dovecot)
    first = processes.spawn("poll", "1000")
    await _until(records, 60, first)
    os.killpg(first.pid, signal.SIGSTOP)
    second = processes.spawn("poll", "1000")
    await asyncio.sleep(2.5)  # lease expired; the second has taken it and is working
    os.killpg(first.pid, signal.SIGCONT)
    await _until(records, N, second)
    await eventually(lambda: _cursor_at(records, box, N))
    assert first.poll() is None  # it stood down, it did not crash
    await _stop(first)
    await _stop(second)
    await _assert_each_mail_once(records, box)
