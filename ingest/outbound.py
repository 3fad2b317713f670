"""Outbound mail: queue notifications and agent replies as OutboundMail rows + RQ jobs, and send.

Queueing writes the OutboundMail row first (its Message-ID, derived from what the mail is for,
is unique, so queueing the same notification twice stores it once), then enqueues the send job
with a job id derived from the row. Sending composes the same bytes from the row every time and
marks the row ``sent`` right after the server's 250: a retried or restarted job finds it sent and
does nothing. Failures are written to the row (``last_error``, ``attempts``) and, when final, as
an internal note on the ticket.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import aiosmtplib
from sqlalchemy import ColumnElement, and_, or_, select, update
from sqlalchemy.exc import IntegrityError, SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncSession

from desk import portal, smtp_relay, ticket_work
from desk.attachments import path_for
from desk.background import stop_tasks
from desk.case_links import Kind, signin_url
from desk.catalogues import shipped
from desk.db import SessionMaker
from desk.i18n import Translator
from desk.mail_rules import reply_copies
from desk.models import (
    Attachment,
    AuditEvent,
    Contact,
    Conversation,
    Department,
    Mailbox,
    Message,
    OutboundMail,
    utcnow,
)
from desk.portal import case_link
from desk.seq import reserve_seq
from desk.settings import Settings
from ingest import notices
from ingest.addresses import Address, parse_address
from ingest.compose import Outgoing, OutgoingFile, compose, message_id_for, ticket_subject
from ingest.errors import SendFailure, UnsafeAddress
from ingest.headers import clean_header_value

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Queued:
    outbound_id: int
    created: bool


async def sender_address(sm: SessionMaker, department_id: int | None) -> Address:
    async with sm() as s:
        return await _sender(s, department_id)


async def _sender(s: AsyncSession, department_id: int | None) -> Address:
    dept = await s.get(Department, department_id) if department_id is not None else None
    box = (await s.execute(select(Mailbox).where(Mailbox.department_id == department_id)
                           .limit(1))).scalar_one_or_none() if dept else None
    raw = (dept.email_address if dept else None) or (box.username if box else None)
    try:
        return Address(parse_address(raw or "").email, dept.name if dept else "")
    except UnsafeAddress:
        return Address("support@localhost", "Support")


# A mail's text, given the link to the case page for its recipient and the words of their
# language; a subject of its own likewise (else the conversation's).
Body = Callable[[str, Translator], str]
Subject = Callable[[Translator], str]


def words(conv: Conversation | None, contact: Contact | None) -> Translator:
    """The customer's language: the conversation's (its widget or form), else the contact's
    last, else the default."""
    return shipped().translator((conv.language if conv is not None else None)
                                or (contact.language if contact is not None else None))


async def words_of(s: AsyncSession, conv: Conversation) -> Translator:
    """``words`` for a conversation, its contact read in ``s``."""
    contact = await s.get(Contact, conv.contact_id) if conv.contact_id is not None else None
    return words(conv, contact)


async def compose_row(s: AsyncSession, settings: Settings, *, conversation_id: int, kind: str,
                      key: str, body: Body, reply: bool, subject: Subject | None = None,
                      attachment_ids: Sequence[int] = (),
                      copied: Subject | None = None) -> OutboundMail | None:
    """The OutboundMail for the conversation's contact, read in ``s`` and not added (the
    due-timer sweep adds it in its own transaction); None if there is nobody to mail.

    The contact's stored address is the only recipient there is: no caller names one. The text
    is ``body(link, t)``, with the contact's own signed link to the case (``desk.portal``),
    fixed in the row so every retry sends the same bytes, in the customer's language
    (``words``: ``t``).
    ``subject``: instead of the conversation's (the ticket number is added either way).
    ``attachment_ids``: the conversation's attachments the mail carries.
    ``copied``: the mail goes to the conversation's copies too (``desk.mail_rules.
    reply_copies``); when there are any, ``copied(t)`` is its text (it must not carry the
    customer's link)."""
    conv = await s.get(Conversation, conversation_id)
    if conv is None or conv.contact_id is None:
        return None
    contact = await s.get(Contact, conv.contact_id)
    if contact is None or not contact.email or contact.undeliverable:
        return None
    last_in = (await s.execute(
        select(Message.email_message_id).where(
            Message.conversation_id == conversation_id, Message.author_kind == "contact",
            Message.email_message_id.is_not(None)).order_by(Message.seq.desc()).limit(1)
    )).scalar_one_or_none()
    refs = (await s.execute(
        select(Message.email_message_id).where(
            Message.conversation_id == conversation_id,
            Message.email_message_id.is_not(None)).order_by(Message.seq)
    )).scalars().all()
    sender = await _sender(s, conv.department_id)
    message_id = message_id_for(f"{kind}:{conversation_id}:{key}", sender.domain,
                                settings.secret_key)
    t = words(conv, contact)
    cc = reply_copies(await ticket_work.copies(s, conversation_id), contact.email) \
        if copied is not None else []
    text = copied(t) if cc and copied is not None else \
        body(case_link(settings, contact, conv.number, utcnow()), t)
    return OutboundMail(
        message_id=message_id, conversation_id=conversation_id, kind=kind, key=key[:64],
        to_address=contact.email,
        subject=ticket_subject(subject(t) if subject else conv.subject or "", conv.number,
                               t("mail.subject.request"), reply=reply),
        body=text, status="queued",
        in_reply_to=last_in,
        references=" ".join(r for r in refs if r)[:20_000] or None,
        attachment_ids=list(attachment_ids) or None, cc=cc or None,
    )


async def staff_row(s: AsyncSession, settings: Settings, conv: Conversation, *, to: str,
                    key: str, text: str) -> OutboundMail:
    """A rule's notice about ``conv`` to a staff address (not added: the sweep adds it in its
    transaction). Its Message-ID is derived from the firing and the recipient, so a repeat of
    the firing stores nothing new. The subject names the case without the ``[SB-…]`` tag, so
    an answer to it never threads into the customer's case."""
    sender = await _sender(s, conv.department_id)
    return OutboundMail(
        message_id=message_id_for(f"notice:{conv.id}:{key}:{to}", sender.domain,
                                  settings.secret_key),
        conversation_id=conv.id, kind="notice", key=key[:64], to_address=to,
        subject=clean_header_value(f"Case {conv.number}: {conv.subject or 'a rule fired'}", 200),
        body=notices.staff_notice(conv.number, conv.subject or "", text,
                                  f"{settings.public_url.rstrip('/')}/console"),
        status="queued")


async def queue_mail(sm: SessionMaker, settings: Settings, *, conversation_id: int, kind: str,
                     key: str, body: Body, reply: bool, subject: Subject | None = None,
                     attachment_ids: Sequence[int] = (),
                     copied: Subject | None = None) -> Queued | None:
    """Store ``compose_row``'s mail in a transaction of its own; None if nobody to mail."""
    async with sm() as s:
        row = await compose_row(s, settings, conversation_id=conversation_id, kind=kind,
                                key=key, body=body, reply=reply, subject=subject,
                                attachment_ids=attachment_ids, copied=copied)
    return None if row is None else await _store(sm, row)


def forward_key(event_id: int) -> str:
    """The OutboundMail key of the mail of forward ``event_id`` (its audit event)."""
    return f"forward-{event_id}"


async def queue_forward(sm: SessionMaker, settings: Settings, event_id: int,
                        text: Callable[[str], str]) -> Queued | None:
    """Store the mail of a forward staff recorded (the ``conversation.forwarded`` audit event
    names the recipient: the records, never the job's caller): ``text(number)`` to it, from
    the department's address, threaded so the answer comes back into the ticket."""
    async with sm() as s:
        event = await s.get(AuditEvent, event_id)
        if event is None or event.action != "conversation.forwarded":
            return None
        conv = await s.get(Conversation, int(event.target.removeprefix("conversation:")))
        if conv is None:
            return None
        sender = await _sender(s, conv.department_id)
    row = OutboundMail(
        message_id=message_id_for(f"forward:{conv.id}:{event_id}", sender.domain,
                                  settings.secret_key),
        conversation_id=conv.id, kind="forward", key=forward_key(event_id),
        to_address=str(event.data["to"]),
        # Staff's words to someone outside the desk (the console's language), not a customer's.
        subject=ticket_subject(f"Fwd: {conv.subject or 'Case'}", conv.number, "Case"),
        body=text(conv.number), status="queued")
    return await _store(sm, row)


async def queue_signin(sm: SessionMaker, settings: Settings, contact_id: int,
                       request_key: str) -> Queued | None:
    """Store the one-time sign-in mail for the contact (its own stored address, as every mail;
    None without one). The token is issued here, so it only ever exists in that mail. It
    belongs to no conversation, so it leaves from the desk's general address, as ``send``
    picks it."""
    async with sm() as s:
        contact = await s.get(Contact, contact_id)
        if contact is None or not contact.email or contact.undeliverable:
            return None
    sender = await sender_address(sm, None)
    now = utcnow().timestamp()
    link = signin_url(settings.public_url, portal.issue(
        settings, Kind.SIGNIN, contact, settings.signin_link_ttl_s, now))
    row = OutboundMail(
        message_id=message_id_for(f"signin:{contact_id}:{request_key}", sender.domain,
                                  settings.secret_key),
        conversation_id=None, kind="signin", key=request_key[:64], to_address=contact.email,
        subject=words(None, contact)("mail.subject.signin"),
        body=notices.signin(words(None, contact), link, settings.signin_link_ttl_s),
        status="queued")
    return await _store(sm, row)


async def _store(sm: SessionMaker, row: OutboundMail) -> Queued:
    """Insert ``row``; its Message-ID is unique, so a repeat gives the stored one back."""
    async with sm() as s:
        s.add(row)
        try:
            await s.commit()
        except IntegrityError:
            await s.rollback()
            existing = (await s.execute(select(OutboundMail.id).where(
                OutboundMail.message_id == row.message_id))).scalar_one()
            return Queued(existing, created=False)
    return Queued(row.id, created=True)


def takeable(now: datetime) -> ColumnElement[bool]:
    """Rows a worker may take to send: waiting, or ``sending`` by a worker whose lease lapsed
    (killed mid-send)."""
    return or_(OutboundMail.status.in_(("queued", "retrying")),
               and_(OutboundMail.status == "sending",
                    or_(OutboundMail.lease_until.is_(None), OutboundMail.lease_until <= now)))


async def take(sm: SessionMaker, outbound_id: int, lease_s: float) -> int | None:
    """Mark the row ``sending`` under a lease, if it is takeable: a compare-and-set, so two
    workers never send it at once. Returns the attempt number that now holds it."""
    now = utcnow()
    async with sm() as s:
        attempt = (await s.execute(
            update(OutboundMail).where(OutboundMail.id == outbound_id, takeable(now))
            .values(status="sending", attempts=OutboundMail.attempts + 1,
                    lease_until=now + timedelta(seconds=lease_s))
            .returning(OutboundMail.attempts))).scalar_one_or_none()
        await s.commit()
    return attempt


@contextlib.asynccontextmanager
async def holding(sm: SessionMaker, outbound_id: int, attempt: int,
                  lease_s: float) -> AsyncIterator[None]:
    """Renew the lease of ``attempt`` while the block runs (a slow SMTP server is no reason to
    let another worker send the same mail)."""

    async def renew() -> None:
        while True:
            await asyncio.sleep(lease_s / 3)
            try:
                async with sm() as s:
                    await s.execute(update(OutboundMail).where(
                        OutboundMail.id == outbound_id, OutboundMail.status == "sending",
                        OutboundMail.attempts == attempt).values(
                        lease_until=utcnow() + timedelta(seconds=lease_s)))
                    await s.commit()
            except (SQLAlchemyError, OSError) as exc:  # the send goes on; the next renewal may
                log.warning("lease of outbound mail %s not renewed: %r", outbound_id, exc)

    task = asyncio.create_task(renew())
    try:
        yield
    finally:
        await stop_tasks([task])


async def send(sm: SessionMaker, settings: Settings, outbound_id: int) -> str:
    """Send one OutboundMail; idempotent. Returns the final status; raises SendFailure to retry.

    A row another worker is sending (its lease live) is left to it: answers ``sending``."""
    attempt = await take(sm, outbound_id, settings.mail_lease_s)
    async with sm() as s:
        row = await s.get(OutboundMail, outbound_id)
        if row is None:
            return "missing"
        if attempt is None:
            return row.status
        conv = await s.get(Conversation, row.conversation_id) if row.conversation_id else None
        dept = await s.get(Department, conv.department_id) if conv and conv.department_id \
            else None
    relay = smtp_relay.relay_of(dept.smtp if dept else None, smtp_relay.Relay(
        settings.smtp_host, settings.smtp_port, settings.smtp_tls, settings.smtp_user,
        settings.smtp_password))
    sender = await sender_address(sm, conv.department_id if conv else None)
    try:
        to = parse_address(row.to_address)
    except UnsafeAddress as exc:
        await _finish(sm, row.id, "failed", f"invalid recipient: {exc}", conv)
        return "failed"
    created = row.created_at if row.created_at.tzinfo else row.created_at.replace(tzinfo=UTC)
    copies = _copies(row)
    data = compose(Outgoing(
        sender=sender, to=(to,), cc=copies, subject=row.subject, text=row.body,
        message_id=row.message_id, date=created, in_reply_to=row.in_reply_to,
        references=tuple((row.references or "").split()),
        auto_generated=row.kind != "reply", loop_marker=sender.email,
        extra_headers=((("X-Switchboard-Ticket", conv.number),) if conv else ()),
        attachments=await _files(sm, settings, row),
    ))
    try:
        async with holding(sm, row.id, attempt, settings.mail_lease_s):
            await aiosmtplib.send(
                data, sender=sender.email, recipients=[to.email, *(a.email for a in copies)],
                hostname=relay.host, port=relay.port, use_tls=relay.security == "tls",
                start_tls=relay.security == "starttls",
                username=relay.username or None, password=relay.password or None,
                timeout=30,
            )
    except aiosmtplib.SMTPResponseException as exc:
        permanent = 500 <= exc.code < 600
        await _finish(sm, row.id, "failed" if permanent else "retrying",
                      f"{exc.code} {exc.message}"[:2000], conv if permanent else None)
        if permanent:
            return "failed"
        raise SendFailure(f"temporary SMTP failure {exc.code}") from exc
    except (aiosmtplib.SMTPException, OSError, TimeoutError) as exc:
        await _finish(sm, row.id, "retrying", f"{type(exc).__name__}: {exc}"[:2000], None)
        raise SendFailure(f"SMTP unavailable: {exc}") from exc
    await _finish(sm, row.id, "sent", None, None)
    return "sent"


def _copies(row: OutboundMail) -> tuple[Address, ...]:
    """The row's copies; one that is no address now (it was checked when set) is left out
    rather than failing the customer's mail."""
    out = []
    for raw in row.cc or []:
        try:
            out.append(parse_address(raw))
        except UnsafeAddress:
            log.warning("copy %r of outbound mail %s dropped", raw, row.id)
    return tuple(out)


async def _files(sm: SessionMaker, settings: Settings, row: OutboundMail) -> list[OutgoingFile]:
    """The row's attachments as stored (the conversation's own; a file gone missing from the
    disk is left out rather than failing the mail)."""
    if not row.attachment_ids:
        return []
    async with sm() as s:
        atts = (await s.execute(select(Attachment).where(
            Attachment.id.in_(row.attachment_ids),
            Attachment.conversation_id == row.conversation_id).order_by(Attachment.id)
        )).scalars().all()
    out = []
    for att in atts:
        try:
            data = await asyncio.to_thread(path_for(settings.data_dir, att.storage_key).read_bytes)
        except OSError as exc:
            log.warning("attachment %s of outbound mail %s unreadable: %r", att.id, row.id, exc)
            continue
        out.append(OutgoingFile(att.filename, att.content_type, data))
    return out


async def give_up(sm: SessionMaker, outbound_id: int, reason: str) -> None:
    """Retries exhausted: mark failed and say so on the ticket."""
    async with sm() as s:
        row = await s.get(OutboundMail, outbound_id)
        conv = await s.get(Conversation, row.conversation_id) if row and row.conversation_id \
            else None
    if row is not None and row.status != "sent":
        await _finish(sm, outbound_id, "failed", reason, conv)


async def _finish(sm: SessionMaker, outbound_id: int, status: str, error: str | None,
                  note_on: Conversation | None) -> None:
    async with sm() as s:
        values: dict[str, object] = {"status": status, "last_error": error}
        if status == "sent":
            values["sent_at"] = utcnow()
        await s.execute(update(OutboundMail).where(OutboundMail.id == outbound_id,
                                                   OutboundMail.status != "sent").values(**values))
        if note_on is not None:
            seq = await reserve_seq(s, note_on.id)
            s.add(Message(conversation_id=note_on.id, seq=seq, author_kind="system",
                          visibility="internal", client_id=f"outbound-failed:{outbound_id}",
                          body=f"Outgoing mail could not be sent: {error}"))
        try:
            await s.commit()
        except IntegrityError:  # the failure note already exists (a second give-up)
            await s.rollback()
    if status == "failed":
        log.warning("outbound mail %s failed: %s", outbound_id, error)
