"""The hub's hot path pieces: group commit (real database), one-query visitor login, the lean
uvicorn protocol parts (queue, event, corked transport) and packed publishing (real Redis)."""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from typing import Any
from urllib.parse import urlsplit

import orjson
import pytest
import redis.asyncio as aioredis
import uvicorn
from sqlalchemy import select
from uvicorn.server import ServerState

from desk.conversations import NewMessage, create_conversation
from desk.db import SessionMaker
from desk.errors import NotFound
from desk.models import Contact, Message
from realtime import records
from realtime.connection import StoredMessage
from realtime.endpoints import FastPath
from realtime.envelopes import ConversationChanged, Envelope
from realtime.hub import Hub
from realtime.publisher import Publisher
from realtime.server import CorkedTransport, HubWebSocketProtocol, LeanEvent, LeanQueue
from realtime.session import Part
from tests.realtime.conftest import Org
from tests.support.proxy import CuttableProxy


async def _seqs(sm: SessionMaker, cid: int) -> list[int]:
    async with sm() as s:
        return list((await s.execute(select(Message.seq).where(Message.conversation_id == cid)
                                     .order_by(Message.seq))).scalars().all())


async def test_writer_groups_concurrent_messages_gap_free(sm: SessionMaker) -> None:
    convs = [(await create_conversation(sm, channel="chat")).id for _ in range(5)]
    writer = records.MessageWriter(sm)
    try:
        async def sender(k: int) -> list[int]:
            # One socket's messages go one at a time, like the endpoint's receive loop.
            seqs = []
            for i in range(10):
                msg, created = await writer.store(
                    convs[k % 5], author_kind="contact", author_id=k, author_name="V",
                    text=f"{k}.{i}", visibility="public", client_id=f"{k}.{i}")
                assert created
                seqs.append(msg.seq)
            return seqs

        per_sender = await asyncio.gather(*(sender(k) for k in range(20)))
    finally:
        await writer.close()
    assert writer.batches < writer.messages == 200  # grouped, not one transaction each
    for seqs in per_sender:
        assert seqs == sorted(seqs)  # a sender's messages keep their order
    for cid in convs:
        assert await _seqs(sm, cid) == list(range(1, 41))


async def test_writer_paces_batches_and_spills_past_the_limit(sm: SessionMaker) -> None:
    """After a quiet spell a message goes at once; what arrives within the gap joins the next
    batch; ``spill`` waiting messages go without waiting for the gap."""
    cid = (await create_conversation(sm, channel="chat")).id
    writer = records.MessageWriter(sm, gap_s=600.0, spill=8)

    def store(client_id: str) -> asyncio.Future[tuple[StoredMessage, bool]]:
        return writer.submit(NewMessage(cid, "contact", "hi", 1, "V", "public", client_id))

    try:
        first, _ = await asyncio.wait_for(store("first"), 30)  # no gap before the first
        later = [store(f"w{i}") for i in range(7)]  # below spill: they wait for the gap
        await asyncio.sleep(0.05)
        assert not any(f.done() for f in later) and writer.batches == 1
        later.append(store("w7"))  # the eighth waiting: spilled at once, all together
        done = await asyncio.wait_for(asyncio.gather(*later), 30)
    finally:
        await writer.close()
    assert first.seq == 1 and [m.seq for m, _ in done] == list(range(2, 10))
    assert writer.batches == 2
    assert await _seqs(sm, cid) == list(range(1, 10))


async def test_writer_retries_get_the_same_seq_and_bad_items_fail_alone(
        sm: SessionMaker) -> None:
    cid = (await create_conversation(sm, channel="chat")).id
    writer = records.MessageWriter(sm)

    def store(client_id: str, conversation: int = cid
              ) -> Coroutine[Any, Any, tuple[StoredMessage, bool]]:
        return writer.store(conversation, author_kind="contact", author_id=1, author_name="V",
                            text="hi", visibility="public", client_id=client_id)

    try:
        results = await asyncio.gather(
            store("a"), store("a"), store("b", 999_999), store("c"), return_exceptions=True)
        first, again, missing, other = results
        later, created = await store("a")
    finally:
        await writer.close()
    assert isinstance(missing, NotFound)
    assert isinstance(first, tuple) and isinstance(again, tuple) and isinstance(other, tuple)
    assert (first[0].seq, first[1]) == (1, True)
    assert (again[0].seq, again[1]) == (1, False)
    assert (later.seq, created) == (1, False)
    assert other[0].seq == 2
    assert orjson.loads(first[0].text)["client_id"] == "a"
    assert await _seqs(sm, cid) == [1, 2]


async def test_visitor_login_checks_the_nonce_and_lists_open_chats(sm: SessionMaker,
                                                                   org: Org) -> None:
    async with sm() as s:
        contact = Contact(name="Vera", token_nonce="n" * 32)
        s.add(contact)
        await s.commit()
    mine = await create_conversation(sm, channel="chat", contact_id=contact.id, site_id=org.site)
    await create_conversation(sm, channel="email", contact_id=contact.id, site_id=org.site)
    assert await records.visitor_login(sm, contact.id, "n" * 32, org.site) == \
        records.VisitorLogin("Vera", {mine.id: Part.OWNER}, True, None)
    assert await records.visitor_login(sm, contact.id, "x" * 32, org.site) is None
    assert await records.visitor_login(sm, 999_999, "n" * 32, org.site) is None


async def test_lean_queue_and_event() -> None:
    queue = LeanQueue()
    getter = asyncio.create_task(queue.get())
    await asyncio.sleep(0)
    queue.put_nowait(1)
    queue.put_nowait(2)
    assert await getter == 1
    assert (queue.qsize(), queue.empty()) == (1, False)
    assert await queue.get() == 2 and queue.empty()

    event = LeanEvent()
    waiter = asyncio.create_task(event.wait())
    await asyncio.sleep(0)
    assert not waiter.done()
    event.set()
    await waiter
    assert event.is_set()
    event.clear()
    assert not event.is_set()


class _FakeTransport:
    def __init__(self) -> None:
        self.writes: list[bytes] = []
        self.closed = self.aborted = False

    def write(self, data: bytes) -> None:
        self.writes.append(data)

    def is_closing(self) -> bool:
        return self.closed or self.aborted

    def close(self) -> None:
        self.closed = True

    def abort(self) -> None:
        self.aborted = True

    def get_extra_info(self, name: str) -> str:
        return f"info:{name}"


async def test_corked_transport_sends_a_tick_in_one_write() -> None:
    real = _FakeTransport()
    corked = CorkedTransport(real)  # type: ignore[arg-type]
    corked.write(b"ack")
    corked.write(b"msg")
    assert real.writes == []
    await asyncio.sleep(0)
    assert real.writes == [b"ackmsg"]
    corked.write(b"bye")
    corked.close()  # flushes first
    assert real.writes == [b"ackmsg", b"bye"] and real.closed
    assert corked.get_extra_info("peername") == "info:peername"

    dropped = _FakeTransport()
    cut = CorkedTransport(dropped)  # type: ignore[arg-type]
    cut.write(b"late")
    cut.abort()  # a slow consumer is cut: nothing more is written
    await asyncio.sleep(0)
    assert dropped.writes == [] and dropped.aborted


@pytest.mark.parametrize("count", [3, 600])
async def test_publishes_of_one_tick_are_packed(redis: aioredis.Redis, count: int) -> None:
    """Envelopes published together travel in as few PUBLISHes as possible and all arrive."""
    sender, receiver = Hub(redis), Hub(redis)
    got: list[Envelope] = []
    receiver.dispatch = lambda env, local: got.append(env)  # type: ignore[method-assign]
    await sender.start()
    await receiver.start()
    try:
        for i in range(count):
            sender.publish(ConversationChanged(i))
        got.clear()  # the sender's own local dispatch is not what is measured here
        for _ in range(100):
            if len(got) >= count:
                break
            await asyncio.sleep(0.02)
    finally:
        await sender.stop()
        await receiver.stop()
    assert [e.conversation_id for e in got if isinstance(e, ConversationChanged)
            ] == list(range(count))


async def test_writer_refuses_work_after_close(sm: SessionMaker) -> None:
    cid = (await create_conversation(sm, channel="chat")).id
    writer = records.MessageWriter(sm)
    msg, created = await writer.store(cid, author_kind="contact", author_id=1, author_name="V",
                                      text="hi", visibility="public", client_id="x")
    await writer.close()
    assert created and msg.seq == 1
    with pytest.raises(RuntimeError, match="stopped"):
        await writer.store(cid, author_kind="contact", author_id=1, author_name="V",
                           text="again", visibility="public", client_id="y")
    assert await _seqs(sm, cid) == [1]


async def test_writer_runs_on_stored_at_commit_even_for_a_caller_gone_away(
        sm: SessionMaker) -> None:
    cid = (await create_conversation(sm, channel="chat")).id
    writer = records.MessageWriter(sm)
    seen: list[tuple[int, bool]] = []

    def on_stored(msg: StoredMessage, created: bool) -> None:
        seen.append((msg.seq, created))

    try:
        gone = asyncio.ensure_future(writer.store(
            cid, author_kind="contact", author_id=1, author_name="V", text="a",
            visibility="public", client_id="a", on_stored=on_stored))
        await asyncio.sleep(0)  # queued for the next batch
        gone.cancel()
        msg, created = await writer.store(
            cid, author_kind="contact", author_id=1, author_name="V", text="b",
            visibility="public", client_id="b", on_stored=on_stored)
    finally:
        await writer.close()
    assert (msg.seq, created) == (2, True)
    assert seen == [(1, True), (2, True)]  # the fan-out of "a" happened all the same
    assert await _seqs(sm, cid) == [1, 2]


async def test_publisher_sends_at_once_and_again_after_a_cut(redis: aioredis.Redis,
                                                              redis_url: str) -> None:
    """Payloads handed over while the connection is cut, or cut before Redis answered, arrive
    after it comes back, in order; handed over while up, they go out without waiting."""
    url = urlsplit(redis_url)
    proxy = CuttableProxy(url.hostname or "127.0.0.1", url.port or 6379)
    await proxy.start()
    via = aioredis.Redis.from_url(f"redis://127.0.0.1:{proxy.port}{url.path}")
    publisher = Publisher(via, "sb:test:publisher")
    listener = redis.pubsub()
    await listener.subscribe("sb:test:publisher")
    got: list[bytes] = []

    async def until(n: int) -> None:
        for _ in range(300):
            msg = await listener.get_message(ignore_subscribe_messages=True, timeout=0.02)
            if msg is not None:
                got.append(msg["data"])
            if len(got) >= n:
                return
        raise AssertionError(f"{len(got)} of {n} arrived: {got}")

    publisher.start()
    try:
        for _ in range(100):
            if publisher._conn is not None:
                break
            await asyncio.sleep(0.02)
        publisher.send([b"1", b"2"], 1000)
        await until(2)
        proxy.cut()
        publisher.send([b"3"], 1000)  # written into a dead connection, or held back
        await asyncio.sleep(0.2)
        publisher.send([b"4"], 1000)
        proxy.restore()
        await until(4)
        await publisher.stop(2.0)
    finally:
        proxy.restore()
        await proxy.stop()
        await listener.aclose()
        await via.aclose()
    assert got == [b"1", b"2", b"3", b"4"]
    assert publisher.backlog == 0


async def test_the_servers_protocol_offers_the_fast_path_hooks() -> None:
    """The endpoints find the inline path and direct sends through ``FastPath``: if the
    protocol stopped matching it, every socket would silently take the slow path."""
    config = uvicorn.Config(app=None, ws="websockets-sansio")  # type: ignore[arg-type]
    proto = HubWebSocketProtocol(config, ServerState(), {})
    assert isinstance(proto, FastPath)
