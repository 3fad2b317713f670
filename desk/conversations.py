"""Conversations and messages: numbering, gap-free sequence, idempotent append, replay.

Every function owns its transaction (takes a SessionMaker) so callers on the hot path — the hub,
the poller — cannot forget to commit before acknowledging.
"""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError

from desk.db import SessionMaker
from desk.errors import InvalidInput, NotFound
from desk.models import (
    AUTHORS,
    BODY_MAX,
    CHANNELS,
    VISIBILITIES,
    Conversation,
    Message,
    utcnow,
)

NUMBER_PREFIX = "SB-"
# Seven random digits: short enough to read over the phone, sparse enough (9M space, a few
# thousand live cases) that guessing a neighbour's number is not a way in — and numbers
# never grant access by themselves anyway.
_NUMBER_LO, _NUMBER_SPAN = 1_000_000, 9_000_000
CLIENT_ID_MAX = 64


def new_number() -> str:
    return f"{NUMBER_PREFIX}{_NUMBER_LO + secrets.randbelow(_NUMBER_SPAN)}"


@dataclass(frozen=True, slots=True)
class Viewer:
    """Who is reading: decides which visibilities they may see."""

    kind: str  # "contact" | "agent" | "supervisor"
    id: int | None = None


def can_see(viewer: Viewer, visibility: str, whisper_to: int | None) -> bool:
    match visibility:
        case "public":
            return True
        case "internal":
            return viewer.kind in {"agent", "supervisor"}
        case "whisper":
            return viewer.kind == "supervisor" or (
                viewer.kind == "agent" and viewer.id is not None and viewer.id == whisper_to
            )
    return False


async def create_conversation(
    sm: SessionMaker,
    *,
    channel: str,
    contact_id: int | None = None,
    department_id: int | None = None,
    group_id: int | None = None,
    site_id: int | None = None,
    subject: str | None = None,
    topic: str | None = None,
    priority: int = 2,
    sla_due: datetime | None = None,
    required_skills: dict[str, int] | None = None,
    custom_fields: dict[str, Any] | None = None,
    parent_id: int | None = None,
) -> Conversation:
    if channel not in CHANNELS:
        raise InvalidInput(f"channel must be one of {', '.join(CHANNELS)}")
    for _ in range(8):
        conv = Conversation(
            number=new_number(),
            channel=channel,
            status="queued",
            contact_id=contact_id,
            department_id=department_id,
            group_id=group_id,
            site_id=site_id,
            subject=subject[:255] if subject else subject,
            topic=topic,
            priority=priority,
            sla_due=sla_due,
            required_skills=required_skills or {},
            custom_fields=custom_fields or {},
            parent_id=parent_id,
        )
        async with sm() as s:
            s.add(conv)
            try:
                await s.commit()
            except IntegrityError:
                # Number collision: draw again.
                await s.rollback()
                continue
            return conv
    raise RuntimeError("could not draw a free conversation number")


async def get_conversation(sm: SessionMaker, conversation_id: int) -> Conversation:
    async with sm() as s:
        conv = await s.get(Conversation, conversation_id)
    if conv is None:
        raise NotFound(f"conversation {conversation_id} not found")
    return conv


async def find_by_number(sm: SessionMaker, number: str) -> Conversation | None:
    async with sm() as s:
        return (
            await s.execute(select(Conversation).where(Conversation.number == number.upper()))
        ).scalar_one_or_none()


async def append_message(
    sm: SessionMaker,
    conversation_id: int,
    *,
    author_kind: str,
    body: str,
    author_id: int | None = None,
    author_name: str | None = None,
    visibility: str = "public",
    client_id: str | None = None,
    body_html: str | None = None,
    email_message_id: str | None = None,
    whisper_to: int | None = None,
) -> tuple[Message, bool]:
    """Store a message with the next ``seq``; returns ``(message, created)``.

    The same ``client_id`` twice returns the first stored message with ``created=False``, so a
    client retrying after a lost acknowledgement gets the same ``seq`` back.
    """
    if author_kind not in AUTHORS:
        raise InvalidInput(f"author_kind must be one of {', '.join(AUTHORS)}")
    if visibility not in VISIBILITIES:
        raise InvalidInput(f"visibility must be one of {', '.join(VISIBILITIES)}")
    if len(body) > BODY_MAX:
        raise InvalidInput(f"message body is longer than {BODY_MAX} characters")
    if client_id is not None and not 0 < len(client_id) <= CLIENT_ID_MAX:
        raise InvalidInput(f"client_id must be 1..{CLIENT_ID_MAX} characters")
    if visibility == "whisper" and whisper_to is None:
        raise InvalidInput("a whisper needs the coached agent (whisper_to)")
    for _ in range(3):
        async with sm() as s:
            if client_id is not None:
                existing = await _by_client_id(s, conversation_id, client_id)
                if existing is not None:
                    return existing, False
            seq = (
                await s.execute(
                    update(Conversation)
                    .where(Conversation.id == conversation_id)
                    .values(last_seq=Conversation.last_seq + 1, updated_at=utcnow())
                    .returning(Conversation.last_seq)
                )
            ).scalar_one_or_none()
            if seq is None:
                raise NotFound(f"conversation {conversation_id} not found")
            msg = Message(
                conversation_id=conversation_id,
                seq=seq,
                author_kind=author_kind,
                author_id=author_id,
                author_name=author_name,
                visibility=visibility,
                client_id=client_id,
                body=body,
                body_html=body_html,
                email_message_id=email_message_id,
                whisper_to=whisper_to,
                created_at=utcnow(),
            )
            s.add(msg)
            try:
                await s.commit()
            except IntegrityError:
                # A concurrent retry with the same client_id won; the loop returns its message.
                await s.rollback()
                continue
            return msg, True
    raise RuntimeError("could not append message after retries")


async def _by_client_id(s: Any, conversation_id: int, client_id: str) -> Message | None:
    result = await s.execute(
        select(Message).where(
            Message.conversation_id == conversation_id, Message.client_id == client_id
        )
    )
    message: Message | None = result.scalar_one_or_none()
    return message


async def messages_after(
    sm: SessionMaker,
    conversation_id: int,
    after_seq: int,
    viewer: Viewer,
    limit: int = 500,
) -> Sequence[Message]:
    """Messages with ``seq > after_seq`` that ``viewer`` may see, in order."""
    async with sm() as s:
        rows = (
            await s.execute(
                select(Message)
                .where(Message.conversation_id == conversation_id, Message.seq > after_seq)
                .order_by(Message.seq)
                .limit(limit)
            )
        ).scalars().all()
    return [m for m in rows if can_see(viewer, m.visibility, m.whisper_to)]


async def set_status(
    sm: SessionMaker, conversation_id: int, status: str, **fields: Any
) -> Conversation:
    async with sm() as s:
        conv = await s.get(Conversation, conversation_id)
        if conv is None:
            raise NotFound(f"conversation {conversation_id} not found")
        conv.status = status
        if status in {"resolved", "closed"} and conv.closed_at is None:
            conv.closed_at = utcnow()
        for key, value in fields.items():
            setattr(conv, key, value)
        await s.commit()
        return conv
