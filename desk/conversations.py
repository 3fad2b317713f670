"""Conversations and messages: numbering, idempotent append (seqs from desk.seq), replay.

Every function owns its transaction (takes a SessionMaker) so callers on the hot path — the hub,
the poller — cannot forget to commit before acknowledging.
"""

from __future__ import annotations

import dataclasses
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

from sqlalchemy import ColumnElement, Table, and_, insert, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from desk import audit, sla_store
from desk.auth import Principal
from desk.db import SessionMaker
from desk.errors import InvalidInput, NotFound
from desk.limits import BODY_MAX, SUBJECT_MAX
from desk.models import (
    AUTHORS,
    CHANNELS,
    VISIBILITIES,
    Conversation,
    Message,
    utcnow,
)
from desk.seq import pg_reserve_set, reserve_seq, reserve_seqs
from desk.visibility import readable

NUMBER_PREFIX = "SB-"
# Seven random digits: short enough to read over the phone, sparse enough (9M space, a few
# thousand live cases) that guessing a neighbour's number is not a way in — and numbers
# never grant access by themselves anyway.
_NUMBER_LO, _NUMBER_SPAN = 1_000_000, 9_000_000
CLIENT_ID_MAX = 64


def new_number() -> str:
    return f"{NUMBER_PREFIX}{_NUMBER_LO + secrets.randbelow(_NUMBER_SPAN)}"


@dataclass(frozen=True, slots=True)
class Viewer:
    """Who is reading: decides which visibilities they may see."""

    kind: str  # "contact" | "agent" | "supervisor"
    id: int | None = None


def viewer_of(p: Principal) -> Viewer:
    """A staff principal as a reader of messages."""
    return Viewer("supervisor" if p.is_supervisor else "agent", p.agent_id)


def can_see(viewer: Viewer, visibility: str, whisper_to: int | None) -> bool:
    """``desk.visibility.readable`` for a viewer of the records."""
    return readable(viewer.kind, visibility, viewer.id is not None and viewer.id == whisper_to)


def readable_clause(viewer: Viewer) -> ColumnElement[bool]:
    """``can_see`` as a SQL condition on messages (search): derived from
    ``desk.visibility.readable`` visibility by visibility, so the two cannot disagree."""
    always = [v for v in VISIBILITIES if readable(viewer.kind, v, False)]
    targeted = [v for v in VISIBILITIES if v not in always and readable(viewer.kind, v, True)]
    condition: ColumnElement[bool] = Message.visibility.in_(always)
    if targeted and viewer.id is not None:
        condition = or_(condition, and_(Message.visibility.in_(targeted),
                                        Message.whisper_to == viewer.id))
    return condition


async def create_conversation(
    sm: SessionMaker,
    *,
    channel: str,
    contact_id: int | None = None,
    department_id: int | None = None,
    group_id: int | None = None,
    site_id: int | None = None,
    subject: str | None = None,
    topic: str | None = None,
    priority: int = 2,
    sla_due: datetime | None = None,
    required_skills: dict[str, int] | None = None,
    custom_fields: dict[str, Any] | None = None,
    parent_id: int | None = None,
    language: str | None = None,
) -> Conversation:
    if channel not in CHANNELS:
        raise InvalidInput(f"channel must be one of {', '.join(CHANNELS)}")
    for _ in range(8):
        conv = Conversation(
            number=new_number(),
            channel=channel,
            status="queued",
            contact_id=contact_id,
            department_id=department_id,
            group_id=group_id,
            site_id=site_id,
            subject=subject[:SUBJECT_MAX] if subject else subject,
            topic=topic,
            priority=priority,
            sla_due=sla_due,
            required_skills=required_skills or {},
            custom_fields=custom_fields or {},
            parent_id=parent_id,
            language=language,
        )
        async with sm() as s:
            s.add(conv)
            try:
                await s.flush()
            except IntegrityError:
                # Number collision: draw again.
                await s.rollback()
                continue
            await sla_store.start(s, [conv.id], conv.created_at or utcnow())
            await s.commit()
            return conv
    raise RuntimeError("could not draw a free conversation number")


async def append_message(
    sm: SessionMaker,
    conversation_id: int,
    *,
    author_kind: str,
    body: str,
    author_id: int | None = None,
    author_name: str | None = None,
    visibility: str = "public",
    client_id: str | None = None,
    body_html: str | None = None,
    email_message_id: str | None = None,
    whisper_to: int | None = None,
) -> tuple[Message, bool]:
    """Store a message with the next ``seq``; returns ``(message, created)``.

    The same ``client_id`` twice returns the first stored message with ``created=False``, so a
    client retrying after a lost acknowledgement gets the same ``seq`` back.
    """
    _check_message(author_kind, body, visibility, client_id, whisper_to)
    for _ in range(3):
        async with sm() as s:
            if client_id is not None:
                existing = await _by_client_id(s, conversation_id, client_id)
                if existing is not None:
                    return existing, False
            seq = await reserve_seq(s, conversation_id)
            msg = Message(
                conversation_id=conversation_id,
                seq=seq,
                author_kind=author_kind,
                author_id=author_id,
                author_name=author_name,
                visibility=visibility,
                client_id=client_id,
                body=body,
                body_html=body_html,
                email_message_id=email_message_id,
                whisper_to=whisper_to,
                created_at=utcnow(),
            )
            s.add(msg)
            await sla_store.on_messages(s, [sla_store.Posted(
                conversation_id, author_kind, visibility, msg.created_at)])
            if visibility == "whisper":
                # The author in data, not actor_id: a message must never fail on its audit
                # row's foreign key.
                audit.record(s, "supervisor.whisper", conversation_id, by=author_id,
                             at=msg.created_at, why=f"whispered to agent {whisper_to}", seq=seq)
            try:
                await s.commit()
            except IntegrityError:
                # A concurrent retry with the same client_id won; the loop returns its message.
                await s.rollback()
                continue
            return msg, True
    raise RuntimeError("could not append message after retries")


@dataclass(frozen=True, slots=True)
class NewMessage:
    """One message for ``append_messages`` (the fields of ``append_message``)."""

    conversation_id: int
    author_kind: str
    body: str
    author_id: int | None = None
    author_name: str | None = None
    visibility: str = "public"
    client_id: str | None = None
    whisper_to: int | None = None


@dataclass(frozen=True, slots=True)
class Appended:
    """A stored message as ``append_messages`` reports it (no ORM object: the hot path makes
    thousands a second). ``created`` is False when the client_id was stored before; the fields
    are then the first copy's."""

    conversation_id: int
    seq: int
    author_kind: str
    author_id: int | None
    author_name: str | None
    visibility: str
    client_id: str | None
    body: str
    whisper_to: int | None
    created_at: datetime
    created: bool

    @classmethod
    def of(cls, m: Message, created: bool) -> Appended:
        return cls(m.conversation_id, m.seq, m.author_kind, m.author_id, m.author_name,
                   m.visibility, m.client_id, m.body, m.whisper_to, m.created_at, created)


async def append_messages(sm: SessionMaker, items: Sequence[NewMessage],
                          connection: Any = None) -> list[Appended | Exception]:
    """Group commit: store many messages in ONE transaction; per item its ``Appended``.

    Same guarantees as ``append_message`` for each item: per-conversation gap-free ``seq`` in
    the order given, ``client_id`` idempotency (also between items of one batch), committed
    before this returns. On PostgreSQL the batch is one statement (one round trip); elsewhere
    one SELECT finds the known client_ids, an UPDATE ... RETURNING per distinct count reserves
    ``n`` seqs per conversation and one INSERT stores the rows. An item that fails validation
    or names a missing conversation gets its exception in place of a result and does not
    affect the others. A concurrent writer inserting the same client_id in between (unique
    violation) or a deadlock sends the whole batch down the per-item path.

    ``connection``: an asyncpg connection of the caller's own for the PostgreSQL statement
    (skips the pool checkout and its liveness ping); by default one comes from ``sm``'s pool.
    """
    results: list[Appended | Exception | None] = [None] * len(items)
    todo: list[int] = []
    for i, item in enumerate(items):
        try:
            _check_message(item.author_kind, item.body, item.visibility, item.client_id,
                           item.whisper_to)
        except InvalidInput as exc:
            results[i] = exc
        else:
            todo.append(i)
    if todo:
        engine = sm.kw["bind"]
        try:
            if engine.dialect.name == "postgresql":
                clocked = await _append_batch_pg(engine, connection, items, todo, results)
                await _move_clocks(sm, [r for r in results
                                        if isinstance(r, Appended) and r.created], clocked)
            else:
                await _append_batch(sm, items, todo, results)
        except _BatchConflict:
            for i in todo:  # append_message moves the clocks of each
                results[i] = await _append_one(sm, items[i])
    return [r if r is not None else RuntimeError("message not stored") for r in results]


async def _move_clocks(sm: SessionMaker, stored: Sequence[Appended], clocked: set[int]) -> None:
    """The PostgreSQL batch is one statement, so its clock work is a transaction of its own,
    opened only when a line moves something: ``clocked`` are the batch's conversations with a
    clock, or all of them while an enabled rule or an active webhook waits, as the statement
    saw them (a visitor's chat lines usually move nothing, and they are most of the traffic)."""
    moving = [a for a in stored if a.visibility == "whisper" or sla_store.moves_clocks(
        a.author_kind, a.conversation_id in clocked)]
    if moving:
        async with sm() as s:
            await _clock_work(s, moving)
            await s.commit()


async def _clock_work(s: AsyncSession, stored: Sequence[Appended]) -> None:
    """The service-level clocks after a batch, and the audit rows of its whispers, in ``s``.
    Chat lines that move no clock and are no whisper (notes, system lines) cost nothing."""
    await sla_store.on_messages(s, [
        sla_store.Posted(a.conversation_id, a.author_kind, a.visibility, a.created_at)
        for a in stored if a.visibility == "public" and a.author_kind != "system"])
    for w in stored:
        if w.visibility == "whisper":  # a supervisor coaching: on the audit trail (rare, small)
            audit.record(s, "supervisor.whisper", w.conversation_id, by=w.author_id,
                         at=w.created_at, why=f"whispered to agent {w.whisper_to}", seq=w.seq)


class _BatchConflict(Exception):
    """A concurrent writer got in the way (same client_id, deadlock): go item by item."""


# PostgreSQL: the whole batch in ONE statement, so one round trip and no BEGIN/COMMIT (a
# single statement is its own transaction). Known client_ids are looked up one index probe
# each (LATERAL ... LIMIT 1: never a hashed scan of the whole table, whatever the statistics
# say), the conversations' rows are locked in id order, each gets its seqs reserved by one
# increment, the rows go in numbered by arrival order; the result gives every input position
# its seq (created or not). Run it on a connection with ``PG_BATCH_SETTINGS``.
_PG_BATCH = f"""
WITH input AS (
    SELECT * FROM unnest($1::int[], $2::text[], $3::text[], $4::int[], $5::text[],
                         $6::text[], $7::text[], $8::int[])
        WITH ORDINALITY AS t(conversation_id, client_id, author_kind, author_id, author_name,
                             visibility, body, whisper_to, ord)
), known AS (
    SELECT i.ord, m.* FROM input i CROSS JOIN LATERAL (
        SELECT m.seq, m.author_kind, m.author_id, m.author_name, m.visibility, m.body,
               m.whisper_to, m.created_at
        FROM messages m
        WHERE m.conversation_id = i.conversation_id AND m.client_id = i.client_id LIMIT 1) m
), fresh AS (
    SELECT i.* FROM input i WHERE i.ord NOT IN (SELECT ord FROM known)
), counts AS (
    SELECT conversation_id, count(*)::int AS n FROM fresh GROUP BY conversation_id
), bumped AS (
    UPDATE conversations c SET {pg_reserve_set("c", "counts.n", "$9")}
    FROM (SELECT id FROM conversations
          WHERE id IN (SELECT conversation_id FROM counts) ORDER BY id FOR UPDATE) l, counts
    WHERE c.id = l.id AND counts.conversation_id = c.id
    RETURNING c.id, c.last_seq, counts.n,
              EXISTS (SELECT 1 FROM conversation_slas cs WHERE cs.conversation_id = c.id)
              OR EXISTS (SELECT 1 FROM automation_rules r WHERE r.enabled)
              OR EXISTS (SELECT 1 FROM webhooks w WHERE w.active) AS clocked
), numbered AS (
    SELECT f.*, b.clocked, b.last_seq - b.n
                + row_number() OVER (PARTITION BY f.conversation_id ORDER BY f.ord) AS seq
    FROM fresh f JOIN bumped b ON b.id = f.conversation_id
), inserted AS (
    INSERT INTO messages (conversation_id, seq, author_kind, author_id, author_name,
                          visibility, client_id, body, whisper_to, created_at)
    SELECT conversation_id, seq, author_kind, author_id, author_name, visibility, client_id,
           body, whisper_to, $9 FROM numbered
)
SELECT ord, seq, NULL::text AS author_kind, NULL::int AS author_id, NULL::text AS author_name,
       NULL::text AS visibility, NULL::text AS body, NULL::int AS whisper_to,
       NULL::timestamptz AS created_at, true AS created, clocked
FROM numbered
UNION ALL
SELECT ord, seq, author_kind, author_id, author_name, visibility, body, whisper_to,
       created_at, false, false
FROM known
"""

# The batch statement's plan is made once per connection (generic): without statistics, as on
# a young database, the planner would freeze a plan that scans the tables as they grow.
# Index probes are right at every size for a batch of messages, so the plan may use nothing else.
# The scans left (the few rules and webhooks, for ``clocked``) then carry the planner's
# penalty cost, which would have the plan JIT-compiled on every run: over a second of CPU each.
PG_BATCH_SETTINGS = {"plan_cache_mode": "force_generic_plan", "enable_seqscan": "off",
                     "enable_hashjoin": "off", "enable_mergejoin": "off", "jit": "off"}


async def _append_batch_pg(engine: Any, connection: Any, items: Sequence[NewMessage],
                           todo: list[int], results: list[Appended | Exception | None]
                           ) -> set[int]:
    """Fills ``results``; returns the conversations with a clock, an enabled rule or an active
    webhook waiting for their lines (``sla_store.moves_clocks``)."""

    first: dict[tuple[int, str], int] = {}  # a retry inside the batch answers like its first
    send: list[int] = []
    repeats: list[tuple[int, int]] = []
    for i in todo:
        key = (items[i].conversation_id, items[i].client_id or "")
        if items[i].client_id is not None and key in first:
            repeats.append((i, first[key]))
            continue
        if items[i].client_id is not None:
            first[key] = i
        send.append(i)
    batch = [items[i] for i in send]
    now = utcnow()
    if connection is not None:
        rows = await _pg_fetch(connection, batch, now)
    else:
        async with engine.connect() as conn:
            rows = await _pg_fetch((await conn.get_raw_connection()).driver_connection,
                                   batch, now)
    clocked: set[int] = set()
    for r in rows:
        m = batch[r["ord"] - 1]
        if r["clocked"]:
            clocked.add(m.conversation_id)
        results[send[r["ord"] - 1]] = (
            Appended(m.conversation_id, r["seq"], m.author_kind, m.author_id, m.author_name,
                     m.visibility, m.client_id, m.body, m.whisper_to, now, True)
            if r["created"] else
            Appended(m.conversation_id, r["seq"], r["author_kind"], r["author_id"],
                     r["author_name"], r["visibility"], m.client_id, r["body"],
                     r["whisper_to"], r["created_at"], False))
    for i in send:
        if results[i] is None:
            results[i] = NotFound(f"conversation {items[i].conversation_id} not found")
    for i, j in repeats:
        done = results[j]
        results[i] = (dataclasses.replace(done, created=False)
                      if isinstance(done, Appended) else done)
    return clocked


async def _pg_fetch(pg: Any, batch: Sequence[NewMessage], now: datetime) -> Any:
    import asyncpg

    try:
        return await pg.fetch(
            _PG_BATCH, [m.conversation_id for m in batch], [m.client_id for m in batch],
            [m.author_kind for m in batch], [m.author_id for m in batch],
            [m.author_name for m in batch], [m.visibility for m in batch],
            [m.body for m in batch], [m.whisper_to for m in batch], now)
    except (asyncpg.UniqueViolationError, asyncpg.DeadlockDetectedError) as exc:
        raise _BatchConflict from exc


async def _append_one(sm: SessionMaker, item: NewMessage) -> Appended | Exception:
    try:
        msg, created = await append_message(
            sm, item.conversation_id, author_kind=item.author_kind, body=item.body,
            author_id=item.author_id, author_name=item.author_name,
            visibility=item.visibility, client_id=item.client_id, whisper_to=item.whisper_to)
    except (InvalidInput, NotFound) as exc:
        return exc
    return Appended.of(msg, created)


async def _append_batch(sm: SessionMaker, items: Sequence[NewMessage], todo: list[int],
                        results: list[Appended | Exception | None]) -> None:
    """The portable path (SQLite): the transaction begins IMMEDIATE, so writers take turns."""
    keyed = [items[i] for i in todo if items[i].client_id is not None]
    async with sm() as s:
        known: dict[tuple[int, str | None], Appended] = {}
        if keyed:
            # Two scalar IN lists (one bound array each) instead of a row-value IN: cheap to
            # build and still an index scan on (conversation_id, client_id).
            rows = (await s.execute(select(Message).where(
                Message.conversation_id.in_({m.conversation_id for m in keyed}),
                Message.client_id.in_({m.client_id for m in keyed})))).scalars().all()
            wanted = {(m.conversation_id, m.client_id) for m in keyed}
            known = {(m.conversation_id, m.client_id): Appended.of(m, False) for m in rows
                     if (m.conversation_id, m.client_id) in wanted}
        fresh: list[int] = []
        first: dict[tuple[int, str | None], int] = {}  # within the batch: first item per key
        repeats: list[tuple[int, int]] = []
        counts: dict[int, int] = {}
        for i in todo:
            item = items[i]
            key = (item.conversation_id, item.client_id)
            if item.client_id is not None and key in known:
                results[i] = known[key]
            elif item.client_id is not None and key in first:
                repeats.append((i, first[key]))
            else:
                if item.client_id is not None:
                    first[key] = i
                fresh.append(i)
                counts[item.conversation_id] = counts.get(item.conversation_id, 0) + 1
        if not fresh:
            return
        now = utcnow()
        nxt = await reserve_seqs(s, counts, now)
        rows_out: list[dict[str, Any]] = []
        for i in fresh:
            item = items[i]
            seq = nxt.get(item.conversation_id)
            if seq is None:
                results[i] = NotFound(f"conversation {item.conversation_id} not found")
                continue
            nxt[item.conversation_id] = seq + 1
            results[i] = Appended(item.conversation_id, seq, item.author_kind, item.author_id,
                                  item.author_name, item.visibility, item.client_id, item.body,
                                  item.whisper_to, now, True)
            rows_out.append({"conversation_id": item.conversation_id, "seq": seq,
                             "author_kind": item.author_kind, "author_id": item.author_id,
                             "author_name": item.author_name, "visibility": item.visibility,
                             "client_id": item.client_id, "body": item.body,
                             "body_html": None, "email_message_id": None,
                             "whisper_to": item.whisper_to, "created_at": now})
        try:
            if rows_out:
                await s.execute(insert(cast(Table, Message.__table__)), rows_out)
                # In the batch's own transaction: on SQLite a second one would queue behind
                # every other writer again.
                await _clock_work(s, [r for i in fresh
                                      if isinstance(r := results[i], Appended)])
            await s.commit()
        except IntegrityError as exc:
            raise _BatchConflict from exc
        for i, j in repeats:
            done = results[j]
            results[i] = (dataclasses.replace(done, created=False)
                          if isinstance(done, Appended) else done)


def _check_message(author_kind: str, body: str, visibility: str, client_id: str | None,
                   whisper_to: int | None) -> None:
    if author_kind not in AUTHORS:
        raise InvalidInput(f"author_kind must be one of {', '.join(AUTHORS)}")
    if visibility not in VISIBILITIES:
        raise InvalidInput(f"visibility must be one of {', '.join(VISIBILITIES)}")
    if len(body) > BODY_MAX:
        raise InvalidInput(f"message body is longer than {BODY_MAX} characters")
    if client_id is not None and not 0 < len(client_id) <= CLIENT_ID_MAX:
        raise InvalidInput(f"client_id must be 1..{CLIENT_ID_MAX} characters")
    if visibility == "whisper" and whisper_to is None:
        raise InvalidInput("a whisper needs the coached agent (whisper_to)")


async def _by_client_id(s: Any, conversation_id: int, client_id: str) -> Message | None:
    result = await s.execute(
        select(Message).where(
            Message.conversation_id == conversation_id, Message.client_id == client_id
        )
    )
    message: Message | None = result.scalar_one_or_none()
    return message


async def messages_after(
    sm: SessionMaker,
    conversation_id: int,
    after_seq: int,
    viewer: Viewer,
    limit: int = 500,
) -> Sequence[Message]:
    """Messages with ``seq > after_seq`` that ``viewer`` may see, in order."""
    async with sm() as s:
        rows = (
            await s.execute(
                select(Message)
                .where(Message.conversation_id == conversation_id, Message.seq > after_seq)
                .order_by(Message.seq)
                .limit(limit)
            )
        ).scalars().all()
    return [m for m in rows if can_see(viewer, m.visibility, m.whisper_to)]


async def set_status(
    sm: SessionMaker, conversation_id: int, status: str, **fields: Any
) -> Conversation:
    async with sm() as s:
        conv = await s.get(Conversation, conversation_id)
        if conv is None:
            raise NotFound(f"conversation {conversation_id} not found")
        await sla_store.status_changed(s, conv, conv.status, status, utcnow())
        conv.status = status
        if status in {"resolved", "closed"} and conv.closed_at is None:
            conv.closed_at = utcnow()
        for key, value in fields.items():
            setattr(conv, key, value)
        await s.commit()
        return conv
