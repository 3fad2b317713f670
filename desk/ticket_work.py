"""Ticket work on the records: copies, forwarding, merging and splitting (each in the caller's
transaction, so a refusal leaves nothing written).

**Merge** moves every message of one ticket into another of the same customer: the moved
messages keep their order and follow the survivor's own, their seqs reserved on it through
``desk.seq`` (so its clients see them as new); files, time logged, tags and mail participants
go along. The merged ticket is closed with ``merged_into_id`` pointing at the survivor, which
search by its number and mail naming it follow (``survivor_of``). **Split** moves a message
and everything after it into a new ticket linked to the old one (``parent_id``); the new one
is queued and routed. Both are audited on both tickets.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from desk import audit, sla_store, tags, ticket_fields
from desk.auth import Principal
from desk.conversations import new_number
from desk.errors import Conflict, Forbidden, InvalidInput
from desk.limits import SUBJECT_MAX
from desk.mail_rules import CC_MAX
from desk.models import (
    Attachment,
    Conversation,
    Department,
    EmailParticipant,
    FieldVisit,
    Message,
    TimeEntry,
    utcnow,
)
from desk.seq import reserve_seq
from desk.status_rules import OPEN


async def department_fields(s: AsyncSession,
                            department_id: int | None) -> list[dict[str, Any]]:
    """The custom fields a conversation of ``department_id`` has (none without one)."""
    dept = await s.get(Department, department_id) if department_id is not None else None
    return ticket_fields.definitions(dept.fields if dept is not None else [])


async def require_fields(s: AsyncSession, c: Conversation) -> None:
    """The required-before-close rule, its one home: a conversation staff resolve or close
    (the API's status change, the staff socket's ``close``) has its department's required
    fields filled (``ticket_fields.missing_required``), else 409 naming them.

    Exempt on purpose, and so never calling this: automation rules and the inactivity ladder
    (system actors) close what nobody works on and cannot fill a field, so asking them would
    keep an abandoned conversation open for ever; a customer closing their own case (socket,
    case page) is not the desk's bookkeeping; and a merge, which closes its source only
    because everything in it moved to the survivor, which answers to the rule when it is
    resolved (asking would make agents fill in the fields of a duplicate they discard)."""
    defs = await department_fields(s, c.department_id)
    missing = ticket_fields.missing_required(defs, c.custom_fields or {})
    if missing:
        raise Conflict(f"fill in {', '.join(missing)} before resolving or closing")


# --- copies on replies -------------------------------------------------------------------------


async def copies(s: AsyncSession, conversation_id: int) -> list[str]:
    """The addresses copied on the conversation's replies (``cc`` participants)."""
    return list((await s.scalars(select(EmailParticipant.email).where(
        EmailParticipant.conversation_id == conversation_id, EmailParticipant.role == "cc")
        .order_by(EmailParticipant.email))).all())


async def set_copies(s: AsyncSession, conv: Conversation, wanted: Sequence[str],
                     actor_id: int | None) -> list[str]:
    """Make ``wanted`` (checked addresses, lower-cased) the conversation's copies. An address
    already taking part otherwise (it wrote in, or was forwarded to) becomes a copy; one no
    longer copied stays a participant by mail, so its replies still thread."""
    if len(wanted) > CC_MAX:
        raise InvalidInput(f"at most {CC_MAX} addresses can be copied", "cc")
    rows = {p.email.lower(): p for p in (await s.scalars(select(EmailParticipant).where(
        EmailParticipant.conversation_id == conv.id))).all()}
    before = sorted(e for e, p in rows.items() if p.role == "cc")
    for email in wanted:
        if email in rows:
            rows[email].role = "cc"
        else:
            s.add(EmailParticipant(conversation_id=conv.id, email=email, role="cc"))
    for email, p in rows.items():
        if p.role == "cc" and email not in wanted:
            p.role = "mail"
    after = sorted(wanted)
    if after != before:
        audit.record(s, "conversation.cc", conv.id, actor_id=actor_id, cc=after)
    return after


async def add_outsider(s: AsyncSession, conversation_id: int, email: str) -> None:
    """Let ``email`` (someone outside the desk a ticket is forwarded to) answer by mail into
    the ticket; an address taking part already keeps its role."""
    if await s.get(EmailParticipant, (conversation_id, email)) is None:
        s.add(EmailParticipant(conversation_id=conversation_id, email=email, role="outside"))


# --- merge and split ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Moved:
    source: Conversation
    target: Conversation
    messages: int


def _workable(c: Conversation, verb: str) -> None:
    if c.merged_into_id is not None:
        raise Conflict(f"{c.number} was merged into another ticket already")
    if c.channel == "chat" and c.status in OPEN:
        raise Conflict(f"{c.number} is a live chat: end it before you {verb} it")
    if c.status == "noise":
        raise Conflict(f"{c.number} is noise: promote it first")


async def merge(s: AsyncSession, p: Principal, source: Conversation,
                target: Conversation) -> Moved:
    """Merge ``source`` into ``target`` (both loaded in ``s``, both the viewer's)."""
    if source.id == target.id:
        raise InvalidInput("a ticket cannot be merged into itself", "into")
    if not (p.can_access(source.group_id) and p.can_access(target.group_id)):
        raise Forbidden("both tickets must be of your groups")
    if source.contact_id is None or source.contact_id != target.contact_id:
        raise Forbidden("only tickets of the same customer can be merged")
    _workable(source, "merge")
    _workable(target, "merge")
    now = utcnow()
    count, last = (await s.execute(select(func.count(), func.max(Message.seq)).where(
        Message.conversation_id == source.id))).one()
    if last:
        # Seqs ``offset + old``: order kept, after the survivor's own; one reservation.
        offset = await _reserve(s, target, int(last)) - 1
        await s.execute(update(Message).where(Message.conversation_id == source.id).values(
            conversation_id=target.id, seq=Message.seq + offset, client_id=None)
            .execution_options(synchronize_session=False))
    for model in (Attachment, TimeEntry, FieldVisit):
        await s.execute(update(model).where(model.conversation_id == source.id)
                        .values(conversation_id=target.id))
    await s.execute(update(Conversation).where(Conversation.merged_into_id == source.id)
                    .values(merged_into_id=target.id))
    await tags.change(s, target, await tags.of(s, source.id), (), p.agent_id,
                      why=f"merged from {source.number}")
    await _copy_participants(s, source.id, target.id)
    await sla_store.status_changed(s, source, source.status, "closed", now,
                                   actor_id=p.agent_id, why=f"merged into {target.number}")
    source.status, source.merged_into_id = "closed", target.id
    source.closed_at, source.closed_by = source.closed_at or now, None
    audit.record(s, "conversation.merged", source.id, actor_id=p.agent_id, at=now,
                 into=target.number, messages=int(count))
    audit.record(s, "conversation.merged_in", target.id, actor_id=p.agent_id, at=now,
                 source=source.number, messages=int(count))
    return Moved(source, target, int(count))


async def _reserve(s: AsyncSession, conv: Conversation, n: int) -> int:
    first = await reserve_seq(s, conv.id, n)
    await s.refresh(conv)
    return first


async def _copy_participants(s: AsyncSession, source_id: int, target_id: int) -> None:
    have = set((await s.scalars(select(EmailParticipant.email).where(
        EmailParticipant.conversation_id == target_id))).all())
    for row in (await s.scalars(select(EmailParticipant).where(
            EmailParticipant.conversation_id == source_id))).all():
        if row.email not in have:
            s.add(EmailParticipant(conversation_id=target_id, email=row.email, role=row.role))


async def split(s: AsyncSession, p: Principal, conv: Conversation, seq: int) -> Moved:
    """Move message ``seq`` and every later one of ``conv`` into a new ticket whose parent it
    is. The new ticket is queued in the same group (the caller routes it)."""
    _workable(conv, "split")
    first_seq = (await s.scalar(select(func.min(Message.seq)).where(
        Message.conversation_id == conv.id)))
    if await s.scalar(select(Message.id).where(Message.conversation_id == conv.id,
                                               Message.seq == seq)) is None:
        raise InvalidInput(f"{conv.number} has no message {seq}", "seq")
    if seq == first_seq:
        raise InvalidInput("split from a later message: the first one would leave the ticket "
                           "empty", "seq")
    now = utcnow()
    new = await _new_ticket(s, conv)
    moved = (await s.execute(update(Message).where(
        Message.conversation_id == conv.id, Message.seq >= seq).values(
        conversation_id=new.id, seq=Message.seq - (seq - 1))
        .returning(Message.id, Message.seq).execution_options(synchronize_session=False))).all()
    ids = [m for m, _ in moved]
    new.last_seq = max(n for _, n in moved)
    await s.execute(update(Attachment).where(Attachment.message_id.in_(ids))
                    .values(conversation_id=new.id))
    await _copy_participants(s, conv.id, new.id)
    await sla_store.start(s, [new.id], now)
    audit.record(s, "conversation.split", conv.id, actor_id=p.agent_id, at=now,
                 into=new.number, messages=len(ids), seq=seq)
    audit.record(s, "conversation.split_from", new.id, actor_id=p.agent_id, at=now,
                 source=conv.number, messages=len(ids), seq=seq)
    return Moved(conv, new, len(ids))


async def _new_ticket(s: AsyncSession, conv: Conversation) -> Conversation:
    subject = f"{conv.subject or 'Split ticket'} (split from {conv.number})"[:SUBJECT_MAX]
    for _ in range(8):
        new = Conversation(
            number=new_number(), channel=conv.channel, status="queued",
            contact_id=conv.contact_id, department_id=conv.department_id,
            group_id=conv.group_id, site_id=conv.site_id, subject=subject, topic=conv.topic,
            priority=conv.priority, required_skills=dict(conv.required_skills or {}),
            custom_fields={}, parent_id=conv.id, last_seq=0)
        try:
            async with s.begin_nested():
                s.add(new)
        except IntegrityError:  # number collision: draw again
            continue
        return new
    raise RuntimeError("could not draw a free conversation number")


async def survivor_of(s: AsyncSession, ids: Sequence[int]) -> dict[int, int]:
    """Each id's ticket, or the ticket it was merged into (one hop: a merge repoints the
    tickets merged into the merged one)."""
    if not ids:
        return {}
    rows = (await s.execute(select(Conversation.id, Conversation.merged_into_id).where(
        Conversation.id.in_(ids)))).all()
    return {i: m or i for i, m in rows}
