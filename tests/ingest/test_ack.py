"""The "ticket created" acknowledgement, end to end: poller -> OutboundMail + RQ job -> a real
worker process -> SMTP sink. Never for auto-replies, bulk mail or bounces; rate-limited per
sender by the mail guard (``routing.mail_guard``)."""

from __future__ import annotations

import asyncio
import re
import time
from email import message_from_bytes
from email.message import EmailMessage
from email.policy import default
from typing import Any
from urllib.parse import unquote

import redis.asyncio as aioredis
from redis import Redis
from sqlalchemy import select

from desk import case_links
from desk.case_links import Kind
from desk.models import Conversation, InboundMail, OutboundMail
from ingest import jobs
from ingest.compose import is_own_message_id
from ingest.poller import make_acknowledger
from routing.mail_guard import MailGuard
from tests.ingest import corpus, procs
from tests.ingest.conftest import Records
from tests.ingest.harness import count, eventually, running
from tests.ingest.procs import Processes
from tests.support.dovecot import Dovecot
from tests.support.smtp_sink import Sink

FLOOD = 20


def _parsed(envelope: Any) -> EmailMessage:
    content = envelope.content or b""
    return message_from_bytes(
        content if isinstance(content, bytes) else content.encode(), policy=default)


async def test_ticket_created_acknowledgement_sent_once_and_only_to_people(
    dovecot: Dovecot, records: Records, redis: aioredis.Redis, smtp_sink: Sink,
    processes: Processes
) -> None:
    settings = records.settings.with_(smtp_host="127.0.0.1", smtp_port=smtp_sink.port,
                                      public_url="https://help.example")
    box = await records.mailbox(dovecot)
    dovecot.deliver(corpus.simple(message_id="<m1@example.org>"))
    for name in ("auto_reply_ooo.eml", "bulk_newsletter.eml", "bounce_dsn.eml"):
        dovecot.deliver(corpus.files()[name])
    for i in range(FLOOD):
        dovecot.deliver(corpus.simple(sender="Flood <flood@example.net>", subject=f"Help {i}",
                                      message_id=f"<flood-{i}@example.net>"))
    assert settings.redis_url
    queue = jobs.mail_queue(Redis.from_url(settings.redis_url))

    async def enqueue(conversation_id: int) -> None:
        await asyncio.to_thread(jobs.enqueue_notify_created, queue, conversation_id)

    ack = make_acknowledger(MailGuard.of(redis, settings), enqueue)
    budget = settings.mail_per_recipient_per_hour
    try:
        async with running(records, redis, box, acknowledge=ack) as run:
            await eventually(lambda: _imported(records, 4 + FLOOD))
            await run.poller.synced.wait()
    finally:
        queue.connection.close()
    worker = processes.spawn("worker", settings=settings)
    assert await asyncio.to_thread(worker.wait, 60) == 0, procs.log_tail(settings)

    rcpts = [tuple(env.rcpt_tos) for env in smtp_sink.messages]
    assert sorted(set(rcpts)) == [("alice@example.org",), ("flood@example.net",)]
    assert rcpts.count(("flood@example.net",)) == budget
    assert rcpts.count(("alice@example.org",)) == 1
    async with records.sm() as s:
        conv = (await s.execute(select(Conversation).where(
            Conversation.subject == "Printer on fire"))).scalar_one()
        rows = (await s.execute(select(OutboundMail))).scalars().all()
    assert {r.status for r in rows} == {"sent"} and len(rows) == 1 + budget
    assert await count(records, Conversation) == 3 + FLOOD  # bounce: stored, no ticket

    (env,) = [e for e in smtp_sink.messages if e.rcpt_tos == ["alice@example.org"]]
    mail = _parsed(env)
    assert f"[{conv.number}]" in mail["Subject"]
    assert mail["In-Reply-To"] == "<m1@example.org>"
    assert "<m1@example.org>" in mail["References"]
    assert mail["Auto-Submitted"] == "auto-generated"
    assert is_own_message_id(mail["Message-ID"], settings.secret_key)
    assert "<support-" in str(mail["From"]) and "@desk.example>" in str(mail["From"])
    body = mail.get_body(("plain",))
    assert body is not None
    text = body.get_content()
    assert conv.number in text
    (link,) = re.findall(r"https://help\.example/c/\S+", text)
    assert link.startswith(f"https://help.example/c/{conv.number}?t=")
    grant = case_links.verify(settings.secret_key, unquote(link.partition("?t=")[2]),
                              time.time(), Kind.CASE)
    assert grant is not None and grant.number == conv.number
    assert grant.contact_id == conv.contact_id


async def _imported(records: Records, n: int) -> bool:
    return await count(records, InboundMail) == n
