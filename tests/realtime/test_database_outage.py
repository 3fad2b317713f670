"""PostgreSQL lost mid-traffic (every connection reset, new ones refused for ~3 s, as in a
restart), seen through a cuttable proxy so the shared server keeps running: the message writer
acknowledges only what is committed, a write that failed is sent again with its client_id and
stored once, and nothing is lost or doubled when the database is back."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from urllib.parse import urlsplit

import pytest
from sqlalchemy import func, select

from desk.conversations import create_conversation
from desk.db import SessionMaker, make_engine, make_sessionmaker
from desk.models import Message
from desk.settings import Settings
from realtime.records import MessageWriter
from tests.support.proxy import CuttableProxy


@pytest.fixture
async def cut_sm(settings: Settings, sm: SessionMaker) -> AsyncIterator[
        tuple[CuttableProxy, SessionMaker]]:
    """A session maker on the test database through a proxy the test can cut."""
    if not settings.database_url.startswith("postgresql"):
        pytest.skip("the PostgreSQL outage (SQLite has no server to lose)")
    url = urlsplit(settings.database_url)
    proxy = CuttableProxy(url.hostname or "127.0.0.1", url.port or 5432)
    await proxy.start()
    netloc = f"{url.username}@127.0.0.1:{proxy.port}"
    engine = make_engine(settings.with_(database_url=url._replace(netloc=netloc).geturl()))
    yield proxy, make_sessionmaker(engine)
    await engine.dispose()
    await proxy.stop()


async def test_outage_acknowledges_only_what_is_committed_and_loses_nothing(
        sm: SessionMaker, cut_sm: tuple[CuttableProxy, SessionMaker]) -> None:
    proxy, through = cut_sm
    convs = [(await create_conversation(sm, channel="chat")).id for _ in range(4)]
    writer = MessageWriter(through)
    acked: set[str] = set()
    failures = 0

    async def sender(cid: int, tag: str, n: int) -> None:
        nonlocal failures
        for i in range(n):
            client_id = f"{tag}-{i}"
            while True:  # the client's outbox: the same client_id until it is acknowledged
                try:
                    await writer.store(cid, author_kind="contact", author_id=None,
                                       author_name=None, text=client_id, visibility="public",
                                       client_id=client_id)
                except Exception:
                    failures += 1
                    await asyncio.sleep(0.2)
                    continue
                acked.add(client_id)
                break
            await asyncio.sleep(0.02)

    sending = asyncio.gather(*(sender(cid, f"c{cid}", 120) for cid in convs))
    await asyncio.sleep(0.6)
    proxy.cut()
    # Acknowledged so far: each must already be committed, as seen past the proxy.
    during = set(acked)
    async with sm() as s:
        stored = set((await s.scalars(select(Message.client_id).where(
            Message.client_id.in_(during)))).all())
    assert stored == during
    await asyncio.sleep(3)
    proxy.restore()
    await asyncio.wait_for(sending, 60)
    await writer.close()

    assert failures > 0  # the outage was felt
    async with sm() as s:
        for cid in convs:
            rows = (await s.execute(select(Message.seq, Message.client_id).where(
                Message.conversation_id == cid).order_by(Message.seq))).all()
            assert [r.seq for r in rows] == list(range(1, 121))
            assert sorted(r.client_id for r in rows) == sorted(f"c{cid}-{i}" for i in range(120))
        assert await s.scalar(select(func.count()).select_from(Message)) == 480
    assert len(acked) == 480
