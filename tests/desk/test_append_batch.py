"""Group commit (``append_messages``) on the real database: gap-free seqs, idempotent retries."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from desk.conversations import (
    _PG_BATCH,
    PG_BATCH_SETTINGS,
    Appended,
    NewMessage,
    append_message,
    append_messages,
    create_conversation,
)
from desk.db import SessionMaker
from desk.errors import InvalidInput, NotFound
from desk.models import Conversation, Message


async def _seqs(sm: SessionMaker, cid: int) -> list[int]:
    async with sm() as s:
        return list((await s.execute(select(Message.seq).where(Message.conversation_id == cid)
                                     .order_by(Message.seq))).scalars().all())


async def test_batch_assigns_gap_free_seqs_in_order_per_conversation(sm: SessionMaker) -> None:
    a = await create_conversation(sm, channel="chat")
    b = await create_conversation(sm, channel="chat")
    await append_message(sm, a.id, author_kind="contact", body="before")
    items = [NewMessage(cid, "contact", f"m{i}", client_id=f"c{i}")
             for i, cid in enumerate([a.id, b.id, a.id, a.id, b.id])]
    results = await append_messages(sm, items)
    got = [(r.conversation_id, r.seq, r.created) for r in results if isinstance(r, Appended)]
    assert got == [(a.id, 2, True), (b.id, 1, True), (a.id, 3, True), (a.id, 4, True),
                   (b.id, 2, True)]
    assert await _seqs(sm, a.id) == [1, 2, 3, 4]
    async with sm() as s:
        assert (await s.get(Conversation, a.id)).last_seq == 4  # type: ignore[union-attr]
        bodies = (await s.execute(select(Message.body).where(Message.conversation_id == a.id)
                                  .order_by(Message.seq))).scalars().all()
    assert bodies == ["before", "m0", "m2", "m3"]


async def test_retries_inside_and_across_batches_are_stored_once(sm: SessionMaker) -> None:
    conv = await create_conversation(sm, channel="chat")
    first = await append_messages(sm, [
        NewMessage(conv.id, "contact", "hi", client_id="x"),
        NewMessage(conv.id, "contact", "hi", client_id="x"),  # retry inside the batch
        NewMessage(conv.id, "contact", "there", client_id="y"),
    ])
    assert [(r.seq, r.created) for r in first if isinstance(r, Appended)] == [
        (1, True), (1, False), (2, True)]
    again = await append_messages(sm, [
        NewMessage(conv.id, "contact", "there", client_id="y"),  # retry across batches
        NewMessage(conv.id, "contact", "new", client_id="z"),
    ])
    assert [(r.seq, r.created, r.body) for r in again if isinstance(r, Appended)] == [
        (2, False, "there"), (3, True, "new")]
    single, created = await append_message(sm, conv.id, author_kind="contact", body="new",
                                           client_id="z")
    assert (single.seq, created) == (3, False)
    assert await _seqs(sm, conv.id) == [1, 2, 3]


async def test_bad_items_fail_alone(sm: SessionMaker) -> None:
    conv = await create_conversation(sm, channel="chat")
    results = await append_messages(sm, [
        NewMessage(conv.id, "robot", "who"),
        NewMessage(999_999, "contact", "nowhere", client_id="n"),
        NewMessage(conv.id, "agent", "coach", visibility="whisper"),
        NewMessage(conv.id, "agent", "ok", author_id=1, visibility="whisper", whisper_to=1),
    ])
    assert isinstance(results[0], InvalidInput)
    assert isinstance(results[1], NotFound)
    assert isinstance(results[2], InvalidInput)
    assert isinstance(results[3], Appended) and results[3].seq == 1


async def test_concurrent_batches_and_single_appends_stay_gap_free(sm: SessionMaker) -> None:
    convs = [await create_conversation(sm, channel="chat") for _ in range(3)]

    async def batch(k: int) -> None:
        await append_messages(sm, [NewMessage(c.id, "contact", f"b{k}.{i}", client_id=f"b{k}.{i}")
                                   for i, c in enumerate(convs * 3)])

    async def single(k: int) -> None:
        await append_message(sm, convs[k % 3].id, author_kind="agent", body=f"s{k}")

    await asyncio.gather(*(batch(k) for k in range(8)), *(single(k) for k in range(9)))
    for c in convs:
        assert await _seqs(sm, c.id) == list(range(1, 3 * 8 + 3 + 1))


async def test_concurrent_retry_race_falls_back_to_one_copy(sm: SessionMaker) -> None:
    """Two batches carrying the same client_id at once: one stores it, both ack the same seq."""
    conv = await create_conversation(sm, channel="chat")
    items = [NewMessage(conv.id, "contact", f"m{i}", client_id=f"r{i}") for i in range(5)]
    one, two = await asyncio.gather(append_messages(sm, items), append_messages(sm, items))
    seqs_one = [r.seq for r in one if isinstance(r, Appended)]
    seqs_two = [r.seq for r in two if isinstance(r, Appended)]
    assert seqs_one == seqs_two == [1, 2, 3, 4, 5]
    created = [r.created for r in one + two if isinstance(r, Appended)]
    assert created.count(True) == 5
    assert await _seqs(sm, conv.id) == [1, 2, 3, 4, 5]


async def test_batch_statement_plan_is_index_probes_without_jit(engine: AsyncEngine) -> None:
    """The plan the writer's connections freeze: the planner's penalty on the one table scan
    left must not push the cost over the JIT threshold (a second of compiling per batch)."""
    if engine.dialect.name != "postgresql":
        pytest.skip("the one-statement batch is PostgreSQL's")
    async with engine.connect() as conn:
        pg = (await conn.get_raw_connection()).driver_connection
        assert pg is not None
        for name, value in PG_BATCH_SETTINGS.items():
            await pg.execute(f"SET {name} = '{value}'")
        await pg.execute("SET jit_above_cost = 0")  # JIT would be chosen for any plan
        plan = await pg.fetchval(
            "EXPLAIN (FORMAT JSON, ANALYZE) " + _PG_BATCH, [1], ["c"], ["contact"], [None],
            [None], ["public"], ["x"], [None], datetime.now(UTC))
    text = plan if isinstance(plan, str) else json.dumps(plan)
    assert '"JIT"' not in text and "Seq Scan on messages" not in text
