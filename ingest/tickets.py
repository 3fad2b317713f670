"""Import one mail into the records, exactly once, in a single transaction.

The transaction holds everything the mail causes — the InboundMail row (unique per mailbox and
Message-ID or content hash), the contact, a new or continued conversation and its message, the
participants, bounce marks — plus the mailbox's UID cursor. So a crash at any point leaves
either all of it or none of it, and re-reading the same mail (restart, UIDVALIDITY change,
another poller) finds the InboundMail row and does nothing.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import func, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from desk import sla_store, ticket_work
from desk.attachments import file_ref, inbound_file
from desk.conversations import new_number
from desk.db import SessionMaker, is_connection_fault
from desk.limits import BODY_MAX
from desk.mail_rules import outsider_visibility
from desk.models import (
    Attachment,
    Contact,
    Conversation,
    EmailParticipant,
    InboundMail,
    Mailbox,
    Message,
    OutboundMail,
    utcnow,
)
from desk.seq import OPENING_SEQ, reserve_seq
from desk.status_rules import customer_wrote
from desk.ticket_rules import apply_rules, parse_rules
from ingest import threading
from ingest.addresses import Address
from ingest.headers import storable
from ingest.loops import Kind, Verdict, classify
from ingest.mime import MailAttachment, ParsedMail, content_id_key, resolve_cids

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class MailboxInfo:
    id: int
    department_id: int
    group_id: int | None
    rules: tuple[dict[str, object], ...] = ()


@dataclass(frozen=True, slots=True)
class Imported:
    """What one mail did. ``route`` is set when a conversation must go to the router."""

    status: str  # ticket | reply | bounce | own | quarantined | duplicate
    conversation_id: int | None = None
    route: bool = False
    acknowledge: bool = False  # a new ticket from a person: send the "ticket created" notice
    verdict: Verdict | None = None
    sender: str | None = None
    error: str | None = None  # why a mail that parsed was quarantined at import


def inline_urls(attachments: Sequence[MailAttachment], rows: Sequence[Attachment]
                ) -> dict[str, str]:
    """Content-ID -> the stored attachment's inline preview (``/api/attachments/<id>/preview``,
    which serves only content that really is a PNG/JPEG/GIF/WebP image)."""
    return {content_id_key(att.content_id): f"/api/attachments/{row.id}/preview"
            for att, row in zip(attachments, rows, strict=True) if att.content_id}


def key_hash(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()[:32]


class TicketImporter:
    def __init__(self, sm: SessionMaker, secret: str, attachment_dir: Path) -> None:
        self.sm = sm
        self.secret = secret
        self.attachment_dir = attachment_dir

    async def quarantine(self, box: MailboxInfo, *, key: str, uidvalidity: int, uid: int,
                         raw: bytes | None, reason: str) -> Imported:
        async with self.sm() as s:
            if not await _exists(s, box.id, key):
                s.add(InboundMail(mailbox_id=box.id, message_key=key, uidvalidity=uidvalidity,
                                  uid=uid, status="quarantined", raw=raw,
                                  error=storable(reason)[:2000]))
                await _advance(s, box.id, uidvalidity, uid)
                if await self._try_commit(s):
                    return Imported("quarantined", error=reason)
                return Imported("duplicate")
            await _advance(s, box.id, uidvalidity, uid)
            await s.commit()
        return Imported("duplicate")

    async def import_mail(self, box: MailboxInfo, *, uidvalidity: int, uid: int, raw: bytes,
                          mail: ParsedMail) -> Imported:
        """Import one mail; a failure of the mail itself (anything but a connection fault, which
        is raised) quarantines it with its raw bytes, so no mail can stop its mailbox."""
        try:
            return await self._import_mail(box, uidvalidity, uid, raw, mail)
        except Exception as exc:
            if is_connection_fault(exc):
                raise
            log.warning("mailbox %s: mail UID %s failed to import", box.id, uid, exc_info=True)
            return await self.quarantine(
                box, key=mail.dedup_key, uidvalidity=uidvalidity, uid=uid, raw=raw,
                reason=f"import failed: {type(exc).__name__}: {exc}"[:2000])

    async def _import_mail(self, box: MailboxInfo, uidvalidity: int, uid: int, raw: bytes,
                           mail: ParsedMail) -> Imported:
        verdict = classify(mail, self.secret)
        key = mail.dedup_key
        for _ in range(4):  # a conversation number collision is redrawn
            async with self.sm() as s:
                if await _exists(s, box.id, key):
                    await _advance(s, box.id, uidvalidity, uid)
                    await s.commit()
                    return Imported("duplicate")
                try:
                    result = await self._apply(s, box, mail, verdict, uidvalidity, uid, raw)
                    await s.commit()
                    return result
                except IntegrityError:  # flush or commit: number collision or a racing import
                    await s.rollback()
                if await self._seen(box.id, key):
                    return Imported("duplicate")
        raise RuntimeError("could not import mail after retries")

    async def import_many(self, box: MailboxInfo, *, uidvalidity: int,
                          mails: list[tuple[int, bytes, ParsedMail]]) -> list[Imported]:
        """Import several mails in one transaction (the fast path for a backlog).

        New tickets that name no other ticket (no number in the subject, no references: most
        of a backlog) are inserted together, a few statements for the lot; any other mail goes
        through ``_apply`` after the pending ones are written, so its lookups see them. All or
        nothing, like a single import; any failure but a connection fault (a racing poller, a
        number collision, one mail the database refuses) rolls the whole chunk back and it is
        retried mail by mail, which isolates (quarantines) a bad mail.
        """
        results: list[Imported | None] = []
        try:
            async with self.sm() as s:
                wanted = [m.dedup_key for _, _, m in mails]
                keys_seen = set((await s.execute(select(InboundMail.message_key).where(
                    InboundMail.mailbox_id == box.id, InboundMail.message_key.in_(wanted))
                )).scalars())
                pending: list[_NewTicket] = []
                for uid, raw, mail in mails:
                    key = mail.dedup_key
                    if key in keys_seen:
                        results.append(Imported("duplicate"))
                        continue
                    keys_seen.add(key)
                    verdict = classify(mail, self.secret)
                    if _plain_new_ticket(mail, verdict):
                        pending.append(_NewTicket(len(results), uid, mail, verdict))
                        results.append(None)
                        continue
                    await self._insert_new_tickets(s, box, uidvalidity, pending, results)
                    pending = []
                    results.append(await self._apply(s, box, mail, verdict, uidvalidity, uid,
                                                     raw, advance=False))
                await self._insert_new_tickets(s, box, uidvalidity, pending, results)
                if mails:
                    await _advance(s, box.id, uidvalidity, max(uid for uid, _, _ in mails))
                await s.commit()
            return [r for r in results if r is not None]
        except Exception as exc:
            if is_connection_fault(exc):
                raise
            return [await self.import_mail(box, uidvalidity=uidvalidity, uid=uid, raw=raw,
                                           mail=mail) for uid, raw, mail in mails]

    async def _insert_new_tickets(self, s: AsyncSession, box: MailboxInfo, uidvalidity: int,
                                  tickets: Sequence[_NewTicket],
                                  results: list[Imported | None]) -> None:
        """What ``_apply`` does for a new ticket, for many at once: one INSERT per table."""
        if not tickets:
            return
        contacts = await _contacts(s, [t.mail.sender for t in tickets if t.mail.sender])
        conv_ids = (await s.execute(
            insert(Conversation).returning(Conversation.id, sort_by_parameter_order=True),
            [_conversation_fields(box, t.mail, t.verdict, None, _contact_id(contacts, t.mail))
             for t in tickets])).scalars().all()
        await sla_store.start(s, conv_ids, utcnow())
        people = [{"conversation_id": conv_id, "email": email}
                  for conv_id, t in zip(conv_ids, tickets, strict=True)
                  for email in _people(t.mail)]
        if people:  # an empty parameter list would be one INSERT of defaults
            await s.execute(insert(EmailParticipant), people)
        msg_ids = (await s.execute(
            insert(Message).returning(Message.id, sort_by_parameter_order=True),
            [_message_fields(t.mail, t.verdict, conv_id, OPENING_SEQ)
             for conv_id, t in zip(conv_ids, tickets, strict=True)])).scalars().all()
        for conv_id, msg_id, t in zip(conv_ids, msg_ids, tickets, strict=True):
            if t.mail.attachments:
                html, files = await self._attach(s, conv_id, msg_id, t.mail)
                values: dict[str, Any] = {"files": files}
                if html:
                    values["body_html"] = html
                await s.execute(update(Message).where(Message.id == msg_id).values(**values))
        await s.execute(insert(InboundMail), [
            {"mailbox_id": box.id, "message_key": t.mail.dedup_key,
             "uidvalidity": uidvalidity, "uid": t.uid, "status": "ticket",
             "conversation_id": conv_id, "raw": None}
            for conv_id, t in zip(conv_ids, tickets, strict=True)])
        for conv_id, t in zip(conv_ids, tickets, strict=True):
            results[t.index] = Imported("ticket", conv_id, route=not t.verdict.is_noise,
                                        acknowledge=t.verdict.may_auto_answer,
                                        verdict=t.verdict, sender=_email(t.mail))

    async def _apply(self, s: AsyncSession, box: MailboxInfo, mail: ParsedMail,
                     verdict: Verdict, uidvalidity: int, uid: int, raw: bytes,
                     advance: bool = True) -> Imported:
        sender = mail.sender.email if mail.sender is not None else None
        # The raw bytes are kept where the mail did not become a readable message (quarantine,
        # own mail, bounces); for tickets the message and attachments are the record.
        inbound = InboundMail(mailbox_id=box.id, message_key=mail.dedup_key,
                              uidvalidity=uidvalidity, uid=uid, raw=None)
        s.add(inbound)
        if advance:
            await _advance(s, box.id, uidvalidity, uid)
        if verdict.kind is Kind.OWN:
            inbound.status, inbound.raw = "own", raw
            return Imported("own", verdict=verdict)
        if verdict.kind is Kind.BOUNCE and verdict.bounce is not None:
            conv_id = await self._bounce(s, mail, verdict)
            inbound.status, inbound.conversation_id, inbound.raw = "bounce", conv_id, raw
            inbound.error = verdict.reason
            return Imported("bounce", conv_id, verdict=verdict)
        decision = threading.decide(await _candidates(s, mail), sender)
        if isinstance(decision, threading.Join):
            conv = await s.get(Conversation, decision.conversation_id)
            assert conv is not None
            # A person writing into a noise ticket makes it one for an agent, as a promotion does.
            move = customer_wrote(conv.status, person=verdict.kind is Kind.PERSON)
            reopened = move is not None
            now = utcnow()
            if move is not None:
                await sla_store.status_changed(s, conv, conv.status, move.status, now,
                                               why="the customer wrote again")
                conv.status, conv.closed_at = move.status, None
            role = await s.scalar(select(EmailParticipant.role).where(
                EmailParticipant.conversation_id == conv.id,
                func.lower(EmailParticipant.email) == (sender or "").lower()))
            msg = await self._message(s, conv.id, mail, verdict)
            if (hidden := outsider_visibility(role)) is not None:
                msg.visibility = hidden  # an outsider's answer is for staff, not the customer
            elif verdict.kind is Kind.PERSON:
                await sla_store.on_messages(s, [sla_store.Posted(conv.id, "contact", "public",
                                                                 now)])
            inbound.status, inbound.conversation_id = "reply", conv.id
            return Imported("reply", conv.id, route=reopened, verdict=verdict, sender=sender)
        parent = decision.parent_id if isinstance(decision, threading.NewLinked) else None
        conv = await self._new_conversation(s, box, mail, verdict, parent)
        await self._message(s, conv.id, mail, verdict, seq=OPENING_SEQ)
        inbound.status, inbound.conversation_id = "ticket", conv.id
        return Imported("ticket", conv.id, route=not verdict.is_noise,
                        acknowledge=verdict.may_auto_answer, verdict=verdict, sender=sender)

    async def _new_conversation(self, s: AsyncSession, box: MailboxInfo, mail: ParsedMail,
                                verdict: Verdict, parent_id: int | None) -> Conversation:
        contacts = await _contacts(s, [mail.sender] if mail.sender is not None else [])
        conv = Conversation(**_conversation_fields(box, mail, verdict, parent_id,
                                                   _contact_id(contacts, mail)))
        s.add(conv)
        await s.flush()
        await sla_store.start(s, [conv.id], utcnow())
        s.add_all(EmailParticipant(conversation_id=conv.id, email=e) for e in _people(mail))
        return conv

    async def _message(self, s: AsyncSession, conversation_id: int, mail: ParsedMail,
                       verdict: Verdict, seq: int | None = None) -> Message:
        if seq is None:
            seq = await reserve_seq(s, conversation_id)
        msg = Message(**_message_fields(mail, verdict, conversation_id, seq))
        s.add(msg)
        if mail.attachments:
            await s.flush()
            html, msg.files = await self._attach(s, conversation_id, msg.id, mail)
            msg.body_html = html or msg.body_html
        return msg

    async def _attach(self, s: AsyncSession, conversation_id: int, message_id: int,
                      mail: ParsedMail) -> tuple[str | None, list[dict[str, Any]]]:
        """Store the attachments (under generated keys, typed by their content); returns the
        HTML body with its cid: images pointed at them (None when it has none) and the
        message's ``files``, as the thread shows them."""
        stored = [inbound_file(self.attachment_dir, conversation_id=conversation_id,
                               message_id=message_id, filename=att.filename, data=att.data)
                  for att in mail.attachments]
        rows = [row for row, _ in stored]
        s.add_all(rows)
        await s.flush()
        files = [file_ref(row, kind) for row, kind in stored]
        if "cid:" not in mail.html.lower():
            return None, files
        html = resolve_cids(mail.html, inline_urls(mail.attachments, rows))[:BODY_MAX] or None
        return html, files

    async def _bounce(self, s: AsyncSession, mail: ParsedMail, verdict: Verdict) -> int | None:
        bounce = verdict.bounce
        assert bounce is not None
        for email in bounce.recipients:
            await s.execute(update(Contact).where(func.lower(Contact.email) == email)
                            .values(undeliverable=True))
        if bounce.original_message_id is None:
            return None
        out = (await s.execute(select(OutboundMail).where(
            OutboundMail.message_id == bounce.original_message_id))).scalar_one_or_none()
        if out is None or out.conversation_id is None:
            return None
        out.status, out.last_error = "bounced", f"{bounce.status} {', '.join(bounce.recipients)}"
        seq = await reserve_seq(s, out.conversation_id)
        s.add(Message(
            conversation_id=out.conversation_id, seq=seq, author_kind="system",
            visibility="internal", client_id="bounce:" + key_hash(mail.dedup_key),
            body=f"Mail to {', '.join(bounce.recipients)} could not be delivered "
                 f"({bounce.status}); the address is marked undeliverable.",
            email_message_id=mail.message_id,
        ))
        return out.conversation_id

    async def _try_commit(self, s: AsyncSession) -> bool:
        try:
            await s.commit()
        except IntegrityError:
            await s.rollback()
            return False
        return True

    async def _seen(self, mailbox_id: int, key: str) -> bool:
        async with self.sm() as s:
            return await _exists(s, mailbox_id, key)


async def _exists(s: AsyncSession, mailbox_id: int, key: str) -> bool:
    found = await s.execute(select(InboundMail.id).where(
        InboundMail.mailbox_id == mailbox_id, InboundMail.message_key == key))
    return found.first() is not None


async def _advance(s: AsyncSession, mailbox_id: int, uidvalidity: int, uid: int) -> None:
    await s.execute(update(Mailbox).where(
        Mailbox.id == mailbox_id, Mailbox.uidvalidity == uidvalidity, Mailbox.last_uid < uid,
    ).values(last_uid=uid))


@dataclass(frozen=True, slots=True)
class _NewTicket:
    index: int  # position in the chunk's results
    uid: int
    mail: ParsedMail
    verdict: Verdict


def _plain_new_ticket(mail: ParsedMail, verdict: Verdict) -> bool:
    """A new, unlinked ticket whatever the records hold: it names no ticket or message."""
    return (verdict.kind not in (Kind.OWN, Kind.BOUNCE)
            and not threading.ticket_numbers(mail.subject)
            and not threading.referenced_ids(mail))


def _email(mail: ParsedMail) -> str | None:
    return mail.sender.email if mail.sender is not None else None


def _contact_id(contacts: dict[str, int], mail: ParsedMail) -> int | None:
    return contacts.get(mail.sender.email) if mail.sender is not None else None


def _people(mail: ParsedMail) -> list[str]:
    return sorted({a.email for a in (mail.sender, *mail.cc) if a is not None})


def _conversation_fields(box: MailboxInfo, mail: ParsedMail, verdict: Verdict,
                         parent_id: int | None, contact_id: int | None) -> dict[str, Any]:
    outcome = apply_rules(
        parse_rules(box.rules), subject=mail.subject, text=mail.text,
        sender_domain=mail.sender.domain if mail.sender is not None else "",
    )
    return {
        "number": new_number(), "channel": "email",
        "status": "noise" if verdict.is_noise else "queued",
        "contact_id": contact_id, "department_id": box.department_id,
        "group_id": box.group_id, "subject": mail.subject or "(no subject)",
        "priority": outcome.priority, "required_skills": outcome.skills,
        "parent_id": parent_id, "last_seq": OPENING_SEQ,
    }


def _message_fields(mail: ParsedMail, verdict: Verdict, conversation_id: int,
                    seq: int) -> dict[str, Any]:
    name = mail.sender.name or mail.sender.email if mail.sender is not None else None
    return {
        "conversation_id": conversation_id, "seq": seq, "author_kind": "contact",
        "author_name": name or mail.from_display or "unknown sender",
        # Inbound mail is never authored by staff, whatever its From says (a spoofed agent
        # address stays a contact message).
        "visibility": "public" if verdict.kind is Kind.PERSON else "internal",
        "client_id": "mail:" + key_hash(mail.dedup_key),
        "body": mail.text[:BODY_MAX] or "(empty message)",
        "body_html": resolve_cids(mail.html, {})[:BODY_MAX] or None,
        "email_message_id": mail.message_id,
    }


async def _contacts(s: AsyncSession, senders: Sequence[Address]) -> dict[str, int]:
    """Contact id per address (the oldest contact having it), creating the missing ones."""
    if not senders:
        return {}
    emails = {a.email for a in senders}
    lowered = func.lower(Contact.email)
    found: dict[str, int] = {email: cid for email, cid in (await s.execute(
        select(lowered, func.min(Contact.id)).where(lowered.in_(emails)).group_by(lowered)
    )).all()}
    missing: dict[str, dict[str, Any]] = {}
    for a in senders:
        if a.email not in found and a.email not in missing:
            missing[a.email] = {"email": a.email, "name": a.name or None}
    if missing:
        created = await s.execute(insert(Contact).returning(Contact.email, Contact.id),
                                  list(missing.values()))
        found.update({email: cid for email, cid in created.all() if email is not None})
    return found


async def _candidates(s: AsyncSession, mail: ParsedMail) -> list[threading.Candidate]:
    """Conversations the mail names: by ticket number first, then by Message-ID, closest first."""
    ordered: list[int] = []
    numbers = threading.ticket_numbers(mail.subject)
    if numbers:
        numbered = (await s.execute(select(Conversation.number, Conversation.id).where(
            Conversation.number.in_(numbers)))).all()
        by_number = {n: i for n, i in numbered}
        ordered += [by_number[n] for n in numbers if n in by_number]
    refs = threading.referenced_ids(mail)
    if refs:
        by_ref: dict[str, int] = {}
        for model, column in ((Message, Message.email_message_id),
                              (OutboundMail, OutboundMail.message_id)):
            # IS NOT NULL spelled out: the Message-ID index leaves chat rows out (partial).
            rows = (await s.execute(select(column, model.conversation_id).where(
                column.in_(refs), column.is_not(None)))).all()
            for ref, conv_id in rows:
                if ref is not None and conv_id is not None:
                    by_ref.setdefault(ref, conv_id)
        ordered += [by_ref[r] for r in refs if r in by_ref]
    # A merged ticket's number or mail continues the ticket it was merged into.
    survivors = await ticket_work.survivor_of(s, list(dict.fromkeys(ordered)))
    ids = list(dict.fromkeys(survivors.get(i, i) for i in ordered))
    if not ids:
        return []
    participants = await _participants(s, ids)
    return [threading.Candidate(i, participants.get(i, frozenset())) for i in ids]


async def _participants(s: AsyncSession, ids: Sequence[int]) -> dict[int, frozenset[str]]:
    found: dict[int, set[str]] = {i: set() for i in ids}
    rows = (await s.execute(select(EmailParticipant.conversation_id, EmailParticipant.email)
                            .where(EmailParticipant.conversation_id.in_(ids)))).all()
    for conv_id, email in rows:
        found[conv_id].add(email.lower())
    contacts = (await s.execute(
        select(Conversation.id, Contact.email).join(Contact, Contact.id == Conversation.contact_id)
        .where(Conversation.id.in_(ids)))).all()
    for conv_id, contact_email in contacts:
        if contact_email:
            found[conv_id].add(contact_email.lower())
    return {k: frozenset(v) for k, v in found.items()}
