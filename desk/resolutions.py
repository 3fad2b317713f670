"""Previous resolutions: resolved conversations like the one an agent has open, with the note
that says what solved them (``Conversation.resolution_note``, written when resolving).

Like means the same topic, or words in common between the first messages (and subjects) of
both, stemmed as the knowledge base stems (``desk.kb.stem``: stop words out, terms weighted
towards the rarer, longer ones). Only conversations the viewer may open are read
(``Principal.scope``), the newest ``CANDIDATES`` resolved ones with a note, so the cost does
not grow with the desk's history.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from desk.auth import Principal
from desk.kb import stem
from desk.models import Conversation, Message
from desk.status_rules import ENDED

CANDIDATES = 300  # newest resolved conversations with a note that are compared
SHOWN = 5
FIRST_MESSAGES = 3  # the opening messages that say what a conversation is about
TOPIC_WEIGHT = 2.0
LANGUAGES = ["en", "de"]


@dataclass(frozen=True, slots=True)
class Opening:
    """What a conversation is about: its topic and the terms of its subject and first
    messages."""

    topic: str | None
    terms: tuple[str, ...]


def opening(subject: str | None, topic: str | None, bodies: Sequence[str]) -> Opening:
    text = " ".join([subject or "", *bodies])
    return Opening(topic, tuple(stem.terms(text, stem.guess_language(text, LANGUAGES, "en"))))


def likeness(current: Opening, other: Opening) -> float:
    """How alike two conversations are: the same topic counts most, then shared terms."""
    same = TOPIC_WEIGHT if current.topic and current.topic == other.topic else 0.0
    return same + stem.overlap(list(current.terms), list(other.terms))


async def _openings(s: AsyncSession, convs: Sequence[Conversation]) -> dict[int, Opening]:
    ids = [c.id for c in convs]
    bodies: dict[int, list[str]] = {i: [] for i in ids}
    for cid, body in (await s.execute(select(Message.conversation_id, Message.body).where(
            Message.conversation_id.in_(ids), Message.visibility == "public",
            Message.seq <= FIRST_MESSAGES).order_by(Message.conversation_id, Message.seq))).all():
        bodies[cid].append(body)
    return {c.id: opening(c.subject, c.topic, bodies[c.id]) for c in convs}


async def similar(s: AsyncSession, p: Principal, conv: Conversation) -> list[dict[str, Any]]:
    """The resolved conversations most like ``conv`` with their notes, best first."""
    candidates = list((await s.scalars(select(Conversation).where(
        Conversation.status.in_(ENDED), Conversation.resolution_note.is_not(None),
        Conversation.id != conv.id, Conversation.merged_into_id.is_(None),
        p.scope(Conversation.group_id))
        .order_by(Conversation.closed_at.desc(), Conversation.id.desc())
        .limit(CANDIDATES))).all())
    if not candidates:
        return []
    openings = await _openings(s, [conv, *candidates])
    mine = openings[conv.id]
    scored = sorted(((likeness(mine, openings[c.id]), c) for c in candidates),
                    key=lambda pair: -pair[0])
    return [{"id": c.id, "number": c.number, "subject": c.subject, "topic": c.topic,
             "status": c.status, "note": c.resolution_note,
             "closed_at": c.closed_at.isoformat() if c.closed_at else None,
             "score": round(score, 3)}
            for score, c in scored[:SHOWN] if score > 0]
