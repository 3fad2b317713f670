"""The gap-free ``seq`` (desk.seq) on the real database: every path that hands one out, at once."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest
from sqlalchemy import select, update

from desk.conversations import NewMessage, append_message, append_messages, create_conversation
from desk.db import SessionMaker
from desk.errors import NotFound
from desk.models import Conversation, Message, utcnow
from desk.seq import reserve_seq, reserve_seqs


async def _seqs(sm: SessionMaker, cid: int) -> list[int]:
    async with sm() as s:
        return list((await s.execute(select(Message.seq).where(Message.conversation_id == cid)
                                     .order_by(Message.seq))).scalars().all())


async def _age(sm: SessionMaker, cid: int) -> None:
    """Put ``updated_at`` an hour back so a reservation visibly moves it."""
    async with sm() as s:
        await s.execute(update(Conversation).where(Conversation.id == cid)
                        .values(updated_at=utcnow() - timedelta(hours=1)))
        await s.commit()


async def _last(sm: SessionMaker, cid: int) -> tuple[int, object]:
    async with sm() as s:
        conv = await s.get(Conversation, cid)
        assert conv is not None
        return conv.last_seq, conv.updated_at


async def test_concurrent_appends_on_every_path_are_gap_free(sm: SessionMaker) -> None:
    conv = await create_conversation(sm, channel="chat")
    await _age(sm, conv.id)
    _, before = await _last(sm, conv.id)

    async def one(i: int) -> None:
        await append_message(sm, conv.id, author_kind="contact", body=f"single {i}")

    async def batch(i: int) -> None:
        # On PostgreSQL this is the one-statement group commit, on SQLite the ORM batch.
        await append_messages(sm, [NewMessage(conv.id, "contact", f"batch {i}.{j}")
                                   for j in range(3)])

    async def raw(i: int) -> None:
        async with sm() as s:
            first = await reserve_seq(s, conv.id, 2)
            s.add_all(Message(conversation_id=conv.id, seq=first + k, author_kind="system",
                              visibility="internal", body=f"raw {i}.{k}") for k in range(2))
            await s.commit()

    await asyncio.gather(*(f(i) for i in range(8) for f in (one, batch, raw)))
    n = 8 * (1 + 3 + 2)
    assert await _seqs(sm, conv.id) == list(range(1, n + 1))
    last, after = await _last(sm, conv.id)
    assert last == n
    assert after > before  # type: ignore[operator]


async def test_a_rollback_hands_the_seqs_back(sm: SessionMaker) -> None:
    conv = await create_conversation(sm, channel="chat")
    async with sm() as s:
        assert await reserve_seq(s, conv.id, 5) == 1
        await s.rollback()
    async with sm() as s:
        assert await reserve_seq(s, conv.id) == 1


async def test_reserve_seqs_gives_each_conversation_its_first(sm: SessionMaker) -> None:
    a = await create_conversation(sm, channel="chat")
    b = await create_conversation(sm, channel="chat")
    await append_message(sm, a.id, author_kind="contact", body="x")
    await _age(sm, b.id)
    _, before = await _last(sm, b.id)
    now = utcnow()
    async with sm() as s:
        first = await reserve_seqs(s, {a.id: 2, b.id: 3, 10**6: 1}, now)
        await s.commit()
    assert first == {a.id: 2, b.id: 1}  # the missing conversation is absent
    assert (await _last(sm, a.id))[0] == 3
    last, after = await _last(sm, b.id)
    assert last == 3 and after > before  # type: ignore[operator]


async def test_a_missing_conversation_is_not_found(sm: SessionMaker) -> None:
    async with sm() as s:
        with pytest.raises(NotFound):
            await reserve_seq(s, 10**6)

