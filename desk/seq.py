"""The gap-free ``seq`` of a conversation's (and a team thread's) messages: the one place that
hands it out.

Every message of a conversation carries a ``seq`` 1, 2, 3... without gaps: clients resume from
the last seq they saw, so a gap would read as a lost message. A seq is reserved by incrementing
``conversations.last_seq`` inside the transaction that inserts the messages: the row lock
orders concurrent writers and a rollback hands the numbers back. Reserving also moves
``updated_at`` — a new message is a change to the conversation.

A conversation inserted together with its first message skips the increment: it is written
with ``last_seq = OPENING_SEQ`` and that message takes ``OPENING_SEQ``.

The PostgreSQL group commit reserves inside one SQL statement; its SET clause comes from
``pg_reserve_set`` so the statement and the ORM paths cannot drift apart.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession

from desk.errors import NotFound
from desk.models import Conversation, TeamThread, utcnow

OPENING_SEQ = 1


def _values(n: int, now: datetime) -> dict[str, Any]:
    return {"last_seq": Conversation.last_seq + n, "updated_at": now}


def pg_reserve_set(table: str, n: str, now: str) -> str:
    """The SET clause reserving ``n`` seqs on ``table`` (SQL expressions, for raw statements)."""
    return f"last_seq = {table}.last_seq + {n}, updated_at = {now}"


async def reserve_seq(s: AsyncSession, conversation_id: int, n: int = 1) -> int:
    """Reserve ``n`` seqs; returns the first (the rest follow it)."""
    last = (await s.execute(
        update(Conversation).where(Conversation.id == conversation_id)
        .values(_values(n, utcnow())).returning(Conversation.last_seq)
    )).scalar_one_or_none()
    if last is None:
        raise NotFound(f"conversation {conversation_id} not found")
    return int(last) - n + 1


async def reserve_thread_seq(s: AsyncSession, thread_id: int) -> int:
    """The next seq of a team thread (``desk.team``): the same rule as a conversation's, on
    ``team_threads.last_seq``, in the transaction that inserts the message."""
    last = (await s.execute(
        update(TeamThread).where(TeamThread.id == thread_id)
        .values(last_seq=TeamThread.last_seq + 1, updated_at=utcnow())
        .returning(TeamThread.last_seq)
    )).scalar_one_or_none()
    if last is None:
        raise NotFound(f"thread {thread_id} not found")
    return int(last)


async def reserve_seqs(s: AsyncSession, counts: Mapping[int, int],
                       now: datetime) -> dict[int, int]:
    """Reserve ``counts[cid]`` seqs on each conversation; returns each one's first seq (an id
    with no conversation is absent)."""
    by_step: dict[int, list[int]] = {}  # one UPDATE per distinct count (mostly just 1)
    for cid in sorted(counts):
        by_step.setdefault(counts[cid], []).append(cid)
    first: dict[int, int] = {}
    for step, cids in by_step.items():
        reserved = await s.execute(
            update(Conversation).where(Conversation.id.in_(cids))
            .values(_values(step, now))
            .returning(Conversation.id, Conversation.last_seq)
            .execution_options(synchronize_session=False))
        first.update((cid, last - step + 1) for cid, last in reserved)
    return first
