"""Drive a MailboxPoller in-process against the test Dovecot and inspect the records."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import redis.asyncio as aioredis
from sqlalchemy import func, select

from desk.models import Conversation, InboundMail, Message
from ingest.poller import Acknowledge, MailboxPoller, PollerConfig
from ingest.tickets import Imported
from tests.ingest.conftest import Records


@dataclass
class Run:
    poller: MailboxPoller
    routed: list[int] = field(default_factory=list)
    acked: list[Imported] = field(default_factory=list)


@contextlib.asynccontextmanager
async def running(records: Records, redis: aioredis.Redis, mailbox_id: int,
                  config: PollerConfig | None = None,
                  acknowledge: Acknowledge | None = None) -> AsyncIterator[Run]:
    """A poller whose routing is recorded; acknowledgements are recorded, then passed on to
    ``acknowledge`` when given (the real acknowledger)."""
    config = config or PollerConfig(backoff_max_s=1.0, lease_ttl_ms=3000)
    routed: list[int] = []
    acked: list[Imported] = []

    async def route(conv_ids: Sequence[int]) -> None:
        routed.extend(conv_ids)

    async def ack(result: Imported) -> None:
        acked.append(result)
        if acknowledge is not None:
            await acknowledge(result)

    poller = MailboxPoller(mailbox_id=mailbox_id, sm=records.sm, redis=redis,
                           settings=records.settings.with_(imap_timeout_s=5.0), route=route,
                           acknowledge=ack, config=config)
    stop = asyncio.Event()
    task = asyncio.create_task(poller.run(stop))
    try:
        yield Run(poller, routed, acked)
    finally:
        stop.set()
        await asyncio.wait_for(task, 15)


async def eventually(check: Callable[[], object], within_s: float = 15.0) -> None:
    deadline = asyncio.get_running_loop().time() + within_s
    while True:
        result = check()
        if asyncio.iscoroutine(result):
            result = await result
        if result:
            return
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(0.05)


async def count(records: Records, model: type, *where: Any) -> int:
    async with records.sm() as s:
        return int((await s.execute(select(func.count()).select_from(model).where(*where)
                                    )).scalar_one())


async def conversations(records: Records) -> list[Conversation]:
    async with records.sm() as s:
        return list((await s.execute(select(Conversation).order_by(Conversation.id))
                     ).scalars().all())


async def messages(records: Records, conversation_id: int) -> list[Message]:
    async with records.sm() as s:
        return list((await s.execute(select(Message).where(
            Message.conversation_id == conversation_id).order_by(Message.seq))).scalars().all())


async def inbound(records: Records) -> list[InboundMail]:
    async with records.sm() as s:
        return list((await s.execute(select(InboundMail).order_by(InboundMail.id))
                     ).scalars().all())
