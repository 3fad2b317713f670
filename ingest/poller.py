"""``switchboard poll``: every enabled mailbox, one poller task each, leased through Redis.

Per mailbox: take the lease -> connect -> sync (headers and sizes first, bodies in bounded
batches, one transaction per mail carrying the UID cursor) -> \\Seen -> IDLE until new mail or
the re-IDLE interval -> sync again. Any IMAP fault throws the session away and reconnects with
exponential backoff; losing the lease stops work on that mailbox at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import random
import signal
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

import orjson
import redis.asyncio as aioredis
from sqlalchemy import select, update

from desk.db import SessionMaker, make_engine, make_sessionmaker
from desk.metrics import Metrics
from desk.models import AuditEvent, Department, Mailbox
from desk.settings import Settings
from ingest import jobs
from ingest.errors import ImapFailure, LeaseLost, PoisonMail
from ingest.headers import message_ids, storable
from ingest.imap import IDLE_S, FetchedItem, ImapConfig, ImapSession
from ingest.lease import Lease
from ingest.mime import Limits, ParsedMail, parse, parse_headers_only
from ingest.tickets import Imported, MailboxInfo, TicketImporter
from routing import connect
from routing.mail_budget import MailRequest, Purpose
from routing.mail_guard import MailGuard
from routing.router import Router

log = logging.getLogger(__name__)
RouteTickets = Callable[[Sequence[int]], Awaitable[object]]  # one committed batch at a time
Acknowledge = Callable[[Imported], Awaitable[None]]


@dataclass(frozen=True, slots=True)
class PollerConfig:
    batch_size: int = 100
    body_batch_bytes: int = 8 * 1024 * 1024
    commit_size: int = 50  # mails per transaction on the backlog path
    lease_ttl_ms: int = 15_000
    backoff_min_s: float = 0.5
    backoff_max_s: float = 60.0
    idle_s: float = IDLE_S
    reload_s: float = 5.0  # how often the mailbox table is read again for changes
    limits: Limits = field(default_factory=Limits)


class MailboxPoller:
    def __init__(self, *, mailbox_id: int, sm: SessionMaker, redis: aioredis.Redis,
                 settings: Settings, route: RouteTickets, acknowledge: Acknowledge,
                 config: PollerConfig = PollerConfig(), metrics: Metrics | None = None) -> None:
        self.mailbox_id = mailbox_id
        self.counted = None if metrics is None else _Counted(metrics, mailbox_id)
        self.sm = sm
        self.redis = redis
        self.settings = settings
        self.route = route
        self.acknowledge = acknowledge
        self.config = config
        self.importer = TicketImporter(sm, settings.secret_key,
                                       settings.data_dir / "attachments")
        self.synced = asyncio.Event()  # set after each completed sync (tests, benchmark)

    async def run(self, stop: asyncio.Event) -> None:
        """Hold the lease and work the mailbox until ``stop``; survive every fault (each noted
        in ``mailboxes.last_error``) with backoff."""
        lease = Lease(self.redis, self.mailbox_id, self.config.lease_ttl_ms)
        backoff = self.config.backoff_min_s
        while not stop.is_set():
            if not await lease.acquire():
                await _sleep(stop, self.config.lease_ttl_ms / 3000)
                continue
            try:
                await self._work_with_lease(lease, stop)
                backoff = self.config.backoff_min_s
            except LeaseLost:
                log.warning("mailbox %s: lease lost, standing by", self.mailbox_id)
            except Exception as exc:  # IMAP faults, the records down: never a dead task
                if isinstance(exc, ImapFailure):
                    error = str(exc)
                    log.warning("mailbox %s: %s; reconnecting in %.1fs", self.mailbox_id,
                                error, backoff)
                else:
                    error = f"{type(exc).__name__}: {exc}"
                    log.exception("mailbox %s failed; retrying in %.1fs", self.mailbox_id,
                                  backoff)
                await self._note_error(error)
                if self.counted is not None:
                    self.counted.errors.inc()
                await _sleep(stop, backoff * (0.5 + random.random() / 2))
                backoff = min(backoff * 2, self.config.backoff_max_s)
            finally:
                with contextlib.suppress(Exception):
                    await lease.release()

    async def _work_with_lease(self, lease: Lease, stop: asyncio.Event) -> None:
        session = ImapSession(await self._imap_config())
        work = asyncio.ensure_future(self._work(session, stop))
        keeper = asyncio.ensure_future(self._keep(lease))
        try:
            done, _ = await asyncio.wait({work, keeper}, return_when=asyncio.FIRST_COMPLETED)
            if keeper in done:
                work.cancel()
                with contextlib.suppress(asyncio.CancelledError, ImapFailure):
                    await work
                keeper.result()
            else:
                work.result()
        finally:
            keeper.cancel()
            work.cancel()
            await session.close()

    async def _keep(self, lease: Lease) -> None:
        while True:
            await asyncio.sleep(lease.ttl_ms / 3000)
            if not await lease.renew():
                raise LeaseLost(f"mailbox {self.mailbox_id}")

    async def _work(self, session: ImapSession, stop: asyncio.Event) -> None:
        await session.connect()
        await self._note_error(None)  # connected: an older connection error no longer holds
        while not stop.is_set():
            await self.sync(session)
            self.synced.set()
            waiter = asyncio.ensure_future(stop.wait())
            idle = asyncio.ensure_future(session.wait_for_change(self.config.idle_s))
            done, _ = await asyncio.wait({waiter, idle}, return_when=asyncio.FIRST_COMPLETED)
            waiter.cancel()
            if idle not in done:
                idle.cancel()
                return
            idle.result()

    async def sync(self, session: ImapSession) -> int:
        """Import everything past the cursor; returns how many mails were handled."""
        state = session.state
        assert state is not None
        box, last_uid = await self._cursor(state.uidvalidity)
        handled = 0
        while True:
            headers = await session.fetch_headers(last_uid + 1, self.config.batch_size)
            if not headers:
                return handled
            await self._batch(session, box, state.uidvalidity, headers)
            await session.mark_seen([h.uid for h in headers])
            last_uid = headers[-1].uid
            handled += len(headers)

    async def _batch(self, session: ImapSession, box: MailboxInfo, uidvalidity: int,
                     headers: list[FetchedItem]) -> None:
        limit = self.config.limits.max_bytes
        chunk: list[FetchedItem] = []
        chunk_bytes = 0
        for item in headers:
            if item.size > limit:
                await self._flush(session, box, uidvalidity, chunk)
                chunk, chunk_bytes = [], 0
                await self._oversize(box, uidvalidity, item)
                continue
            if chunk and chunk_bytes + item.size > self.config.body_batch_bytes:
                await self._flush(session, box, uidvalidity, chunk)
                chunk, chunk_bytes = [], 0
            chunk.append(item)
            chunk_bytes += item.size
        await self._flush(session, box, uidvalidity, chunk)

    async def _flush(self, session: ImapSession, box: MailboxInfo, uidvalidity: int,
                     chunk: list[FetchedItem]) -> None:
        if not chunk:
            return
        bodies = await session.fetch_bodies([i.uid for i in chunk])
        parsed: list[tuple[int, bytes, ParsedMail]] = []
        for item in chunk:
            raw = bodies.get(item.uid)
            if raw is None:  # expunged between the two fetches
                continue
            try:
                parsed.append((item.uid, raw, parse(raw, self.config.limits)))
            except PoisonMail as exc:
                # Commit what came before, so the cursor never skips past an unsaved mail.
                await self._import(box, uidvalidity, parsed)
                parsed = []
                key = _header_key(item) or f"sha256:{hashlib.sha256(raw).hexdigest()}"
                await self._alert(box, item.uid, exc.reason)
                await self.importer.quarantine(box, key=key, uidvalidity=uidvalidity,
                                               uid=item.uid, raw=raw, reason=exc.reason)
        await self._import(box, uidvalidity, parsed)

    async def _import(self, box: MailboxInfo, uidvalidity: int,
                      parsed: list[tuple[int, bytes, ParsedMail]]) -> None:
        for start in range(0, len(parsed), self.config.commit_size):
            chunk = parsed[start:start + self.config.commit_size]
            results = await self.importer.import_many(box, uidvalidity=uidvalidity, mails=chunk)
            if self.counted is not None:
                self.counted.imported(chunk, results)
            for (uid, _, _), result in zip(chunk, results, strict=True):
                if result.error is not None:
                    await self._alert(box, uid, result.error)
            await self._after(results)

    async def _after(self, results: Sequence[Imported]) -> None:
        routed = [r.conversation_id for r in results if r.route and r.conversation_id is not None]
        if routed:
            try:
                await self.route(routed)
            except Exception:  # the tickets are recorded; the router's sweep picks them up
                log.exception("routing conversations %s failed", routed)
        for result in results:
            if not result.acknowledge:
                continue
            try:
                await self.acknowledge(result)
            except Exception:  # an acknowledgement is best effort, the ticket is not
                log.exception("acknowledgement for %s failed", result.conversation_id)

    async def _oversize(self, box: MailboxInfo, uidvalidity: int, item: FetchedItem) -> None:
        key = _header_key(item) or "oversize:" + hashlib.sha256(
            item.data + str(item.size).encode()).hexdigest()
        reason = f"mail of {item.size} bytes exceeds the {self.config.limits.max_bytes} limit"
        await self._alert(box, item.uid, reason)
        await self.importer.quarantine(box, key=key, uidvalidity=uidvalidity, uid=item.uid,
                                       raw=None, reason=reason + "; headers: " +
                                       item.data[:4000].decode("utf-8", "replace"))

    async def _alert(self, box: MailboxInfo, uid: int, reason: str) -> None:
        """Every quarantined mail: a log line, an audit event, the mailbox's ``last_error``."""
        log.warning("mailbox %s: mail UID %s quarantined: %s", box.id, uid, reason)
        if self.counted is not None:
            self.counted.errors.inc()
        async with self.sm() as s:
            s.add(AuditEvent(action="mail.quarantined", target=f"mailbox:{box.id}",
                             data={"uid": uid, "reason": storable(reason)[:500]}))
            await s.commit()
        await self._note_error(f"mail UID {uid} quarantined: {reason}")

    async def _cursor(self, uidvalidity: int) -> tuple[MailboxInfo, int]:
        """Load the cursor; a new UIDVALIDITY resets it (dedup keys make the re-scan safe)."""
        async with self.sm() as s:
            row = await s.get(Mailbox, self.mailbox_id)
            if row is None:
                raise LeaseLost(f"mailbox {self.mailbox_id} no longer exists")
            if row.uidvalidity != uidvalidity:
                if row.uidvalidity is not None:
                    log.warning("mailbox %s: UIDVALIDITY %s -> %s, re-scanning", row.id,
                                row.uidvalidity, uidvalidity)
                row.uidvalidity, row.last_uid = uidvalidity, 0
            group_id = (await s.execute(select(Department.front_group_id).where(
                Department.id == row.department_id))).scalar_one_or_none()
            info = MailboxInfo(row.id, row.department_id, group_id, tuple(row.rules or ()))
            last_uid = row.last_uid
            await s.commit()
        return info, last_uid

    async def _imap_config(self) -> ImapConfig:
        async with self.sm() as s:
            row = await s.get(Mailbox, self.mailbox_id)
        if row is None or not row.enabled:
            raise LeaseLost(f"mailbox {self.mailbox_id} is gone or disabled")
        return imap_config(row, self.settings, self.config.idle_s)

    async def _note_error(self, error: str | None) -> None:
        with contextlib.suppress(Exception):
            async with self.sm() as s:
                await s.execute(update(Mailbox).where(Mailbox.id == self.mailbox_id)
                                .values(last_error=storable(error)[:2000] if error else None))
                await s.commit()


class _Counted:
    """One mailbox's series (desk.metrics), bound once."""

    def __init__(self, metrics: Metrics, mailbox_id: int) -> None:
        label = str(mailbox_id)
        self.errors = metrics.imap_errors.labels(label)
        self.to_ticket = metrics.imap_time_to_ticket.labels(label)
        self.mails = metrics.imap_mails
        self.label = label

    def imported(self, chunk: Sequence[tuple[int, bytes, ParsedMail]],
                 results: Sequence[Imported]) -> None:
        now = datetime.now(UTC)
        for (_, _, mail), result in zip(chunk, results, strict=True):
            self.mails.labels(self.label, result.status).inc()
            if result.status == "ticket" and mail.date is not None and mail.date.tzinfo:
                self.to_ticket.observe(max(0.0, (now - mail.date).total_seconds()))


def imap_config(row: Mailbox, settings: Settings, idle_s: float) -> ImapConfig:
    return ImapConfig(host=row.host, port=row.port, username=row.username,
                      password=row.password, security=row.security, folder=row.folder,
                      timeout_s=settings.imap_timeout_s,
                      idle_s=min(idle_s, row.poll_interval_s * 30))


def check_mailbox(settings: Settings, mailbox_id: int) -> tuple[bool, str]:
    """``switchboard mailbox test``: log in to a stored mailbox and select its folder.

    (True, its message count) or (False, the exact failure, the server's answer included)."""

    async def check() -> tuple[bool, str]:
        engine = make_engine(settings)
        try:
            async with make_sessionmaker(engine)() as s:
                row = await s.get(Mailbox, mailbox_id)
        finally:
            await engine.dispose()
        if row is None:
            return False, f"mailbox {mailbox_id} not found"
        session = ImapSession(imap_config(row, settings, PollerConfig().idle_s))
        try:
            state = await session.connect()
        except ImapFailure as exc:
            return False, str(exc)
        finally:
            await session.close()
        return True, (f"{row.username}@{row.host}:{row.port} {row.folder}: "
                      f"{state.exists} messages")

    return asyncio.run(check())


def _header_key(item: FetchedItem) -> str | None:
    ids = message_ids(parse_headers_only(item.data).get("Message-ID"), 1)
    return ids[0] if ids else None


async def _sleep(stop: asyncio.Event, seconds: float) -> None:
    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout(seconds):
            await stop.wait()


def make_acknowledger(guard: MailGuard,
                      enqueue: Callable[[int], Awaitable[None]]) -> Acknowledge:
    """The mail guard decides here (a sender's address is a stranger's say-so), the worker
    composes and sends (``jobs.notify_created_job``): the poller pays one Redis round trip per
    ticket, not the records work of queueing a mail."""
    async def acknowledge(result: Imported) -> None:
        if result.conversation_id is None or result.sender is None:
            return
        verdict = await guard.admit(MailRequest(Purpose.ACKNOWLEDGEMENT, result.sender,
                                                conversation_id=result.conversation_id))
        if not verdict.allowed:
            log.info("acknowledgement to %s not sent: %s", result.sender, verdict.message)
            return
        await enqueue(result.conversation_id)
    return acknowledge


async def serve(settings: Settings, stop: asyncio.Event,
                config: PollerConfig = PollerConfig(), metrics: Metrics | None = None) -> None:
    """Run one poller per enabled mailbox until ``stop``.

    The mailbox table is read again every ``config.reload_s``: a new or re-enabled mailbox
    gets a task, a disabled or deleted one loses it, and a changed one's task is stopped and
    started again with the new settings — no restart of the process needed.
    """
    if not settings.redis_url:
        raise SystemExit("the poller needs REDIS_URL")
    engine = make_engine(settings)
    sm = make_sessionmaker(engine)
    redis = connect.async_client(settings.redis_url)
    queue = jobs.mail_queue(connect.sync_client(settings.redis_url))

    async def enqueue(conversation_id: int) -> None:
        await asyncio.to_thread(jobs.enqueue_notify_created, queue, conversation_id)

    ack = make_acknowledger(MailGuard.of(redis, settings), enqueue)
    router = Router(settings, redis, sm, metrics=metrics)

    def start(mailbox_id: int, version: tuple[object, ...]) -> _Task:
        own_stop = asyncio.Event()
        poller = MailboxPoller(mailbox_id=mailbox_id, sm=sm, redis=redis, settings=settings,
                               route=router.enqueue_many, acknowledge=ack, config=config,
                               metrics=metrics)
        return _Task(asyncio.create_task(poller.run(own_stop)), own_stop, version)

    tasks: dict[int, _Task] = {}
    try:
        while not stop.is_set():
            try:
                wanted = await _enabled_mailboxes(sm)
            except Exception:  # the records are down: keep what runs, look again later
                log.exception("reading the mailboxes failed")
                wanted = {i: t.version for i, t in tasks.items()}
            stale = [i for i, t in tasks.items() if wanted.get(i) != t.version or t.task.done()]
            await _stop_tasks([tasks.pop(i) for i in stale])
            for mailbox_id, version in wanted.items():
                if mailbox_id not in tasks:
                    tasks[mailbox_id] = start(mailbox_id, version)
            await _sleep(stop, config.reload_s)
    finally:
        await _stop_tasks(list(tasks.values()))
        await redis.aclose()
        queue.connection.close()
        await engine.dispose()


@dataclass(frozen=True, slots=True)
class _Task:
    task: asyncio.Task[None]
    stop: asyncio.Event
    version: tuple[object, ...]  # the mailbox settings it was started with


async def _enabled_mailboxes(sm: SessionMaker) -> dict[int, tuple[object, ...]]:
    async with sm() as s:
        rows = (await s.execute(select(Mailbox).where(Mailbox.enabled.is_(True)))).scalars()
        return {m.id: (m.department_id, m.host, m.port, m.security, m.username, m.password,
                       m.folder, m.poll_interval_s, orjson.dumps(m.rules or []))
                for m in rows}


async def _stop_tasks(tasks: Sequence[_Task]) -> None:
    for t in tasks:
        t.stop.set()
    await asyncio.gather(*(t.task for t in tasks), return_exceptions=True)


def run(settings: Settings, config: PollerConfig = PollerConfig()) -> None:
    """Entry point of ``switchboard poll``; SIGINT/SIGTERM stop it cleanly."""

    async def main() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        await serve(settings, stop, config, Metrics.build(settings, "poller"))

    asyncio.run(main())
