"""``switchboard worker``: an RQ worker (non-forking, with scheduler) for outbound mail.

``SimpleWorker`` runs jobs in-process: forking per job costs far more than sending one mail. RQ
handles SIGINT/SIGTERM itself (finish the current job, then stop).

A worker killed mid-send leaves its mail ``sending`` under a lease (``Settings.mail_lease_s``,
ingest.outbound). A sweeper thread re-enqueues such a mail the moment its lease lapses, so a
restarted worker (or any other one) sends it within a lease period, not when RQ gives the
killed job up as abandoned (minutes later). Each pass (and the start) also enqueues the reply and
closed notices the web process stored but could not enqueue (``ingest.jobs.requeue_unmailed``).
A third thread fires the desk's due timers (SLA breaches, the inactivity ladder, time-based
rules: ``ingest.due``); a fourth delivers the outgoing webhooks (``desk.webhooks.run_once``).
"""

from __future__ import annotations

import asyncio
import logging
import threading
from datetime import UTC, datetime

from rq import Queue, SimpleWorker
from sqlalchemy import func, select

from desk import webhooks
from desk.db import SessionMaker, make_engine, make_sessionmaker
from desk.metrics import Metrics
from desk.models import OutboundMail, utcnow
from desk.settings import Settings
from ingest import due
from ingest.jobs import (
    JOB_CONTEXT,
    JobContext,
    mail_queue,
    requeue_unmailed,
    requeue_unsent,
)
from routing import connect

log = logging.getLogger(__name__)

SWEEP_MIN_S = 0.1
WEBHOOK_POLL_S = 1.0


def run(settings: Settings, *, burst: bool = False, requeue_after_s: float = 60,
        metrics: Metrics | None = None) -> None:
    """``metrics``: the process's (desk.metrics; ``switchboard worker`` shares it with the
    routing timers' thread), else made here."""
    if not settings.redis_url:
        raise SystemExit("the worker needs REDIS_URL")
    metrics = metrics or Metrics.build(settings, "worker")
    loop = asyncio.new_event_loop()
    engine = make_engine(settings)
    sm = make_sessionmaker(engine)
    connection = connect.sync_client(settings.redis_url)
    queue = mail_queue(connection)
    token = JOB_CONTEXT.set(JobContext(settings=settings, loop=loop, sm=sm, metrics=metrics))
    stop = threading.Event()
    # Built before any command: RQ raises the pool's socket timeout above its BLPOP wait, which
    # a connection made earlier (with connect's timeout) would not get, and time out on.
    worker = SimpleWorker([queue], connection=connection)
    try:
        requeued = loop.run_until_complete(requeue_unsent(sm, queue, requeue_after_s))
        if requeued:
            log.info("re-enqueued %d unsent mails left by a previous worker", requeued)
        _requeue_unmailed(loop, sm, queue)
        if not burst:
            threading.Thread(target=_sweeper, args=(settings, queue, stop), daemon=True,
                             name="outbound-sweeper").start()
            threading.Thread(target=due.run, args=(settings, stop),
                             kwargs={"metrics": metrics}, daemon=True,
                             name="due-timers").start()
            threading.Thread(target=_webhooks, args=(settings, stop), daemon=True,
                             name="webhooks").start()
        worker.work(burst=burst, with_scheduler=True, logging_level="WARNING")
    finally:
        stop.set()
        JOB_CONTEXT.reset(token)
        loop.run_until_complete(engine.dispose())
        loop.close()
        connection.close()


def _sweeper(settings: Settings, queue: Queue, stop: threading.Event) -> None:
    """Until ``stop``: re-enqueue the mails whose lease lapsed, then wait for the next lapse
    (at most a lease period: a mail taken meanwhile lapses no sooner)."""
    loop = asyncio.new_event_loop()  # the jobs' loop belongs to the main thread
    engine = make_engine(settings)
    sm = make_sessionmaker(engine)
    wait = 0.0
    try:
        while not stop.wait(wait):
            try:
                if loop.run_until_complete(requeue_unsent(sm, queue, None)):
                    log.warning("re-enqueued mail left sending by a worker that stopped")
                _requeue_unmailed(loop, sm, queue)
                lapse = loop.run_until_complete(_next_lapse(sm))
            except Exception:  # the database or Redis away: look again in a while
                log.exception("outbound sweep failed")
                lapse = None
            wait = settings.mail_lease_s if lapse is None else min(
                settings.mail_lease_s, max(SWEEP_MIN_S, (lapse - utcnow()).total_seconds()))
    finally:
        loop.run_until_complete(engine.dispose())
        loop.close()


def _webhooks(settings: Settings, stop: threading.Event) -> None:
    """Until ``stop``: deliver the webhook outbox, looking again at once while there is work."""
    loop = asyncio.new_event_loop()
    engine = make_engine(settings)
    sm = make_sessionmaker(engine)
    wait = 0.0
    try:
        while not stop.wait(wait):
            try:
                sent = loop.run_until_complete(webhooks.run_once(
                    sm, allowed=settings.outbound_allow_networks,
                    timeout_s=settings.outbound_timeout_s))
            except Exception:  # the database away: look again in a while
                log.exception("webhook pass failed")
                sent = 0
            wait = 0.0 if sent else WEBHOOK_POLL_S
    finally:
        loop.run_until_complete(engine.dispose())
        loop.close()


def _requeue_unmailed(loop: asyncio.AbstractEventLoop, sm: SessionMaker, queue: Queue) -> None:
    found = loop.run_until_complete(requeue_unmailed(sm, queue))
    if found:
        log.warning("enqueued %d reply or closed notices no job was queued for", found)


async def _next_lapse(sm: SessionMaker) -> datetime | None:
    """When the next live lease lapses (a lapsed one was just re-enqueued: not waited for)."""
    async with sm() as s:
        at = (await s.execute(select(func.min(OutboundMail.lease_until)).where(
            OutboundMail.status == "sending", OutboundMail.lease_until > utcnow())
        )).scalar_one_or_none()
    return at if at is None or at.tzinfo else at.replace(tzinfo=UTC)
