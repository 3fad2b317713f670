"""Mail the hub asks for (replies, closed notices, transcripts), handed to the worker by name.

realtime must not import ingest, so the jobs are enqueued on the RQ mail queue by their import
path (``ingest.jobs.<function>``); the worker resolves them. RQ's client is synchronous: each
enqueue runs in a thread, off the event loop, on one connection per web process.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from redis import Redis
from redis.exceptions import RedisError
from rq import Queue, Retry

from routing import keys

log = logging.getLogger("switchboard.realtime")

# The transcript is sent by the same job as every outbound mail, with ingest's retry schedule
# (ingest.jobs.RETRY_INTERVALS_S); the row's Message-ID keeps a retried send from doubling.
SEND_RETRY_S = (5, 30, 120, 600, 1800)
NOTIFY_REPLY = "ingest.jobs.notify_reply_job"
NOTIFY_CLOSED = "ingest.jobs.notify_closed_job"
SEND_MAIL = "ingest.jobs.send_mail_job"


class Mailer:
    def __init__(self, redis_url: str) -> None:
        self._redis = Redis.from_url(redis_url)
        self._queue = Queue(keys.mail_queue(), connection=self._redis)

    def close(self) -> None:
        self._redis.close()

    async def enqueue(self, func: str, *args: Any, job_id: str | None = None,
                      retry: tuple[int, ...] = ()) -> bool:
        """Enqueue ``func(*args)`` for the worker; False (logged) if Redis refused."""
        try:
            await asyncio.to_thread(
                self._queue.enqueue_call, func, args=args, job_id=job_id,
                retry=Retry(max=len(retry), interval=list(retry)) if retry else None,
                result_ttl=3600, failure_ttl=7 * 86400)
        except (RedisError, OSError) as exc:
            # The rows are stored: the worker's start-up sweep re-enqueues unsent mail.
            log.warning("could not enqueue %s%r: %r", func, args, exc)
            return False
        return True

    async def reply_posted(self, conversation_id: int, message_id: int) -> None:
        await self.enqueue(NOTIFY_REPLY, conversation_id, message_id,
                           job_id=f"notify-reply-{message_id}")

    async def closed(self, conversation_id: int) -> None:
        await self.enqueue(NOTIFY_CLOSED, conversation_id)

    async def send(self, outbound_id: int) -> None:
        await self.enqueue(SEND_MAIL, outbound_id, job_id=f"mail-{outbound_id}",
                           retry=SEND_RETRY_S)
