"""RQ jobs for outbound mail, and how they are enqueued.

RQ job functions are synchronous and found by import path, so the worker's resources (settings,
one event loop, the database engine) reach them through ``JOB_CONTEXT``, a ContextVar the worker
sets once before it starts working (``ingest.worker``); nothing is created at import time.
"""

from __future__ import annotations

import asyncio
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import timedelta

from redis import Redis
from rq import Queue, Retry, get_current_job
from sqlalchemy import select

from desk.db import SessionMaker
from desk.models import OutboundMail, utcnow
from desk.settings import Settings
from ingest import outbound
from ingest.errors import SendFailure
from routing import keys

RETRY_INTERVALS_S = (5, 30, 120, 600, 1800)


@dataclass
class JobContext:
    settings: Settings
    loop: asyncio.AbstractEventLoop
    sm: SessionMaker


JOB_CONTEXT: ContextVar[JobContext] = ContextVar("switchboard_job_context")


def send_mail_job(outbound_id: int) -> str:
    ctx = JOB_CONTEXT.get()
    try:
        return ctx.loop.run_until_complete(outbound.send(ctx.sm, ctx.settings, outbound_id))
    except SendFailure as exc:
        job = get_current_job()
        if job is not None and not job.retries_left:
            ctx.loop.run_until_complete(
                outbound.give_up(ctx.sm, outbound_id, f"gave up after retries: {exc}"))
            return "failed"
        raise


def mail_queue(connection: Redis) -> Queue:
    return Queue(keys.mail_queue(), connection=connection)


def enqueue_send(queue: Queue, outbound_id: int,
                 intervals: tuple[int, ...] = RETRY_INTERVALS_S) -> None:
    queue.enqueue_call(
        send_mail_job, args=(outbound_id,), job_id=f"mail-{outbound_id}",
        retry=Retry(max=len(intervals), interval=list(intervals)) if intervals else None,
        result_ttl=3600, failure_ttl=7 * 86400,
    )


async def requeue_unsent(sm: SessionMaker, queue: Queue, older_than_s: float = 60,
                         intervals: tuple[int, ...] = RETRY_INTERVALS_S) -> int:
    """Re-enqueue mails left queued/sending by a worker that died (SIGKILL mid-send).

    Safe to run any time: sending is idempotent on the OutboundMail row.
    """
    cutoff = utcnow() - timedelta(seconds=older_than_s)
    async with sm() as s:
        ids = (await s.execute(select(OutboundMail.id).where(
            OutboundMail.status.in_(("queued", "sending", "retrying")),
            OutboundMail.created_at <= cutoff))).scalars().all()
    for outbound_id in ids:
        await asyncio.to_thread(enqueue_send, queue, outbound_id, intervals)
    return len(ids)
