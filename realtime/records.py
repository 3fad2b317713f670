"""What the hub reads from and writes to the records (desk models), shaped for the wire.

Messages are stored through ``MessageWriter`` (group commit over
``desk.conversations.append_messages``: seq + client_id idempotency, one transaction per batch);
this module adds the hub's reads: replay windows bounded by the conversation's ``last_seq`` read
first (so a window never skips a message committed while it is read), conversation facts for
rights checks, and the conversations a visitor or an agent takes part in after (re)connecting.
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import logging
from collections.abc import AsyncIterator, Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import asyncpg
from prometheus_client import Histogram
from sqlalchemy import and_, select
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from desk import facts, portal
from desk.auth import Principal
from desk.background import stop_tasks
from desk.case_links import Grant
from desk.conversations import (
    PG_BATCH_SETTINGS,
    Appended,
    NewMessage,
    Viewer,
    append_message,
    append_messages,
    can_see,
)
from desk.db import SessionMaker
from desk.limits import is_id, is_site_key
from desk.models import (
    Agent,
    Contact,
    Conversation,
    Department,
    Group,
    Message,
    Participant,
    Site,
    utcnow,
)
from desk.status_rules import OPEN
from realtime import protocol as p
from realtime.connection import StoredMessage
from realtime.errors import CommandError
from realtime.session import Part, Role, Session

log = logging.getLogger("switchboard.realtime")

OPEN_STATUSES = OPEN  # desk.status_rules: the one definition of "still open"
PAGE = 500


@dataclass(frozen=True, slots=True)
class ConvInfo:
    id: int
    number: str
    status: str
    group_id: int | None
    site_id: int | None
    contact_id: int | None
    assignee_id: int | None
    topic: str | None
    channel: str = "chat"

    @property
    def open(self) -> bool:
        return self.status in OPEN_STATUSES


@dataclass(frozen=True, slots=True)
class SiteInfo:
    id: int
    key: str
    allowed_origins: tuple[str, ...]
    typing_preview: bool
    identity_secret: str | None = None  # None: identity verification off (desk.identity)


@contextlib.asynccontextmanager
async def reading(sm: SessionMaker) -> AsyncIterator[AsyncConnection]:
    """A connection for reads that need no transaction of their own. On PostgreSQL it runs in
    autocommit: one round trip per statement instead of BEGIN, statement, ROLLBACK."""
    engine = sm.kw["bind"]
    async with engine.connect() as conn:
        if engine.dialect.name == "postgresql":
            conn = await conn.execution_options(isolation_level="AUTOCOMMIT")
        yield conn


def _iso(when: datetime) -> str:
    if when.tzinfo is None:  # SQLite hands back naive UTC
        when = when.replace(tzinfo=UTC)
    return when.isoformat()


def stored(m: Message | Appended | Any, created_at: str | None = None) -> StoredMessage:
    """``m``: a message model, an ``Appended`` or a row of the messages table; ``created_at``:
    its time as the wire writes it, when the caller has it (a batch's rows share one)."""
    files = getattr(m, "files", None)  # an Appended (a chat line) has none
    frame = p.MessageOut(conversation_id=m.conversation_id, seq=m.seq, author_kind=m.author_kind,
                         author_name=m.author_name, visibility=m.visibility, text=m.body,
                         client_id=m.client_id, created_at=created_at or _iso(m.created_at),
                         files=tuple(files) if files else None)
    return StoredMessage(m.conversation_id, m.seq, m.visibility, m.whisper_to,
                         p.serialize_text(frame))


def message_frame(m: Message) -> p.MessageOut:
    return p.MessageOut(m.conversation_id, m.seq, m.author_kind, m.author_name, m.visibility,
                        m.body, m.client_id, _iso(m.created_at),
                        tuple(m.files) if m.files else None)


def viewer_for(session: Session) -> Viewer:
    ident = session.identity
    return Viewer(session.kind, ident.subject_id if ident else None)


async def store_message(sm: SessionMaker, conversation_id: int, *, author_kind: str,
                        author_id: int | None, author_name: str | None, text: str,
                        visibility: str, client_id: str | None,
                        whisper_to: int | None = None) -> tuple[StoredMessage, bool]:
    msg, created = await append_message(
        sm, conversation_id, author_kind=author_kind, body=text, author_id=author_id,
        author_name=author_name, visibility=visibility, client_id=client_id,
        whisper_to=whisper_to)
    return stored(msg), created


# At 2,000 msg/s: ~4 messages a batch instead of ~1.5, for at most 2 ms more per message
# (docs/protocol.md, Performance). Past BATCH_SPILL waiting, a batch goes without waiting.
BATCH_GAP_S = 0.002
BATCH_SPILL = 32

OnStored = Callable[[StoredMessage, bool], None]
_Item = tuple[NewMessage, "asyncio.Future[tuple[StoredMessage, bool]]", OnStored | None]


def _wake(fut: asyncio.Future[None]) -> None:
    if not fut.done():
        fut.set_result(None)


class MessageWriter:
    """Group commit for one process: messages that arrive while earlier batches are being
    written (or in the same event-loop tick) go to the database together, in ONE transaction.

    Up to ``parallel`` workers each write one batch at a time: a batch costs a database round
    trip, each waiting for a turn of a busy event loop, so a message should not also wait for
    the whole previous batch. Batches sharing a conversation queue on its row lock, which keeps
    each conversation's seqs in commit order; a caller's own messages are sequential anyway
    (one command at a time per socket). Under load the batch size follows the load; an idle
    process adds no delay.

    Batches are paced while the database answers fast: one starts at most every ``gap_s``
    (unless ``spill`` messages wait), so at a steady rate a batch carries ``rate * gap_s``
    messages instead of one or two. Each batch costs the same fixed work whatever its size (a
    statement's executor start and a commit with its WAL flush in PostgreSQL, a send() and a
    reply on the database and Redis connections, the event-loop turns between); at 2,000 msg/s
    those fixed costs were most of the servers' CPU. A message waits at most ``gap_s`` more;
    the first after a quiet spell goes at once. Once a batch's round trip takes ``gap_s`` or
    longer (a loaded machine) there is no pause: batches are large then anyway, and a timer
    that a starved process serves late would only add its lateness to every message.

    Each caller awaits its own result. ``on_stored`` runs for each message as soon as the batch
    is committed, before the caller's task resumes (a turn of the event loop later, which under
    load is milliseconds), then ``after_batch`` once (the hub sends the batch's fan-out to Redis
    there): the acknowledgement and the fan-out leave at once, and also when the caller has
    gone away meanwhile.
    """

    def __init__(self, sm: SessionMaker, max_batch: int = 256, parallel: int = 2,
                 after_batch: Callable[[], None] | None = None,
                 batch_sizes: Histogram | None = None, gap_s: float = BATCH_GAP_S,
                 spill: int = BATCH_SPILL) -> None:
        self.sm = sm
        self._after_batch = after_batch
        self._batch_sizes = batch_sizes
        url = sm.kw["bind"].url
        # On PostgreSQL each worker keeps a connection of its own: a pool checkout would
        # cost a liveness ping (three round trips with asyncpg) per batch.
        self._dsn = (url.set(drivername="postgresql").render_as_string(hide_password=False)
                     if url.get_backend_name() == "postgresql" else None)
        self._idle: list[asyncpg.Connection] = []
        self.max_batch = max_batch
        self.parallel = parallel
        self.gap_s = gap_s
        self.spill = spill
        self._next_start = 0.0  # loop time before which no batch starts (unless spilling)
        self._round_trip = 0.0  # of the last batch written, in seconds
        self._pausing = False  # a worker waits for _next_start with the pending batch
        self._pending: list[_Item] = []
        self._workers: list[asyncio.Task[None]] = []
        self._sleeping: list[asyncio.Future[None]] = []
        self._woken = False  # a sleeping worker was woken and has not run yet
        self._closed = False
        self._loop: asyncio.AbstractEventLoop | None = None
        self.batches = 0
        self.messages = 0

    async def store(self, conversation_id: int, *, author_kind: str, author_id: int | None,
                    author_name: str | None, text: str, visibility: str,
                    client_id: str | None, whisper_to: int | None = None,
                    on_stored: OnStored | None = None) -> tuple[StoredMessage, bool]:
        return await self.submit(NewMessage(conversation_id, author_kind, text, author_id,
                                            author_name, visibility, client_id, whisper_to),
                                 on_stored)

    def submit(self, item: NewMessage, on_stored: OnStored | None = None
               ) -> asyncio.Future[tuple[StoredMessage, bool]]:
        """Queue ``item`` for the next batch; the future holds its outcome (``store`` without
        the wait, for callers that must not suspend)."""
        loop = self._loop
        if loop is None:  # looked up once: on Python 3.11 each lookup is a syscall
            loop = self._loop = asyncio.get_running_loop()
        if self._closed:
            raise RuntimeError("message writer stopped")
        if not self._workers:
            self._workers = [loop.create_task(self._work(), name="message-writer")
                             for _ in range(self.parallel)]
        fut: asyncio.Future[tuple[StoredMessage, bool]] = loop.create_future()
        self._pending.append((item, fut, on_stored))
        if not self._woken and self._sleeping and (
                not self._pausing or len(self._pending) >= self.spill):
            # It runs after what this tick still holds, so the frames read with this one join.
            self._woken = True
            self._sleeping.pop().set_result(None)
        return fut

    async def _work(self) -> None:
        loop = self._loop
        assert loop is not None
        while True:
            if self._pending and (not self._pausing or len(self._pending) >= self.spill):
                wait = self._next_start - loop.time()
                if wait > 0 and len(self._pending) < self.spill and self._round_trip < self.gap_s:
                    self._pausing = True  # the others sleep: one timer, not one per worker
                    timer = loop.create_future()  # not asyncio.sleep: a loop lookup per call
                    handle = loop.call_at(self._next_start, _wake, timer)
                    try:
                        await timer
                    finally:
                        self._pausing = False
                        handle.cancel()
                    continue
                self._next_start = loop.time() + self.gap_s
                batch = self._pending[: self.max_batch]
                del self._pending[: len(batch)]
                await self._write(batch)
            else:
                wake = loop.create_future()
                self._sleeping.append(wake)
                try:
                    await wake
                finally:
                    if wake in self._sleeping:
                        self._sleeping.remove(wake)
                self._woken = False

    async def _write(self, batch: list[_Item]) -> None:
        assert self._loop is not None
        conn = None
        try:
            if self._dsn is not None:
                # Only the batch statement runs here: plan it once, not per execution.
                conn = self._idle.pop() if self._idle else await asyncpg.connect(
                    self._dsn, server_settings=PG_BATCH_SETTINGS)
            began = self._loop.time()
            results = await append_messages(self.sm, [item for item, _, _ in batch], conn)
            self._round_trip = self._loop.time() - began
        except BaseException as exc:  # the database is unreachable: every caller hears it
            if conn is not None:
                conn.terminate()  # in an unknown state: never reused
                conn = None
            for _, fut, _ in batch:
                if not fut.done():
                    fut.set_exception(exc if isinstance(exc, Exception)
                                      else RuntimeError("message writer stopped"))
            if not isinstance(exc, Exception):
                raise
        else:
            self.batches += 1
            self.messages += len(batch)
            if self._batch_sizes is not None:
                self._batch_sizes.observe(len(batch))
            when: tuple[datetime, str] | None = None  # the batch's rows share their time
            for (_, fut, on_stored), result in zip(batch, results, strict=True):
                if isinstance(result, Exception):
                    if not fut.done():
                        fut.set_exception(result)
                    continue
                if when is None or when[0] != result.created_at:
                    when = (result.created_at, _iso(result.created_at))
                outcome = (stored(result, when[1]), result.created)
                if on_stored is not None:
                    try:
                        on_stored(*outcome)
                    except Exception:
                        log.exception("after storing message %s", result.seq)
                if not fut.done():  # else the caller went away; the message is stored anyway
                    fut.set_result(outcome)
            if self._after_batch is not None:
                self._after_batch()
        finally:
            if conn is not None:
                self._idle.append(conn)

    async def close(self) -> None:
        self._closed = True
        workers, self._workers = self._workers, []
        await stop_tasks(workers)
        pending, self._pending = self._pending, []
        for _, fut, _ in pending:  # never taken by a worker: not stored
            if not fut.done():
                fut.set_exception(RuntimeError("message writer stopped"))
        while self._idle:
            await self._idle.pop().close()


_MESSAGE_COLUMNS = (Message.conversation_id, Message.seq, Message.author_kind,
                    Message.author_name, Message.visibility, Message.body, Message.client_id,
                    Message.created_at, Message.whisper_to, Message.files)


async def fetch_after(sm: SessionMaker, conversation_id: int, after_seq: int,
                      session: Session) -> tuple[list[StoredMessage], int, bool]:
    """Messages after ``after_seq`` the viewer may see, the last seq covered, and more-to-come."""
    viewer = viewer_for(session)
    async with reading(sm) as conn:
        # last_seq first: every message up to it is committed (same transaction as the bump).
        upto = (await conn.execute(select(Conversation.last_seq).where(
            Conversation.id == conversation_id))).scalar_one_or_none() or 0
        rows = (await conn.execute(
            select(*_MESSAGE_COLUMNS)
            .where(Message.conversation_id == conversation_id, Message.seq > after_seq,
                   Message.seq <= upto)
            .order_by(Message.seq)
            .limit(PAGE)
        )).all()
    more = len(rows) == PAGE and rows[-1].seq < upto
    if more:
        upto = rows[-1].seq
    return [stored(m) for m in rows if can_see(viewer, m.visibility, m.whisper_to)], upto, more


async def transcript(sm: SessionMaker, conversation_id: int,
                     viewer: Viewer) -> Sequence[p.MessageOut]:
    async with sm() as s:
        rows = (await s.execute(
            select(Message).where(Message.conversation_id == conversation_id)
            .order_by(Message.seq)
        )).scalars().all()
    return [message_frame(m) for m in rows if can_see(viewer, m.visibility, m.whisper_to)]


def conv_info(c: Conversation) -> ConvInfo:
    return ConvInfo(c.id, c.number, c.status, c.group_id, c.site_id, c.contact_id,
                    c.assignee_id, c.topic, c.channel)


_CONV_COLUMNS = (Conversation.id, Conversation.number, Conversation.status, Conversation.group_id,
                 Conversation.site_id, Conversation.contact_id, Conversation.assignee_id,
                 Conversation.topic, Conversation.channel)


async def get_conv(sm: SessionMaker, conversation_id: int) -> ConvInfo | None:
    async with reading(sm) as conn:
        row = (await conn.execute(select(*_CONV_COLUMNS).where(
            Conversation.id == conversation_id))).first()
    return ConvInfo(*row) if row is not None else None


async def get_convs(sm: SessionMaker, conversation_ids: Iterable[int]) -> dict[int, ConvInfo]:
    """``get_conv`` for many, ``PAGE`` ids per query; missing ones are absent."""
    ids = sorted(set(conversation_ids))
    out: dict[int, ConvInfo] = {}
    async with reading(sm) as conn:
        for i in range(0, len(ids), PAGE):
            rows = (await conn.execute(select(*_CONV_COLUMNS).where(
                Conversation.id.in_(ids[i: i + PAGE])))).all()
            out.update((row[0], ConvInfo(*row)) for row in rows)
    return out


async def site_by_key(sm: SessionMaker, key: str) -> SiteInfo | None:
    if not is_site_key(key):
        return None
    async with sm() as s:
        site = (await s.execute(select(Site).where(Site.key == key))).scalar_one_or_none()
        if site is None:
            return None
        return SiteInfo(site.id, site.key,
                        tuple(o.rstrip("/") for o in site.allowed_origins or ()),
                        bool(site.typing_preview), site.identity_secret or None)


@dataclass(frozen=True, slots=True)
class VisitorLogin:
    """What a visitor's token opens, and what Who's On shows of them when a visit begins."""

    name: str
    parts: dict[int, Part]  # open chats on the site
    chatted: bool  # had a conversation before (any channel, any site)
    verified_name: str | None  # only when the host site verified who it is


async def visitor_login(sm: SessionMaker, contact_id: int, nonce: str,
                        site_id: int) -> VisitorLogin | None:
    """A visitor's token check and welcome in ONE query, or None when the contact is gone or
    the token's nonce was revoked. Reconnect storms after a deploy open thousands of sockets at
    once; each costs one round trip, and the visit it begins none more."""
    chatted = select(Conversation.id).where(Conversation.contact_id == contact_id).exists()
    query = (
        select(Contact.token_nonce, Contact.name, Conversation.id, Contact.email,
               Contact.external_id, chatted.label("chatted"))
        .outerjoin(Conversation, and_(
            Conversation.contact_id == Contact.id, Conversation.site_id == site_id,
            Conversation.channel == "chat", Conversation.status.in_(OPEN_STATUSES)))
        .where(Contact.id == contact_id))
    async with reading(sm) as conn:
        rows = (await conn.execute(query)).all()
    if not rows or not hmac.compare_digest(rows[0][0] or "", nonce):
        return None
    _, name, _, email, external, had = rows[0]
    return VisitorLogin(name or "Visitor", {r[2]: Part.OWNER for r in rows if r[2] is not None},
                        bool(had), (name or email) if external is not None else None)


async def case_login(sm: SessionMaker, grant: Grant) -> tuple[str, int] | None:
    """A case page socket's check (``desk.portal.may_open`` for its one-case grant): the
    contact's name and the case's id, or None (revoked, another contact's case, gone)."""
    assert grant.number is not None
    async with sm() as s:
        conv = await portal.may_open(s, grant, grant.number)
        contact = await s.get(Contact, grant.contact_id) if conv is not None else None
    if conv is None or contact is None:
        return None
    return contact.name or "Customer", conv.id


async def transcript_address(sm: SessionMaker, contact_id: int) -> str | None:
    """Where a visitor's transcript may go: the address the contact gave when starting the
    chat (None without one, or when mail to it bounced)."""
    async with reading(sm) as conn:
        row = (await conn.execute(select(Contact.email, Contact.undeliverable).where(
            Contact.id == contact_id))).first()
    return row[0] if row is not None and row[0] and not row[1] else None


async def contact(sm: SessionMaker, contact_id: int) -> Contact | None:
    async with sm() as s:
        return await s.get(Contact, contact_id)


async def visitor_parts(sm: SessionMaker, contact_id: int, site_id: int) -> dict[int, Part]:
    """The visitor's open chats on this site: the only conversations their token opens."""
    async with sm() as s:
        ids = (await s.execute(select(Conversation.id).where(
            Conversation.contact_id == contact_id, Conversation.site_id == site_id,
            Conversation.channel == "chat", Conversation.status.in_(OPEN_STATUSES),
        ))).scalars().all()
    return dict.fromkeys(ids, Part.OWNER)


async def staff_parts(sm: SessionMaker, principal: Principal, role: Role) -> dict[int, Part]:
    """Open chats the agent is assigned to or co-chats in, of the groups they may see now
    (monitoring is per socket)."""
    agent_id = principal.agent_id
    async with sm() as s:
        assigned = (await s.execute(select(Conversation.id).where(
            Conversation.assignee_id == agent_id, Conversation.channel == "chat",
            Conversation.status.in_(OPEN_STATUSES), principal.scope(Conversation.group_id),
        ))).scalars().all()
        cochat = (await s.execute(
            select(Participant.conversation_id)
            .join(Conversation, Conversation.id == Participant.conversation_id)
            .where(Participant.agent_id == agent_id, Participant.role == "cochat",
                   Conversation.status.in_(OPEN_STATUSES),
                   principal.scope(Conversation.group_id))
        )).scalars().all()
    joined = Part.JOINED if role is Role.SUPERVISOR else Part.COCHAT
    parts = dict.fromkeys(cochat, joined)
    parts.update(dict.fromkeys(assigned, Part.ASSIGNEE))
    return parts


async def agent_name(sm: SessionMaker, agent_id: int | None) -> str | None:
    if agent_id is None:
        return None
    async with reading(sm) as conn:
        name: str | None = (await conn.execute(select(Agent.display_name).where(
            Agent.id == agent_id))).scalar_one_or_none()
    return name


async def last_seq(sm: SessionMaker, conversation_id: int) -> int:
    async with reading(sm) as conn:
        value = (await conn.execute(select(Conversation.last_seq).where(
            Conversation.id == conversation_id))).scalar_one_or_none()
    return value or 0


async def set_status_fields(sm: SessionMaker, cid: int, **fields: Any) -> None:
    async with sm() as s:
        conv = await s.get(Conversation, cid)
        if conv is None:
            raise CommandError("not_found", "no such conversation")
        for name, value in fields.items():
            setattr(conv, name, value)
        if fields.get("rating") is not None:
            facts.record(s, "rating", conv, utcnow(), value=fields["rating"],
                         comment=fields.get("rating_comment") or "")
        await s.commit()


async def entry_group(s: AsyncSession, dept: Department) -> int | None:
    """The group a department's new conversations enter: its front-line group, else its first
    group (a conversation never waits in no group)."""
    if dept.front_group_id is not None:
        return dept.front_group_id
    first: int | None = (await s.execute(
        select(Group.id).where(Group.department_id == dept.id).order_by(Group.id).limit(1)
    )).scalar_one_or_none()
    return first


async def front_group(s: AsyncSession, department_id: int | None,
                      site_departments: Sequence[Any]) -> tuple[int, int]:
    """(department, group) for a new chat: the department's front-line group.

    Without a department from the visitor: the site's first configured one, else the first
    department. A department without a front-line group falls back to its first group: a
    conversation never waits in no group at all.
    """
    if department_id is not None:
        # From the frame (checked) or the site's topic tree (admin-written JSON): either way
        # only an id the column can hold reaches the query.
        dept = await s.get(Department, department_id) if is_id(department_id) else None
        if dept is None:
            raise CommandError("not_found", "unknown department")
    else:
        dept = None
        for candidate in site_departments:
            if is_id(candidate) and (dept := await s.get(Department, candidate)):
                break
        if dept is None:
            dept = (await s.execute(select(Department).order_by(Department.id).limit(1))
                    ).scalar_one_or_none()
    group_id = await entry_group(s, dept) if dept is not None else None
    if dept is None or group_id is None:
        raise CommandError("conflict", "no department is set up to take chats")
    return dept.id, group_id
