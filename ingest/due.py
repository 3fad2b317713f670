"""The desk's own clock: fire what came due in ``due_timers``, each timer exactly once.

``switchboard worker`` runs ``run`` on a thread. A sweep reads the earliest due timers by the
``due_at`` index (never a scan of the open conversations), records one ``timer_firings`` row
per timer under its idempotency key (kind, conversation, instance: unique), deletes the timers
and applies the effects — SLA breached, the inactivity ladder's reminder or closing, rule
firings — all in ONE transaction. A worker killed mid-sweep leaves nothing half-done (the
transaction is rolled back and the timers are still there); two workers never fire one timer
twice (PostgreSQL: the rows are taken ``FOR UPDATE SKIP LOCKED``, and the unique key would
refuse a second firing anyway; SQLite: every transaction begins IMMEDIATE, so sweeps take
turns). Mails are staged as OutboundMail rows in that transaction and their send jobs
enqueued after the commit; a crash between the two leaves queued rows that the next sweep's
``requeue_staged`` enqueues.

Catch-up: whatever is due at the sweep's ``now`` fires, oldest first, however late (a worker
that was down an hour fires that hour's timers when it returns: reminders late rather than
lost). An SLA breach is recorded at its due time, not at the late firing.

A rule's assignment and console notice are done after the commit: the router writes records
of its own, which must not wait on the sweep's transaction (on SQLite it holds the write
lock). The sweep writes them as ``rule_outbox`` rows in the firing's transaction and
``ingest.rule_outbox.perform`` does them once it committed, exactly once even across a
crash in between.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from rq import Queue
from sqlalchemy import (
    ARRAY,
    ColumnElement,
    DateTime,
    Integer,
    String,
    any_,
    delete,
    func,
    insert,
    literal,
    select,
    update,
)
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession

from desk import (
    audit,
    automation,
    automation_store,
    due_times,
    facts,
    inactivity,
    report_rollups,
    sla_store,
)
from desk.db import SessionMaker, is_connection_fault, make_engine, make_sessionmaker
from desk.metrics import Metrics
from desk.models import (
    Commitment,
    Contact,
    Conversation,
    ConversationSla,
    ConversationTag,
    DueTimer,
    OutboundMail,
    RuleOutbox,
    TimerFiring,
    utcnow,
)
from desk.settings import Settings
from ingest import (
    jobs,
    notices,
    outbound,
    report_mail,
    rule_actions,
    rule_outbox,
    task_reminders,
)
from routing import connect, events
from routing.mail_budget import MailRequest, Purpose
from routing.mail_guard import MailGuard
from routing.router import Router

log = logging.getLogger(__name__)

BATCH = 25
POLL_S = 1.0
# How often the worker rolls up the closed report days (a build of nothing costs 4 queries).
ROLLUP_EVERY_S = 300
# Kinds of mail a firing stages; ``requeue_staged`` enqueues those no job was queued for.
STAGED_KINDS = ("reminder", "closed", "rule", "report", "notice", "task")
STAGED_GRACE_S = 30


@dataclass
class Firing:
    """What one sweep's handlers share: the transaction, the clock, and what to do after."""

    s: AsyncSession
    settings: Settings
    now: datetime
    guard: MailGuard | None
    calendars: sla_store.Calendars
    mails: list[int] = field(default_factory=list)
    held: list[Any] = field(default_factory=list)  # the rows _lock loaded, kept in the map
    fired: list[int] = field(default_factory=list)  # ids of the rules that fired
    tags: dict[int, list[str]] = field(default_factory=dict)  # the batch's, by conversation
    outbox: list[dict[str, Any]] = field(default_factory=list)  # rule_outbox rows to write
    firing_id: int = 0  # of the timer being fired
    parsed: automation_store.Parsed | None = None  # the worker's, across its sweeps
    _rules: list[automation.Rule] | None = None

    async def rules(self) -> list[automation.Rule]:
        if self._rules is None:
            self._rules = await automation_store.enabled_rules(self.s, self.parsed)
        return self._rules

    async def customer(self, conv: Conversation, kind: str, key: str,
                       body: outbound.Body) -> str:
        return await _mail(self, conv, kind, key, body)

    async def staff(self, conv: Conversation, to: str, key: str, text: str) -> str:
        return await _staff_mail(self, conv, to, key, text)

    def assign(self, conv: Conversation, agent_id: int, rule_id: int) -> str:
        self._out("assign", conv, agent_id, rule_id, "")
        return f"assign to agent {agent_id} (after the commit)"

    def console(self, conv: Conversation, agent_id: int, rule_id: int, text: str) -> str:
        self._out("notice", conv, agent_id, rule_id, text)
        return f"notify agent {agent_id} in the console"

    def _out(self, kind: str, conv: Conversation, agent_id: int, rule_id: int,
             text: str) -> None:
        self.outbox.append({"firing_id": self.firing_id, "conversation_id": conv.id,
                            "rule_id": rule_id, "kind": kind, "agent_id": agent_id,
                            "number": conv.number, "text": text, "created_at": self.now})


@dataclass(frozen=True, slots=True)
class Swept:
    taken: int
    fired: int
    duplicates: int
    mails: tuple[int, ...]
    outcomes: tuple[tuple[str, int, str, str], ...] = ()  # (kind, conversation, instance, what)
    rules_fired: tuple[int, ...] = ()
    outboxed: int = 0  # rule_outbox rows written (``ingest.rule_outbox`` does them)


@dataclass(frozen=True, slots=True)
class Due:
    """One claimed ``due_timers`` row (read by a core statement: no ORM object per row)."""

    id: int
    kind: str
    conversation_id: int
    instance: str
    due_at: datetime


Handler = Callable[[Firing, Due], Any]


class _Failed(Exception):
    """A handler failed in a sweep without savepoints: the sweep is redone with them."""


async def sweep(sm: SessionMaker, settings: Settings, now: datetime, *,
                guard: MailGuard | None = None, batch: int = BATCH,
                parsed: automation_store.Parsed | None = None) -> Swept:
    """Fire up to ``batch`` timers due at ``now``, in one transaction.

    The handlers run without savepoints, so the whole batch's writes go in a few batched
    statements at the commit (a savepoint per firing made each one flush alone: a round trip
    per row). A handler that fails rolls that back, and the batch is redone with a savepoint
    per firing, so the failure is recorded as that firing's outcome and the others' effects
    stand. (A redone mail is charged to its budget twice: failures are bugs, and rare.)
    ``parsed``: the rules parsed by earlier sweeps (``automation_store.enabled_rules``)."""
    try:
        return await _sweep(sm, settings, now, guard, batch, parsed, careful=False)
    except _Failed:
        return await _sweep(sm, settings, now, guard, batch, parsed, careful=True)


async def _sweep(sm: SessionMaker, settings: Settings, now: datetime, guard: MailGuard | None,
                 batch: int, parsed: automation_store.Parsed | None, *, careful: bool
                 ) -> Swept:
    async with sm() as s:
        pg = sm.kw["bind"].dialect.name == "postgresql"
        timers = await _due(s, now, batch, pg)
        if not timers:
            return Swept(0, 0, 0, ())
        taken = len(timers)
        timers, held, tagged = await _lock(s, timers, pg)
        if not timers:  # every one's conversation is held by another sweep or writer
            await s.rollback()
            return Swept(taken, 0, 0, ())
        claimed = await _claim(s, timers, now, pg)
        await s.execute(delete(DueTimer).where(_among(DueTimer.id, [t.id for t in timers], pg)))
        ctx = Firing(s, settings, now, guard, sla_store.calendars(s), held=held, tags=tagged,
                     parsed=parsed)
        outcomes = []
        for t in timers:
            firing_id = claimed.get((t.kind, t.conversation_id, t.instance))
            if firing_id is None:
                continue
            ctx.firing_id = firing_id
            what = await (_fire_careful(ctx, t) if careful else _fire_fast(ctx, t))
            outcomes.append((firing_id, t, what))
        try:
            if outcomes:
                await s.execute(update(TimerFiring), [{"id": fid, "outcome": what[:255]}
                                                      for fid, _, what in outcomes])
            if ctx.outbox:
                await s.execute(insert(RuleOutbox), ctx.outbox)
            await s.commit()
        except Exception as exc:  # a write the database refused, from one of the handlers
            if careful or is_connection_fault(exc):
                raise
            log.warning("sweep at %s failed as a batch (%r); redone firing by firing",
                        now.isoformat(), exc)
            raise _Failed from exc
    return Swept(taken, len(outcomes), len(timers) - len(outcomes), tuple(ctx.mails),
                 tuple((t.kind, t.conversation_id, t.instance, what) for _, t, what in outcomes),
                 tuple(ctx.fired), len(ctx.outbox))


async def _due(s: AsyncSession, now: datetime, batch: int, pg: bool) -> list[Due]:
    """The earliest ``batch`` timers due at ``now``: a range probe of the (due_at, id) index,
    on PostgreSQL skipping the rows another sweep holds."""
    q = (select(DueTimer.id, DueTimer.kind, DueTimer.conversation_id, DueTimer.instance,
                DueTimer.due_at).where(DueTimer.due_at <= now)
         .order_by(DueTimer.due_at, DueTimer.id).limit(batch))
    rows = await s.execute(q.with_for_update(skip_locked=True) if pg else q)
    return [Due(*r) for r in rows.all()]


async def _claim(s: AsyncSession, timers: Sequence[Due], now: datetime,
                 pg: bool) -> dict[tuple[str, int, str], int]:
    """Insert the firings; returns those that were new (a repeat of a recorded firing is
    not fired again)."""
    back = (TimerFiring.id, TimerFiring.kind, TimerFiring.conversation_id, TimerFiring.instance)
    if pg:  # the rows as arrays: one statement text (and prepared form) for any number
        rows = func.unnest(*(literal([getattr(t, c) for t in timers], ARRAY(type_))
                             for c, type_ in (("kind", String), ("conversation_id", Integer),
                                              ("instance", String),
                                              ("due_at", DateTime(timezone=True))))
                           ).table_valued("kind", "conversation_id", "instance", "due_at"
                                          ).render_derived()
        stmt = pg_insert(TimerFiring).from_select(
            ["kind", "conversation_id", "instance", "due_at", "fired_at", "outcome"],
            select(rows.c.kind, rows.c.conversation_id, rows.c.instance, rows.c.due_at,
                   literal(now, DateTime(timezone=True)), literal(""))
        ).on_conflict_do_nothing().returning(*back)
    else:
        stmt = sqlite_insert(TimerFiring).values([
            {"kind": t.kind, "conversation_id": t.conversation_id, "instance": t.instance,
             "due_at": t.due_at, "fired_at": now, "outcome": ""} for t in timers]
        ).on_conflict_do_nothing().returning(*back)
    return {(k, c, i): fid for fid, k, c, i in (await s.execute(stmt)).all()}


async def _lock(s: AsyncSession, timers: list[Due], pg: bool
                ) -> tuple[list[Due], list[Any], dict[int, list[str]]]:
    """Load (and on PostgreSQL lock, skipping those another sweep or writer holds) the
    batch's conversations, clocks and contacts; the timers of a conversation not had wait for
    a later sweep. Two sweeps never wait on each other's conversations, so they cannot
    deadlock. The rows loaded are returned to be held for the sweep: the session's identity
    map keeps only what is referenced, and the handlers' ``get``s are meant to find them. The
    tags are read here too, for the rules' conditions (one read instead of one a firing: each
    read flushed the batch's writes so far)."""
    ids = sorted({t.conversation_id for t in timers})
    q = (select(Conversation, ConversationSla, Contact)
         .outerjoin(ConversationSla, ConversationSla.conversation_id == Conversation.id)
         .outerjoin(Contact, Contact.id == Conversation.contact_id)
         .where(_among(Conversation.id, ids, pg)).order_by(Conversation.id))
    rows = (await s.execute(q.with_for_update(of=Conversation, skip_locked=True) if pg
                            else q)).all()
    had = {conv.id for conv, _, _ in rows}
    held = [x for row in rows for x in row if x is not None]
    tagged: dict[int, list[str]] = {cid: [] for cid in had}
    for cid, tag in (await s.execute(select(ConversationTag.conversation_id, ConversationTag.tag)
                                     .where(_among(ConversationTag.conversation_id, had, pg))
                                     .order_by(ConversationTag.tag))).all():
        tagged[cid].append(tag)
    return [t for t in timers if t.conversation_id in had], held, tagged


def _among(column: Any, ids: Iterable[int], pg: bool) -> ColumnElement[bool]:
    """``column IN ids``; on PostgreSQL ``= ANY($1)`` with the ids as one array, so the
    statement's text is the same whatever their number and its prepared form is reused."""
    among: ColumnElement[bool] = (column == any_(literal(sorted(ids), ARRAY(Integer))) if pg
                                  else column.in_(sorted(ids)))
    return among


async def _handle(ctx: Firing, t: Due) -> str:
    kind, _, rest = t.kind.partition(":")
    match kind:
        case "sla":
            return await _sla_breached(ctx, t, rest)
        case sla_store.LADDER:
            return await _ladder(ctx, t)
        case "rule":
            return await _timed_rule(ctx, t, int(rest))
        case "event":
            return await _event(ctx, t, rest)
        case "commitment":
            return await _commitment_overdue(ctx, t, int(rest))
        case _:
            return f"unknown timer kind {t.kind}"


async def _fire_fast(ctx: Firing, t: Due) -> str:
    try:
        return await _handle(ctx, t)
    except Exception as exc:
        if is_connection_fault(exc):
            raise
        log.warning("timer %s of conversation %s failed in a batch (%r); redoing the batch "
                    "firing by firing", t.kind, t.conversation_id, exc)
        raise _Failed from exc


async def _fire_careful(ctx: Firing, t: Due) -> str:
    """One timer's effects inside a savepoint: a handler that fails (a bug, a bad rule) is
    recorded as the firing's outcome and rolled back alone; the sweep goes on."""
    kind, _, rest = t.kind.partition(":")
    if kind == "sla" and not any(r.event == "sla_breached" for r in await ctx.rules()):
        # Stamping a breach cannot fail on its own: no savepoint (two round trips) for it.
        return await _sla_breached(ctx, t, rest)
    before = len(ctx.fired), len(ctx.outbox)
    try:
        async with ctx.s.begin_nested():
            return await _handle(ctx, t)
    except Exception as exc:
        if is_connection_fault(exc):
            raise
        ctx.tags.pop(t.conversation_id, None)  # what it tagged was rolled back: read again
        log.exception("timer %s of conversation %s failed", t.kind, t.conversation_id)
        # Rolled back with the savepoint:
        del ctx.fired[before[0]:], ctx.outbox[before[1]:]
        return f"error: {type(exc).__name__}: {exc}"


async def _sla_breached(ctx: Firing, t: Due, target: str) -> str:
    row = await ctx.s.get(ConversationSla, t.conversation_id)
    if row is None:
        return "stale: no clocks"
    state = sla_store.state_of(row)
    clock = state.clocks.get(target)
    if clock is None or not clock.open or clock.started_at is None \
            or clock.started_at.isoformat() != t.instance or clock.breached_at is not None:
        return "stale: met, paused or restarted"
    due = sla_store.aware(t.due_at)
    assert due is not None
    setattr(row, f"{target}_breached_at", due)
    audit.record(ctx.s, "sla.breached", t.conversation_id, at=ctx.now, target=target,
                 due=due.isoformat(), why=f"the {target.replace('_', ' ')} target of "
                 f"{clock.target_s} business seconds ran out")
    conv = await ctx.s.get(Conversation, t.conversation_id)
    if conv is not None:
        contact = await ctx.s.get(Contact, conv.contact_id) if conv.contact_id else None
        facts.record(ctx.s, "sla_breached", conv, due, target=target, contact=contact)
    if conv is not None and any(r.event == "sla_breached" for r in await ctx.rules()):
        ran = await rule_actions.fire(ctx.s, conv, "sla_breached", None, ctx.now,
                                      ctx.calendars, ctx, t.kind + t.instance,
                                      await ctx.rules(), ctx.fired, ctx.tags)
        return f"breached; rules: {ran}"
    return "breached"


async def _timed_rule(ctx: Firing, t: Due, rule_id: int) -> str:
    rules = await ctx.rules()
    rule = next((r for r in rules if r.id == rule_id), None)
    if rule is None:
        return "stale: the rule is gone or disabled"
    if not t.instance.startswith(f"v{rule.version}:"):
        return "stale: the rule was changed since"
    conv = await ctx.s.get(Conversation, t.conversation_id)
    if conv is None or conv.status in ("resolved", "closed", "noise"):
        return "stale: the conversation is over"
    return await rule_actions.fire(ctx.s, conv, rule.event, [rule], ctx.now, ctx.calendars,
                                   ctx, t.instance, rules, ctx.fired, ctx.tags)


async def _event(ctx: Firing, t: Due, event: str) -> str:
    conv = await ctx.s.get(Conversation, t.conversation_id)
    if conv is None:
        return "stale: no conversation"
    return await rule_actions.fire(ctx.s, conv, event, None, ctx.now, ctx.calendars,
                                   ctx, t.instance, await ctx.rules(), ctx.fired, ctx.tags)


async def _commitment_overdue(ctx: Firing, t: Due, commitment_id: int) -> str:
    """A pending commitment passed its due time: audited, and the ``commitment_overdue``
    rules of its type run on the case."""
    c = await ctx.s.get(Commitment, commitment_id)
    if c is None or c.status != "pending" \
            or due_times.aware(c.due_at).isoformat() != t.instance:
        return "stale: done, cancelled or moved"
    conv = await ctx.s.get(Conversation, t.conversation_id)
    if conv is None:
        return "stale: no conversation"
    audit.record(ctx.s, "commitment.overdue", conv.id, at=ctx.now, commitment=c.id,
                 kind=c.kind, owner=c.owner_id, why=f"{c.kind} was due {t.instance}")
    rules = automation.overdue_rules(await ctx.rules(), c.kind)
    if not rules:
        return "overdue"
    ran = await rule_actions.fire(ctx.s, conv, "commitment_overdue", rules, ctx.now,
                                  ctx.calendars, ctx, t.kind + t.instance, await ctx.rules(),
                                  ctx.fired)
    return f"overdue; rules: {ran}"


async def _ladder(ctx: Firing, t: Due) -> str:
    conv = await ctx.s.get(Conversation, t.conversation_id)
    row = await ctx.s.get(ConversationSla, t.conversation_id)
    anchor = sla_store.aware(row.pending_since) if row is not None else None
    if conv is None or row is None or anchor is None or conv.status != "pending" \
            or not t.instance.startswith(anchor.isoformat() + ":"):
        return "stale: no longer pending since then"
    step = inactivity.step_of(t.instance)
    steps = await sla_store.ladder_steps(ctx.s, conv.department_id)
    if step >= len(steps):
        return "stale: the ladder has no such step now"
    days = steps[step].days
    own = steps[step]
    if own.action == "close":
        await sla_store.status_changed(ctx.s, conv, "pending", "closed", ctx.now,
                                       why=f"no reply from the customer for {days} days")
        conv.status, conv.closed_at = "closed", ctx.now
        await ctx.s.flush()
        sent = await _mail(ctx, conv, "closed", jobs.closed_key(conv),
                           lambda link, t: inactivity.mail_text(own, conv.number, link)
                           or notices.inactive_closed(t, conv.number, days, link))
        audit.record(ctx.s, "ladder.closed", conv.id, at=ctx.now, step=step, mail=sent,
                     why=f"{days} days without a reply")
        return f"closed ({sent})"
    sent = await _mail(ctx, conv, "reminder", t.instance[-64:],
                       lambda link, t: inactivity.mail_text(own, conv.number, link)
                       or notices.reminder(t, conv.number, days, link))
    await sla_store.schedule_ladder_step(ctx.s, conv, anchor, step)
    audit.record(ctx.s, "ladder.reminder", conv.id, at=ctx.now, step=step, mail=sent,
                 why=f"{days} days without a reply")
    return f"reminded ({sent})"


async def _mail(ctx: Firing, conv: Conversation, kind: str, key: str,
                body: outbound.Body) -> str:
    """Stage a mail to the conversation's contact, within the mail guard's budget (its
    address is charged like any other mail a stranger's case causes)."""
    row = await outbound.compose_row(ctx.s, ctx.settings, conversation_id=conv.id, kind=kind,
                                     key=key, body=body, reply=True)
    if row is None:
        return "no recipient"
    return await _stage(ctx, row, MailRequest(Purpose.REMINDER, row.to_address,
                                              conversation_id=conv.id))


async def _staff_mail(ctx: Firing, conv: Conversation, to: str, key: str, text: str) -> str:
    """Stage a rule's notice to a staff address, within the staff mail budget (a stranger's
    flood of tickets must not become a flood in the agents' inboxes)."""
    row = await outbound.staff_row(ctx.s, ctx.settings, conv, to=to, key=key, text=text)
    return await _stage(ctx, row, MailRequest(Purpose.STAFF, to, conversation_id=conv.id))


async def _stage(ctx: Firing, row: OutboundMail, budget: MailRequest) -> str:
    """Add ``row`` to the firing's transaction unless it is stored already (its Message-ID
    names what it is for) or the guard refuses it; its send is enqueued after the commit."""
    if await ctx.s.scalar(select(OutboundMail.id).where(
            OutboundMail.message_id == row.message_id)) is not None:
        return "mail stored before"
    if ctx.guard is not None:
        verdict = await ctx.guard.admit(budget)
        if not verdict.allowed:
            return f"mail refused: {verdict.message}"
    ctx.s.add(row)
    await ctx.s.flush()
    ctx.mails.append(row.id)
    return "mail queued"


async def requeue_staged(sm: SessionMaker, queue: Queue, now: datetime) -> int:
    """Enqueue the send of staged mails whose job never got queued (a crash after commit)."""
    async with sm() as s:
        ids = (await s.scalars(select(OutboundMail.id).where(
            OutboundMail.status == "queued", OutboundMail.kind.in_(STAGED_KINDS),
            OutboundMail.created_at <= now - timedelta(seconds=STAGED_GRACE_S)))).all()
    for outbound_id in ids:
        await asyncio.to_thread(jobs.enqueue_send, queue, outbound_id)
    return len(ids)


async def next_due(sm: SessionMaker) -> datetime | None:
    async with sm() as s:
        return sla_store.aware(await s.scalar(select(func.min(DueTimer.due_at))))


def run(settings: Settings, stop: threading.Event | None = None,
        clock: Callable[[], datetime] = utcnow, metrics: Metrics | None = None) -> None:
    """Sweep until ``stop``: at once while whole batches come due, else at the next due time
    (looked at least every ``POLL_S``: other processes add timers). ``metrics``: the worker
    process's (rule firings are counted there)."""
    asyncio.run(_main(settings, stop or threading.Event(), clock, metrics))


@dataclass
class _Worker:
    settings: Settings
    sm: SessionMaker
    guard: MailGuard
    router: Router
    queue: Queue
    clock: Callable[[], datetime]
    metrics: Metrics | None
    parsed: automation_store.Parsed = field(default_factory=dict)


async def _main(settings: Settings, stop: threading.Event,
                clock: Callable[[], datetime], metrics: Metrics | None) -> None:
    engine = make_engine(settings)
    sm = make_sessionmaker(engine)
    redis = connect.async_client(settings.redis_url or "")
    w = _Worker(settings, sm, MailGuard.of(redis, settings),
                Router(settings, redis, sm, metrics=metrics),
                jobs.mail_queue(connect.sync_client(settings.redis_url or "")), clock, metrics)
    log.info("due timers running")
    rolled: datetime | None = None
    try:
        await requeue_staged(sm, w.queue, clock())
        while not stop.is_set():
            wait = await _once(w)
            rolled = await _roll_up(sm, settings, clock(), rolled)
            await asyncio.to_thread(stop.wait, wait)
    finally:
        await redis.aclose()
        await engine.dispose()


async def _roll_up(sm: SessionMaker, settings: Settings, now: datetime,
                   last: datetime | None) -> datetime | None:
    """The report rollups of the closed days (desk.report_rollups), every ROLLUP_EVERY_S."""
    if last is not None and now - last < timedelta(seconds=ROLLUP_EVERY_S):
        return last
    try:
        await report_rollups.build(sm, ZoneInfo(settings.report_tz), now)
    except Exception:  # the database away: the facts answer until the next build
        log.exception("report rollup build failed")
    return now


async def _once(w: _Worker) -> float:
    """One sweep and what follows it (its mails enqueued, the rule outbox done: also a
    dead worker's, this one's first round after a start), then the reports and task
    reminders; how long to wait before the next."""
    try:
        swept = await sweep(w.sm, w.settings, w.clock(), guard=w.guard, parsed=w.parsed)
        if w.metrics is not None:
            for rule_id in swept.rules_fired:
                w.metrics.rule_firings.labels(str(rule_id)).inc()
        for outbound_id in swept.mails:
            await asyncio.to_thread(jobs.enqueue_send, w.queue, outbound_id)
        # After the mails: Redis away must not hold them.
        done = await rule_outbox.perform(w.router, w.sm, w.clock())
        reports = await report_mail.sweep(w.sm, w.settings, w.clock())
        reminded = await task_reminders.sweep(w.sm, w.settings, w.clock(), w.guard)
        for outbound_id in (*reports, *reminded.mails):
            await asyncio.to_thread(jobs.enqueue_send, w.queue, outbound_id)
        await w.router.store.publish(w.router.events_channel,
                                     [events.dump(n) for n in reminded.notices])
        if swept.taken >= BATCH or done >= rule_outbox.BATCH:
            return 0.0
        at = await next_due(w.sm)
    except Exception:  # the database or Redis away: look again in a while
        log.exception("due-timer sweep failed")
        return POLL_S
    return POLL_S if at is None else min(POLL_S, max(0.0, (at - w.clock()).total_seconds()))
