import asyncio

import pytest

from desk.conversations import (
    Viewer,
    append_message,
    can_see,
    create_conversation,
    messages_after,
)
from desk.db import SessionMaker
from desk.errors import InvalidInput, NotFound


async def test_numbers_are_unique_and_formatted(sm: SessionMaker) -> None:
    convs = [await create_conversation(sm, channel="chat") for _ in range(20)]
    numbers = {c.number for c in convs}
    assert len(numbers) == 20
    assert all(n.startswith("SB-") and len(n) == 10 for n in numbers)


async def test_seq_is_gap_free_under_concurrency(sm: SessionMaker) -> None:
    conv = await create_conversation(sm, channel="chat")
    results = await asyncio.gather(
        *(append_message(sm, conv.id, author_kind="contact", body=f"m{i}") for i in range(40))
    )
    seqs = sorted(m.seq for m, created in results)
    assert seqs == list(range(1, 41))


async def test_client_id_is_idempotent(sm: SessionMaker) -> None:
    conv = await create_conversation(sm, channel="chat")
    first, created1 = await append_message(
        sm, conv.id, author_kind="contact", body="hi", client_id="c-1"
    )
    again = await asyncio.gather(
        *(
            append_message(sm, conv.id, author_kind="contact", body="hi", client_id="c-1")
            for _ in range(5)
        )
    )
    assert created1
    assert {m.seq for m, _ in again} == {first.seq}
    assert not any(created for _, created in again)
    assert len(await messages_after(sm, conv.id, 0, Viewer("agent", 1))) == 1


async def test_replay_after_seq_respects_visibility(sm: SessionMaker) -> None:
    conv = await create_conversation(sm, channel="chat")
    await append_message(sm, conv.id, author_kind="contact", body="hello")
    await append_message(sm, conv.id, author_kind="agent", author_id=7, body="note",
                         visibility="internal")
    await append_message(sm, conv.id, author_kind="supervisor", author_id=9, body="coach",
                         visibility="whisper", whisper_to=7)
    await append_message(sm, conv.id, author_kind="agent", author_id=7, body="answer")
    visitor = [m.body for m in await messages_after(sm, conv.id, 0, Viewer("contact", 1))]
    assert visitor == ["hello", "answer"]
    coached = [m.body for m in await messages_after(sm, conv.id, 1, Viewer("agent", 7))]
    assert coached == ["note", "coach", "answer"]
    other = [m.body for m in await messages_after(sm, conv.id, 0, Viewer("agent", 8))]
    assert "coach" not in other
    sup = [m.seq for m in await messages_after(sm, conv.id, 2, Viewer("supervisor", 9))]
    assert sup == [3, 4]


def test_can_see_matrix() -> None:
    assert can_see(Viewer("contact"), "public", None)
    assert not can_see(Viewer("contact"), "internal", None)
    assert not can_see(Viewer("contact", 5), "whisper", 5)
    assert not can_see(Viewer("agent", 4), "whisper", 5)
    assert can_see(Viewer("agent", 5), "whisper", 5)
    assert can_see(Viewer("supervisor", 1), "whisper", 5)
    assert not can_see(Viewer("agent", 5), "bogus", 5)


async def test_bad_input_is_rejected(sm: SessionMaker) -> None:
    conv = await create_conversation(sm, channel="chat")
    with pytest.raises(InvalidInput):
        await create_conversation(sm, channel="fax")
    with pytest.raises(InvalidInput):
        await append_message(sm, conv.id, author_kind="robot", body="x")
    with pytest.raises(InvalidInput):
        await append_message(sm, conv.id, author_kind="contact", body="x" * 100_001)
    with pytest.raises(InvalidInput):
        await append_message(sm, conv.id, author_kind="agent", body="x", visibility="whisper")
    with pytest.raises(NotFound):
        await append_message(sm, 999_999, author_kind="contact", body="x")
