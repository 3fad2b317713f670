"""The records side of service levels and the inactivity ladder (rules in desk.sla,
desk.business_hours, desk.inactivity).

Every path that creates a conversation, stores a message or changes a status calls in here,
inside its own transaction: ``start`` (new conversations), ``on_messages`` (stored messages),
``status_changed``. Each keeps the conversation's clocks (``conversation_slas``), its
``sla_due`` (the queue's order) and its due timers (``due_timers``, what the worker fires) in
step, and writes the audit rows of what it decided.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from desk import audit, automation, automation_store, facts, inactivity, sla, webhooks
from desk import business_hours as bh
from desk.i18n import Translator
from desk.mail_rules import STAFF_AUTHORS
from desk.models import (
    BusinessCalendar,
    Contact,
    Conversation,
    ConversationSla,
    Department,
    DueTimer,
    Organisation,
    SlaPolicy,
)
from desk.timer_rows import set_timers

CLOCK_FIELDS = ("target_s", "started_at", "used_s", "running_since", "due", "met_at",
                "breached_at")
_TIMES = {"started_at", "running_since", "due", "met_at", "breached_at"}
LADDER = "ladder"


def sla_kind(target: str) -> str:
    return f"sla:{target}"


def aware(t: datetime | None) -> datetime | None:
    """SQLite hands back naive datetimes for timezone columns; they were written as UTC."""
    return t if t is None or t.tzinfo else t.replace(tzinfo=UTC)


def state_of(row: ConversationSla) -> sla.State:
    clocks = {}
    for t in sla.TARGETS:
        if getattr(row, f"{t}_target_s") is None:
            continue
        at = {f: aware(getattr(row, f"{t}_{f}")) for f in _TIMES}
        clocks[t] = sla.Clock(int(getattr(row, f"{t}_target_s")),
                              used_s=float(getattr(row, f"{t}_used_s") or 0.0), **at)
    return sla.State(clocks, bool(row.paused))


def put_state(row: ConversationSla, state: sla.State) -> None:
    row.paused = state.paused
    for t, c in state.clocks.items():
        for f in CLOCK_FIELDS:
            setattr(row, f"{t}_{f}", getattr(c, f))


def calendar_of(definition: dict[str, Any] | None) -> bh.Calendar:
    return bh.ALWAYS if definition is None else bh.parse(definition)


@dataclass
class Calendars:
    """Calendars read once per transaction (a sweep touches many conversations on few)."""

    s: AsyncSession
    known: dict[int, bh.Calendar]

    async def get(self, calendar_id: int | None) -> bh.Calendar:
        if calendar_id is None:
            return bh.ALWAYS
        if calendar_id not in self.known:
            row = await self.s.get(BusinessCalendar, calendar_id)
            self.known[calendar_id] = calendar_of(row.definition if row else None)
        return self.known[calendar_id]


def calendars(s: AsyncSession) -> Calendars:
    return Calendars(s, {})


def policy_of(p: SlaPolicy) -> sla.Policy:
    conds = p.conditions or {}
    return sla.Policy(
        p.id, p.department_id, p.position,
        sla.Conditions(frozenset(conds.get("priorities", [])), frozenset(conds.get("tiers", [])),
                       frozenset(conds.get("channels", [])), frozenset(conds.get("topics", []))),
        {k: int(v) for k, v in (p.targets or {}).items() if v is not None},
        p.calendar_id, p.enabled)


async def policies(s: AsyncSession) -> list[sla.Policy]:
    return [policy_of(p) for p in await s.scalars(select(SlaPolicy).where(
        SlaPolicy.enabled.is_(True)))]


async def _facts(s: AsyncSession, ids: Sequence[int]) -> list[tuple[Conversation, sla.Facts]]:
    rows = (await s.execute(
        select(Conversation, Organisation.priority)
        .outerjoin(Contact, Contact.id == Conversation.contact_id)
        .outerjoin(Organisation, Organisation.id == Contact.organisation_id)
        .where(Conversation.id.in_(list(ids))))).all()
    return [(c, sla.Facts(c.department_id, c.priority, tier, c.channel, c.topic))
            for c, tier in rows]


async def start(s: AsyncSession, conversation_ids: Sequence[int], now: datetime) -> None:
    """Give new conversations their policy's clocks, ``sla_due`` and timers, and tell the
    rules waiting for ``created``. Noise is nobody's case: its clocks start when it is
    promoted (``status_changed`` from ``noise``)."""
    if not conversation_ids:
        return
    begin = Beginning(await policies(s), await automation_store.enabled_rules(s), calendars(s))
    # One read for the batch (a mailbox's import hands in dozens of new tickets at a time).
    started = set(await s.scalars(select(ConversationSla.conversation_id).where(
        ConversationSla.conversation_id.in_(list(conversation_ids)))))
    for conv, known in await _facts(s, conversation_ids):
        if conv.status != "noise" and conv.id not in started:
            await begin.case(s, conv, known, now)


@dataclass
class Beginning:
    """What starting cases reads once for all of them."""

    chosen: list[sla.Policy]
    rules: list[automation.Rule]
    cals: Calendars

    async def case(self, s: AsyncSession, conv: Conversation, known: sla.Facts,
                   now: datetime) -> None:
        """Start one case that has no clocks yet."""
        facts.created(s, conv, now)
        policy = sla.select_policy(self.chosen, known)
        cal = await self.cals.get(policy.calendar_id if policy else None)
        state = sla.on_created(policy.targets, cal, now) if policy else sla.State({})
        if policy is not None:
            row = ConversationSla(conversation_id=conv.id, policy_id=policy.id,
                                  calendar_id=policy.calendar_id)
            put_state(row, state)
            s.add(row)
            conv.sla_due = state.due()
            await sync_sla_timers(s, conv.id, state)
        if self.rules:
            await automation_store.note_events(s, conv.id, ["created"], now, self.rules)
            await automation_store.sync_rule_timers(s, conv.id, state, cal, now, self.rules)


async def sync_sla_timers(s: AsyncSession, conversation_id: int, state: sla.State) -> None:
    """One timer per clock that can still be breached, at its due (the others removed)."""
    want = {sla_kind(t): (c.started_at.isoformat(), c.due) for t, c in state.clocks.items()
            if c.open and c.due is not None and c.breached_at is None and c.started_at}
    await set_timers(s, conversation_id, want, [sla_kind(t) for t in sla.TARGETS])


@dataclass(frozen=True, slots=True)
class Posted:
    """A stored message as the clocks see it."""

    conversation_id: int
    author_kind: str
    visibility: str
    at: datetime


def moves_clocks(author_kind: str, clocked: bool) -> bool:
    """Whether a stored public line needs the clock work: a staff line always (the response
    facts of the reports), another only where a clock (a ``ConversationSla`` row), an enabled
    rule or an active webhook (its message event) waits (``clocked``). The message batch asks
    this before it opens a transaction."""
    return author_kind in STAFF_AUTHORS or clocked


async def on_messages(s: AsyncSession, posted: Sequence[Posted]) -> None:
    """Stored public messages move the clocks: a staff reply meets the first and next
    response (and pauses again when the conversation is pending: the desk waits for the
    customer); a customer reply resumes the clocks, starts a next-response cycle and resets
    the inactivity ladder. The rules waiting for replies (and idle rules) are told."""
    public = [p for p in posted if p.visibility == "public"]
    if not public:
        return
    ids = sorted({p.conversation_id for p in public})
    rows = {r.conversation_id: r for r in await s.scalars(select(ConversationSla).where(
        ConversationSla.conversation_id.in_(ids)))}
    rules = await automation_store.enabled_rules(s)
    # Chat lines are most of the traffic: their events are kept only while a webhook listens.
    hooks = await webhooks.any_active(s)
    if hooks:
        for p in public:
            webhooks.stage(s, "message", p.conversation_id, p.at, author_kind=p.author_kind)
    if not any(moves_clocks(p.author_kind, bool(rules) or p.conversation_id in rows)
               for p in public):
        return
    # One read of the conversations, for the response facts and the clocks alike.
    convs = {c.id: c for c in await s.scalars(select(Conversation).where(
        Conversation.id.in_(ids)))}
    for conv in convs.values():
        await facts.on_messages(s, conv, [(p.author_kind, p.at) for p in public
                                          if p.conversation_id == conv.id])
    if not rows and not rules:
        return
    cals = calendars(s)
    for cid, conv in convs.items():
        row = rows.get(cid)
        mine = [p for p in public if p.conversation_id == cid]
        state = before = state_of(row) if row is not None else sla.State({})
        cal = await cals.get(row.calendar_id if row is not None else None)
        for p in mine:
            state = _after_message(s, conv, state, cal, p)
            if row is not None and p.author_kind == "contact" and conv.status == "pending":
                await _restart_ladder(s, conv, row, p.at)
        if row is not None and state != before:
            put_state(row, state)
            await s.execute(update(Conversation).where(Conversation.id == cid)
                            .values(sla_due=state.due()))
            await sync_sla_timers(s, cid, state)
        if rules:
            kinds = {"customer_replied" if p.author_kind == "contact" else "agent_replied"
                     for p in mine}
            events = ["nth_reply", *sorted(kinds)]
            await automation_store.note_events(s, cid, events, mine[-1].at, rules)
            await automation_store.sync_rule_timers(s, cid, state, cal, mine[-1].at, rules)


def _after_message(s: AsyncSession, conv: Conversation, state: sla.State, cal: bh.Calendar,
                   p: Posted) -> sla.State:
    if p.author_kind in STAFF_AUTHORS:
        new = sla.on_staff_reply(state, p.at)
        for t, c in new.clocks.items():
            if c.met_at is not None and state.clocks[t].met_at is None:
                breached = c.breached_at is not None
                audit.record(s, "sla.breached_then_met" if breached else "sla.met", conv.id,
                             why=f"{t} answered", at=p.at, target=t)
                facts.record(s, "sla_met", conv, p.at, target=t, breached=breached)
        return sla.paused(new, cal, p.at) if conv.status == "pending" else new
    if p.author_kind == "contact":
        return sla.on_customer_reply(state, cal, p.at)
    return state


async def ladder_steps(s: AsyncSession, department_id: int | None) -> tuple[inactivity.Step, ...]:
    dept = await s.get(Department, department_id) if department_id is not None else None
    if dept is None or dept.ladder is None:
        return inactivity.DEFAULT
    return inactivity.parse(dept.ladder)


async def _restart_ladder(s: AsyncSession, conv: Conversation, row: ConversationSla,
                          anchor: datetime) -> None:
    row.pending_since = anchor
    due = inactivity.next_step(await ladder_steps(s, conv.department_id), anchor)
    await set_timers(s, conv.id, {} if due is None else {LADDER: (due.instance, due.at)},
                     [LADDER])


async def schedule_ladder_step(s: AsyncSession, conv: Conversation, anchor: datetime,
                               after: int) -> inactivity.Due | None:
    """After step ``after`` fired: the next one's timer (or none at the ladder's end)."""
    due = inactivity.next_step(await ladder_steps(s, conv.department_id), anchor, after)
    await set_timers(s, conv.id, {} if due is None else {LADDER: (due.instance, due.at)},
                     [LADDER])
    return due


async def status_changed(s: AsyncSession, conv: Conversation, old: str, new: str,
                         now: datetime, *, actor_id: int | None = None, why: str = "") -> None:
    """``conv`` (loaded in ``s``) went ``old`` -> ``new``: audit it, move the clocks, start or
    stop the inactivity ladder."""
    if old == new:
        return
    audit.record(s, "conversation.status", conv.id, actor_id=actor_id, why=why, at=now,
                 old=old, new=new)
    facts.on_status(s, conv, old, new, now, actor_id)
    webhooks.stage(s, "status", conv, now, old=old, new=new, actor_id=actor_id)
    rules = await automation_store.enabled_rules(s)
    await automation_store.note_events(s, conv.id, ["status_changed"], now, rules)
    if old == "noise":
        # Promoted (by staff, or a person writing into it): a case from now on, measured from
        # now, as if it had just been filed.
        if await s.get(ConversationSla, conv.id) is None:
            [(_, known)] = await _facts(s, [conv.id])
            await Beginning(await policies(s), rules, calendars(s)).case(s, conv, known, now)
        return
    row = await s.get(ConversationSla, conv.id)
    if row is None and new == "pending":
        row = ConversationSla(conversation_id=conv.id)
        s.add(row)
    if row is None:
        return
    if any(getattr(row, f"{t}_target_s") is not None for t in sla.TARGETS):
        cal = await calendars(s).get(row.calendar_id)
        state = sla.on_status(state_of(row), cal, old, new, now)
        put_state(row, state)
        conv.sla_due = state.due()
        await sync_sla_timers(s, conv.id, state)
        await automation_store.sync_rule_timers(s, conv.id, state, cal, now, rules)
    if new == "pending":
        await _restart_ladder(s, conv, row, now)
    elif old == "pending":
        row.pending_since = None
        await s.execute(delete(DueTimer).where(DueTimer.conversation_id == conv.id,
                                               DueTimer.kind == LADDER))


async def expected_response(s: AsyncSession, conversation_id: int, now: datetime,
                            t: Translator) -> str | None:
    """THE answer to "when will they answer me" ("within 2 hours", "by Tuesday 10:00"), as
    of ``now``: the awaited first response, else the awaited next one; None when nothing is
    measured or awaited (answered, paused while pending, no policy) or already overdue (no
    promise we have broken is repeated), in the customer's language (``t``). The
    acknowledgement mail, the case page and the widget after leaving a message all ask here."""
    row = await s.get(ConversationSla, conversation_id)
    if row is None:
        return None
    clocks = state_of(row).clocks
    for target in ("first_response", "next_response"):
        clock = clocks.get(target)
        if clock is not None and clock.open and clock.due is not None and clock.due > now:
            return sla.expected_response(t, await calendars(s).get(row.calendar_id), now,
                                         clock.due)
    return None
