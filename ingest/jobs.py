"""RQ jobs for outbound mail, and how they are enqueued.

RQ job functions are synchronous and found by import path, so the worker's resources (settings,
one event loop, the database engine) reach them through ``JOB_CONTEXT``, a ContextVar the worker
sets once before it starts working (``ingest.worker``); nothing is created at import time.

The web process (realtime, which must not import ingest) enqueues ``notify_reply_job``,
``notify_closed_job``, ``notify_created_job`` and ``transcript_job`` by their import path. Every
mail is composed here, from the records: the recipient is always the conversation's contact, the
Message-ID the HMAC-tagged one of ``ingest.compose``, the sender the department's address.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import datetime, timedelta

from redis import Redis
from rq import Queue, Retry, get_current_job
from sqlalchemy import and_, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from desk import sla_store
from desk.conversations import Viewer, can_see
from desk.db import SessionMaker
from desk.i18n import Translator
from desk.mail_rules import (
    CLOSED_STATUSES,
    MAILED_CHANNELS,
    STAFF_AUTHORS,
    closing_is_mailed,
    reply_is_mailed,
    reply_text_is_mailed,
)
from desk.metrics import Metrics
from desk.models import (
    Agent,
    AuditEvent,
    Conversation,
    Department,
    Message,
    OutboundMail,
    utcnow,
)
from desk.settings import Settings
from ingest import notices, outbound
from ingest.errors import SendFailure
from routing import keys

RETRY_INTERVALS_S = (5, 30, 120, 600, 1800)


@dataclass
class JobContext:
    settings: Settings
    loop: asyncio.AbstractEventLoop
    sm: SessionMaker
    metrics: Metrics


JOB_CONTEXT: ContextVar[JobContext] = ContextVar("switchboard_job_context")


def send_mail_job(outbound_id: int) -> str:
    """Send one mail; each attempt is counted by what it left the mail as (sent, failed,
    retrying, or sending/missing when another worker has it or it is gone)."""
    ctx = JOB_CONTEXT.get()
    try:
        state = ctx.loop.run_until_complete(outbound.send(ctx.sm, ctx.settings, outbound_id))
    except SendFailure as exc:
        job = get_current_job()
        if job is None or job.retries_left:
            ctx.metrics.outbound_mail.labels("retrying").inc()
            raise
        ctx.loop.run_until_complete(
            outbound.give_up(ctx.sm, outbound_id, f"gave up after retries: {exc}"))
        state = "failed"
    ctx.metrics.outbound_mail.labels(state).inc()
    return state


def notify_reply_job(conversation_id: int, seq: int) -> str:
    """A stored message that ``desk.mail_rules.reply_is_mailed`` says goes to the customer:
    mail it (then send it). Anything else is skipped, whoever enqueued it."""
    ctx = JOB_CONTEXT.get()
    queued = ctx.loop.run_until_complete(queue_reply(ctx.sm, ctx.settings, conversation_id,
                                                     seq))
    return "skipped" if queued is SKIPPED else _send_queued(queued)


SKIPPED = outbound.Queued(0, created=False)  # queue_reply: the message is not mailed


async def queue_reply(sm: SessionMaker, settings: Settings, conversation_id: int,
                      seq: int) -> outbound.Queued | None:
    """The reply's OutboundMail row (to the customer, copied to the conversation's copies);
    ``SKIPPED`` when the message is not one to mail, None when there is nobody to mail."""
    async with sm() as s:
        conv = await s.get(Conversation, conversation_id)
        msg = (await s.execute(select(Message).where(
            Message.conversation_id == conversation_id, Message.seq == seq))
        ).scalar_one_or_none()
        dept = await s.get(Department, conv.department_id) \
            if conv is not None and conv.department_id is not None else None
    if conv is None or msg is None or not reply_is_mailed(
            conv.channel, visibility=msg.visibility, author_kind=msg.author_kind,
            email_message_id=msg.email_message_id):
        return SKIPPED
    number, text = conv.number, msg.body
    with_text = reply_text_is_mailed(dept.notify_mode if dept is not None else "full")
    # "Link only" mails carry neither the text nor the files: the case page shows both.
    return await outbound.queue_mail(
        sm, settings, conversation_id=conversation_id, kind="reply", key=reply_key(seq),
        body=lambda link, t: notices.reply(t, number, text, link, with_text=with_text),
        reply=True,
        attachment_ids=[int(f["id"]) for f in msg.files or []] if with_text else (),
        copied=lambda t: notices.copied_reply(t, number, text, with_text=with_text))


def forward_job(event_id: int) -> str:
    """Staff forwarded a ticket to someone outside the desk (the web process charged the mail
    guard): mail the note and the ticket's public thread, or the one message named, to the
    recipient the audit event records (then send it)."""
    ctx = JOB_CONTEXT.get()
    return _send_queued(ctx.loop.run_until_complete(
        queue_forward(ctx.sm, ctx.settings, event_id)))


async def queue_forward(sm: SessionMaker, settings: Settings,
                        event_id: int) -> outbound.Queued | None:
    """The forward's OutboundMail row (stored once, whoever calls it how often)."""
    async with sm() as s:
        event = await s.get(AuditEvent, event_id)
        if event is None:
            return None
        conv_id = int(event.target.removeprefix("conversation:"))
        seq = event.data.get("seq")
        rows = (await s.execute(select(Message).where(
            Message.conversation_id == conv_id, Message.visibility == "public",
            *([Message.seq == int(seq)] if seq is not None else []))
            .order_by(Message.seq))).scalars().all()
        agent = await s.get(Agent, event.actor_id) if event.actor_id else None
    lines = [_line(m) for m in rows]
    name, note = agent.display_name if agent else "The support team", event.data.get("note")
    return await outbound.queue_forward(
        sm, settings, event_id,
        lambda number: notices.forwarded(number, name, str(note or ""), lines))


def transcript_job(conversation_id: int, request_key: str) -> str:
    """A visitor asked for the transcript of their chat (the web process's mail guard let the
    request through): mail the public messages to the contact's own address, then send it.
    ``request_key`` tells requests apart; a retried job reuses it, so it is stored once."""
    ctx = JOB_CONTEXT.get()
    return ctx.loop.run_until_complete(_transcript(ctx, conversation_id, request_key))


async def _transcript(ctx: JobContext, conversation_id: int, request_key: str) -> str:
    async with ctx.sm() as s:
        conv = await s.get(Conversation, conversation_id)
        rows = (await s.execute(select(Message).where(
            Message.conversation_id == conversation_id).order_by(Message.seq))).scalars().all()
    if conv is None or conv.channel != "chat":
        return "skipped"
    contact = Viewer("contact", conv.contact_id)
    seen = [m for m in rows if can_see(contact, m.visibility, m.whisper_to)]
    number = conv.number

    def body(link: str, t: Translator) -> str:
        lines = [_line(m, notices.author(t, m.author_name, m.author_kind)) for m in seen]
        return notices.transcript(t, number, lines, link)

    queued = await outbound.queue_mail(
        ctx.sm, ctx.settings, conversation_id=conversation_id, kind="transcript",
        key=request_key[:64], body=body, reply=False,
        subject=lambda t: t("mail.subject.transcript"))
    return _send_queued(queued)


def _line(m: Message, who: str | None = None) -> str:
    """A message as a mailed thread shows it; ``who``: its author in the reader's words."""
    return f"[{m.created_at:%Y-%m-%d %H:%M}] {who or m.author_name or m.author_kind}: {m.body}"


def notify_created_job(conversation_id: int) -> str:
    """A new ticket from a person (queued by the poller after its rate check): acknowledge it
    with its number and link (then send it)."""
    ctx = JOB_CONTEXT.get()
    return ctx.loop.run_until_complete(_notify_created(ctx, conversation_id))


async def _notify_created(ctx: JobContext, conversation_id: int) -> str:
    async with ctx.sm() as s:
        conv = await s.get(Conversation, conversation_id)
        # Phrased from the moment it was filed: "by Tuesday 10:00" if the desk was closed.
        expected = None if conv is None else await sla_store.expected_response(
            s, conversation_id, sla_store.aware(conv.created_at) or utcnow(),
            await outbound.words_of(s, conv))
    if conv is None or conv.channel not in MAILED_CHANNELS:
        return "skipped"
    number, subject = conv.number, conv.subject or ""
    queued = await outbound.queue_mail(
        ctx.sm, ctx.settings, conversation_id=conversation_id, kind="created", key="1",
        body=lambda link, t: notices.created(t, number, subject, link, expected), reply=True)
    return _send_queued(queued)


def signin_job(contact_id: int, request_key: str) -> str:
    """A sign-in link was asked for with this contact's address (the web process's mail guard
    let it through): mail the one-time link (then send it)."""
    ctx = JOB_CONTEXT.get()
    queued = ctx.loop.run_until_complete(
        outbound.queue_signin(ctx.sm, ctx.settings, contact_id, request_key))
    return _send_queued(queued)


def notify_closed_job(conversation_id: int) -> str:
    """An email ticket was resolved or closed: tell the customer (once per closing)."""
    ctx = JOB_CONTEXT.get()
    return ctx.loop.run_until_complete(_notify_closed(ctx, conversation_id))


async def _notify_closed(ctx: JobContext, conversation_id: int) -> str:
    async with ctx.sm() as s:
        conv = await s.get(Conversation, conversation_id)
    if conv is None or not closing_is_mailed(conv.channel, conv.status, conv.closed_by):
        return "skipped"
    number, status = conv.number, conv.status
    queued = await outbound.queue_mail(
        ctx.sm, ctx.settings, conversation_id=conversation_id, kind="closed",
        key=closed_key(conv), body=lambda link, t: notices.closed(t, number, status, link),
        reply=True)
    return _send_queued(queued)


def reply_key(seq: int) -> str:
    """The OutboundMail key of the reply carrying message ``seq`` (part of its Message-ID)."""
    return f"seq-{seq}"


def closed_key(conv: Conversation) -> str:
    """The OutboundMail key of the notice of this closing (a reopened ticket closed again
    gets a new one)."""
    return conv.closed_at.isoformat() if conv.closed_at else conv.status


def _send_queued(queued: outbound.Queued | None) -> str:
    if queued is None:
        return "no recipient"
    job = get_current_job()
    assert job is not None, "runs as an RQ job"
    # Enqueued again on a retried notification: the send job's id is the row's, and sending
    # is idempotent on the row.
    enqueue_send(mail_queue(job.connection), queued.outbound_id)
    return "queued"


def mail_queue(connection: Redis) -> Queue:
    return Queue(keys.mail_queue(), connection=connection)


def enqueue_send(queue: Queue, outbound_id: int,
                 intervals: tuple[int, ...] = RETRY_INTERVALS_S) -> None:
    queue.enqueue_call(
        send_mail_job, args=(outbound_id,), job_id=f"mail-{outbound_id}",
        retry=Retry(max=len(intervals), interval=list(intervals)) if intervals else None,
        result_ttl=3600, failure_ttl=7 * 86400,
    )


def enqueue_notify(queue: Queue, func: Callable[..., str], *args: int) -> None:
    """Enqueue a reply or closed notice under the job id the web process uses
    (``realtime.mail``): a repeat runs it again, harmlessly (queue_mail stores it once)."""
    name = "reply" if func is notify_reply_job else "closed"
    queue.enqueue_call(func, args=args, job_id="-".join(map(str, ("notify", name, *args))),
                       retry=Retry(max=3, interval=[5, 30, 120]),
                       result_ttl=3600, failure_ttl=7 * 86400)


def enqueue_notify_created(queue: Queue, conversation_id: int) -> None:
    # One job per ticket, whoever enqueues it; a repeat is harmless (queue_mail stores the
    # acknowledgement once, sending is idempotent on its row).
    queue.enqueue_call(notify_created_job, args=(conversation_id,),
                       job_id=f"created-{conversation_id}",
                       retry=Retry(max=3, interval=[5, 30, 120]),
                       result_ttl=3600, failure_ttl=7 * 86400)


async def requeue_unsent(sm: SessionMaker, queue: Queue, older_than_s: float | None = 60,
                         intervals: tuple[int, ...] = RETRY_INTERVALS_S) -> int:
    """Re-enqueue mails a worker that died (SIGKILL mid-send) left ``sending`` once its lease
    lapsed, and with ``older_than_s`` (at start) those queued or retrying for that long, whose
    job may have been lost with Redis.

    Safe to run any time: sending takes the row by compare-and-set, once.
    """
    now = utcnow()
    lapsed = and_(OutboundMail.status == "sending", outbound.takeable(now))
    waiting = and_(OutboundMail.status.in_(("queued", "retrying")),
                   OutboundMail.created_at <= now - timedelta(seconds=older_than_s or 0))
    async with sm() as s:
        ids = (await s.execute(select(OutboundMail.id).where(
            lapsed if older_than_s is None else or_(lapsed, waiting)))).scalars().all()
    for outbound_id in ids:
        await asyncio.to_thread(enqueue_send, queue, outbound_id, intervals)
    return len(ids)


# What the sweep below looks at: the last day, once the hub's own job had its chance.
UNMAILED_HORIZON_S = 24 * 3600
UNMAILED_GRACE_S = 120
UNMAILED_PAGE = 500


async def requeue_unmailed(sm: SessionMaker, queue: Queue, *,
                           grace_s: float = UNMAILED_GRACE_S,
                           horizon_s: float = UNMAILED_HORIZON_S) -> int:
    """Enqueue the reply and closed notices (and forwards) the web process stored but never
    got onto the queue (Redis refused the enqueue, or the job was lost with Redis): the stored
    messages and closings of the last ``horizon_s`` that ``reply_is_mailed`` /
    ``closing_is_mailed`` pick, and the forwards recorded then, older than ``grace_s``, with no
    OutboundMail row for their key.

    Exactly once: the job stores the mail under its key-derived Message-ID (unique), and a
    repeated job finds it. Both reads go by index (``ix_messages_staff_public``,
    ``ix_conversations_closed_at``), page by page."""
    now = utcnow()
    since, until = now - timedelta(seconds=horizon_s), now - timedelta(seconds=grace_s)
    found = 0
    after = 0
    while True:
        async with sm() as s:
            rows = (await s.execute(
                select(Message.id, Message.conversation_id, Message.seq, Message.visibility,
                       Message.author_kind, Message.email_message_id, Conversation.channel)
                .join(Conversation, Conversation.id == Message.conversation_id)
                .where(Message.created_at >= since, Message.created_at <= until,
                       Message.author_kind.in_(sorted(STAFF_AUTHORS)),
                       Message.visibility == "public", Message.email_message_id.is_(None),
                       Conversation.channel.in_(sorted(MAILED_CHANNELS)), Message.id > after)
                .order_by(Message.id).limit(UNMAILED_PAGE))).all()
            wanted = {(r.conversation_id, reply_key(r.seq)) for r in rows if reply_is_mailed(
                r.channel, visibility=r.visibility, author_kind=r.author_kind,
                email_message_id=r.email_message_id)}
            missing = wanted - await _stored(s, "reply", wanted)
        for cid, key in sorted(missing):
            await asyncio.to_thread(enqueue_notify, queue, notify_reply_job, cid,
                                    int(key.removeprefix("seq-")))
        found += len(missing)
        if len(rows) < UNMAILED_PAGE:
            break
        after = rows[-1].id
    async with sm() as s:
        convs = (await s.execute(select(Conversation).where(
            Conversation.closed_at >= since, Conversation.closed_at <= until,
            Conversation.status.in_(sorted(CLOSED_STATUSES)),
            Conversation.channel.in_(sorted(MAILED_CHANNELS))))).scalars().all()
        closings = {(c.id, closed_key(c)) for c in convs
                    if closing_is_mailed(c.channel, c.status, c.closed_by)}
        missing = closings - await _stored(s, "closed", closings)
    for cid, _ in sorted(missing):
        await asyncio.to_thread(enqueue_notify, queue, notify_closed_job, cid)
    return found + len(missing) + await _requeue_forwards(sm, queue, since, until)


async def _requeue_forwards(sm: SessionMaker, queue: Queue, since: datetime,
                            until: datetime) -> int:
    """The forwards recorded in the window that have no mail yet (their job never reached
    the queue)."""
    async with sm() as s:
        events = (await s.execute(select(AuditEvent.id, AuditEvent.target).where(
            AuditEvent.created_at >= since, AuditEvent.created_at <= until,
            AuditEvent.action == "conversation.forwarded"))).all()
        wanted = {(int(target.removeprefix("conversation:")), outbound.forward_key(event_id))
                  for event_id, target in events}
        missing = wanted - await _stored(s, "forward", wanted)
    for _, key in sorted(missing):
        await asyncio.to_thread(enqueue_forward, queue, int(key.removeprefix("forward-")))
    return len(missing)


def enqueue_forward(queue: Queue, event_id: int) -> None:
    # The job id the web process uses (realtime.mail.Mailer.forward): a repeat is harmless.
    queue.enqueue_call(forward_job, args=(event_id,), job_id=f"forward-{event_id}",
                       retry=Retry(max=3, interval=[5, 30, 120]),
                       result_ttl=3600, failure_ttl=7 * 86400)


async def _stored(s: AsyncSession, kind: str,
                  wanted: set[tuple[int, str]]) -> set[tuple[int, str]]:
    """Which of ``wanted`` (conversation, key) already have an OutboundMail of ``kind``."""
    if not wanted:
        return set()
    rows = (await s.execute(select(OutboundMail.conversation_id, OutboundMail.key).where(
        OutboundMail.kind == kind,
        OutboundMail.conversation_id.in_(sorted({c for c, _ in wanted}))))).all()
    return {(c, k) for c, k in rows if c is not None and k is not None} & wanted
