"""desk.search below the API: the SQL visibility rule, and the index following every write."""

from __future__ import annotations

from sqlalchemy import delete, select, update

from desk.auth import Principal
from desk.conversations import (
    NewMessage,
    Viewer,
    append_message,
    append_messages,
    can_see,
    create_conversation,
    readable_clause,
)
from desk.db import SessionMaker
from desk.models import Conversation, Message
from desk.search import search
from desk.search_query import SearchRequest, parse_text


def admin() -> Principal:
    return Principal(1, "admin", "Admin", "s", "c", frozenset())


async def found(sm: SessionMaker, text: str) -> list[int]:
    page = await search(sm, admin(), SearchRequest(terms=parse_text(text), limit=100))
    return [c.id for c, _ in page.rows]


async def test_readable_clause_selects_what_can_see_allows(sm: SessionMaker) -> None:
    conv = await create_conversation(sm, channel="chat")
    for visibility, whisper_to in [("public", None), ("internal", None), ("whisper", 7),
                                   ("whisper", 8)]:
        await append_message(sm, conv.id, author_kind="supervisor", body="x",
                             visibility=visibility, whisper_to=whisper_to)
    async with sm() as s:
        rows = (await s.execute(select(Message))).scalars().all()
        for viewer in [Viewer("agent", 7), Viewer("agent", 9), Viewer("supervisor", 1),
                       Viewer("contact", 7), Viewer("agent")]:
            sql = set((await s.execute(
                select(Message.id).where(readable_clause(viewer)))).scalars())
            assert sql == {m.id for m in rows if can_see(viewer, m.visibility, m.whisper_to)}, \
                viewer


async def test_index_follows_every_write(sm: SessionMaker) -> None:
    conv = await create_conversation(sm, channel="email", subject="Original heading")
    batch = await append_messages(sm, [NewMessage(conv.id, "contact", "grouped zebra"),
                                       NewMessage(conv.id, "agent", "another okapi")])
    assert all(not isinstance(r, Exception) for r in batch)
    assert await found(sm, "zebra") == [conv.id] and await found(sm, "okapi") == [conv.id]
    assert await found(sm, "heading") == [conv.id]
    async with sm() as s:
        await s.execute(update(Message).where(Message.body == "grouped zebra")
                        .values(body="grouped giraffe"))
        await s.execute(update(Conversation).where(Conversation.id == conv.id)
                        .values(subject="Renamed"))
        await s.commit()
    assert await found(sm, "zebra") == [] and await found(sm, "giraffe") == [conv.id]
    assert await found(sm, "heading") == [] and await found(sm, "renamed") == [conv.id]
    async with sm() as s:
        await s.execute(delete(Conversation).where(Conversation.id == conv.id))
        await s.commit()
    assert await found(sm, "giraffe") == [] and await found(sm, "renamed") == []
