"""``switchboard worker``: an RQ worker (non-forking, with scheduler) for outbound mail.

``SimpleWorker`` runs jobs in-process: forking per job costs far more than sending one mail. RQ
handles SIGINT/SIGTERM itself (finish the current job, then stop).
"""

from __future__ import annotations

import asyncio
import logging

from rq import SimpleWorker

from desk.db import make_engine, make_sessionmaker
from desk.settings import Settings
from ingest.jobs import JOB_CONTEXT, JobContext, mail_queue, requeue_unsent
from routing import connect

log = logging.getLogger(__name__)


def run(settings: Settings, *, burst: bool = False, requeue_after_s: float = 60) -> None:
    if not settings.redis_url:
        raise SystemExit("the worker needs REDIS_URL")
    loop = asyncio.new_event_loop()
    engine = make_engine(settings)
    sm = make_sessionmaker(engine)
    connection = connect.sync_client(settings.redis_url)
    queue = mail_queue(connection)
    token = JOB_CONTEXT.set(JobContext(settings=settings, loop=loop, sm=sm))
    try:
        requeued = loop.run_until_complete(requeue_unsent(sm, queue, requeue_after_s))
        if requeued:
            log.info("re-enqueued %d unsent mails left by a previous worker", requeued)
        worker = SimpleWorker([queue], connection=connection)
        worker.work(burst=burst, with_scheduler=True, logging_level="WARNING")
    finally:
        JOB_CONTEXT.reset(token)
        loop.run_until_complete(engine.dispose())
        loop.close()
        connection.close()
