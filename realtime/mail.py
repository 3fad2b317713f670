"""Mail the hub asks for (replies, closed notices, acknowledgements, transcripts), handed to the
worker by name.

realtime must not import ingest, so the jobs are enqueued on the RQ mail queue by their import
path (``ingest.jobs.<function>``); the worker resolves them and composes every mail from the
records (recipient, HMAC Message-ID, sender), so nothing mailed is built here. RQ's client is
synchronous: each enqueue runs in a thread, off the event loop, on one connection per web
process.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from redis.exceptions import RedisError
from rq import Queue, Retry

from routing import connect, keys

log = logging.getLogger("switchboard.realtime")

NOTIFY_REPLY = "ingest.jobs.notify_reply_job"
NOTIFY_CLOSED = "ingest.jobs.notify_closed_job"
NOTIFY_CREATED = "ingest.jobs.notify_created_job"
TRANSCRIPT = "ingest.jobs.transcript_job"
SIGNIN = "ingest.jobs.signin_job"
FORWARD = "ingest.jobs.forward_job"
# As ingest.jobs.enqueue_notify_created / enqueue_notify: the same job id whoever enqueues it
# (the worker's sweep enqueues what never got here, ingest.jobs.requeue_unmailed).
NOTIFY_RETRY_S = (5, 30, 120)


class Mailer:
    def __init__(self, redis_url: str) -> None:
        self._redis = connect.sync_client(redis_url)
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
            log.warning("could not enqueue %s%r: %r", func, args, exc)
            return False
        return True

    async def reply_posted(self, conversation_id: int, seq: int) -> bool:
        """A stored message that ``desk.mail_rules.reply_is_mailed`` says goes out by mail."""
        return await self.enqueue(NOTIFY_REPLY, conversation_id, seq,
                                  job_id=f"notify-reply-{conversation_id}-{seq}",
                                  retry=NOTIFY_RETRY_S)

    async def closed(self, conversation_id: int) -> bool:
        """A closing that ``desk.mail_rules.closing_is_mailed`` says the customer is told of."""
        return await self.enqueue(NOTIFY_CLOSED, conversation_id,
                                  job_id=f"notify-closed-{conversation_id}",
                                  retry=NOTIFY_RETRY_S)

    async def created(self, conversation_id: int) -> bool:
        """Acknowledge a new ticket (the caller passed the mail guard)."""
        return await self.enqueue(NOTIFY_CREATED, conversation_id,
                                  job_id=f"created-{conversation_id}", retry=NOTIFY_RETRY_S)

    async def signin(self, contact_id: int, request_key: str) -> bool:
        """Mail a one-time sign-in link to the contact (the caller passed the mail guard)."""
        return await self.enqueue(SIGNIN, contact_id, request_key,
                                  job_id=f"signin-{contact_id}-{request_key}",
                                  retry=NOTIFY_RETRY_S)

    async def transcript(self, conversation_id: int, request_key: str) -> bool:
        """Mail a chat's transcript to its contact (the caller passed the mail guard)."""
        return await self.enqueue(TRANSCRIPT, conversation_id, request_key,
                                  job_id=f"transcript-{conversation_id}-{request_key}",
                                  retry=NOTIFY_RETRY_S)

    async def forward(self, event_id: int) -> bool:
        """Mail a ticket staff forwarded (the caller charged the mail guard)."""
        return await self.enqueue(FORWARD, event_id, job_id=f"forward-{event_id}",
                                  retry=NOTIFY_RETRY_S)
