"""Tags on conversations, on the records (what a tag is: ``desk.ticket_fields.tag``).

Every path that tags a conversation calls ``change`` (the API, the automation's ``add_tag``,
a merge), in its own transaction: a conversation carries at most ``TAGS_MAX`` and every change
is audited. ``tagged`` is the search's filter.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import ColumnElement, delete, exists, select
from sqlalchemy.ext.asyncio import AsyncSession

from desk import audit
from desk.errors import InvalidInput
from desk.models import Conversation, ConversationTag, utcnow
from desk.ticket_fields import TAGS_MAX


async def of(s: AsyncSession, conversation_id: int) -> list[str]:
    return list((await s.scalars(select(ConversationTag.tag).where(
        ConversationTag.conversation_id == conversation_id).order_by(ConversationTag.tag))).all())


async def change(s: AsyncSession, conv: Conversation, add: Sequence[str],
                 remove: Sequence[str], actor_id: int | None, why: str = "", *,
                 have: Sequence[str] | None = None) -> list[str]:
    """Add and remove tags (already read by ``ticket_fields.tag``); the tags it has after.
    A conversation carries at most ``TAGS_MAX``. ``have``: its tags now, when the caller
    knows them (the due-timer sweep reads its batch's at once; a read here would flush the
    batch's writes so far, one firing at a time)."""
    have = await of(s, conv.id) if have is None else list(have)
    added = [t for t in add if t not in have and t not in remove]
    removed = [t for t in remove if t in have]
    after = sorted((set(have) | set(added)) - set(removed))
    if len(after) > TAGS_MAX:
        raise InvalidInput(f"a conversation carries at most {TAGS_MAX} tags", "add")
    if removed:
        await s.execute(delete(ConversationTag).where(
            ConversationTag.conversation_id == conv.id, ConversationTag.tag.in_(removed)))
    s.add_all(ConversationTag(conversation_id=conv.id, tag=t) for t in added)
    if added or removed:
        conv.updated_at = utcnow()
        audit.record(s, "conversation.tags", conv.id, actor_id=actor_id, why=why,
                     added=added, removed=removed)
    return after


def tagged(tags: Sequence[str]) -> list[ColumnElement[bool]]:
    """Search's condition: every one of ``tags`` on the conversation."""
    return [exists().where(ConversationTag.conversation_id == Conversation.id,
                           ConversationTag.tag == t) for t in tags]
