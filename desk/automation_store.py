"""The records side of automation rules (the rules themselves: desk.automation).

Rules are read per transaction (there are few). Events reach the rules through due timers, so
every rule firing goes through the worker's exactly-once sweep (``ingest.due``): an event of a
kind some enabled rule waits for becomes an ``event:<name>`` timer due at once (one per
conversation and event: a later event of the same kind before the sweep is the one seen, with
the conversation as it is then); the timed rules (idle, SLA warning) keep one ``rule:<id>``
timer per conversation, moved by the same calls that move the clocks.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from desk import automation, sla, tags
from desk import business_hours as bh
from desk.errors import InvalidInput
from desk.models import (
    Agent,
    AutomationRule,
    Contact,
    Conversation,
    DueTimer,
    Group,
    Message,
    Organisation,
)
from desk.timer_rows import set_timers

log = logging.getLogger(__name__)

EVENT_PREFIX = "event:"


def event_kind(event: str) -> str:
    return f"{EVENT_PREFIX}{event}"


# Parsed rules by (id, version): see ``enabled_rules``.
Parsed = dict[tuple[int, int], automation.Rule]


def rule_of(row: AutomationRule) -> automation.Rule | None:
    return _parse(row.id, row.version, row.definition, row.enabled)


def _parse(rule_id: int, version: int, definition: Any, enabled: bool = True
           ) -> automation.Rule | None:
    try:
        return automation.parse(rule_id, version, definition, enabled)
    except InvalidInput:
        log.warning("stored rule %s does not parse; skipped", rule_id)
        return None


async def enabled_rules(s: AsyncSession, parsed: Parsed | None = None
                        ) -> list[automation.Rule]:
    """The enabled rules, in id order. ``parsed``: rules parsed before, by (id, version), kept
    by a caller that reads the rules again and again (the worker's sweeps): a stored version
    never changes, so only a new one is parsed."""
    rows = (await s.execute(select(AutomationRule.id, AutomationRule.version,
                                   AutomationRule.definition)
                            .where(AutomationRule.enabled.is_(True))
                            .order_by(AutomationRule.id))).all()
    found = []
    for rule_id, version, definition in rows:
        rule = parsed.get((rule_id, version)) if parsed is not None else None
        if rule is None:
            rule = _parse(rule_id, version, definition)
            if rule is not None and parsed is not None:
                parsed[(rule_id, version)] = rule
        if rule is not None:
            found.append(rule)
    return found


async def note_events(s: AsyncSession, conversation_id: int, events: Sequence[str],
                      at: datetime, rules: Sequence[automation.Rule] | None = None) -> None:
    """Queue ``events`` for the rules that wait for them (nothing if none does)."""
    rules = await enabled_rules(s) if rules is None else rules
    wanted = {r.event for r in rules} & set(events)
    for event in sorted(wanted):
        kind = event_kind(event)
        timer = await s.scalar(select(DueTimer).where(
            DueTimer.conversation_id == conversation_id, DueTimer.kind == kind))
        if timer is None:
            s.add(DueTimer(conversation_id=conversation_id, kind=kind,
                           instance=at.isoformat(), due_at=at))
        else:
            timer.instance, timer.due_at = at.isoformat(), at


async def sync_rule_timers(s: AsyncSession, conversation_id: int, state: sla.State,
                           cal: bh.Calendar, last_activity: datetime,
                           rules: Sequence[automation.Rule] | None = None) -> None:
    """The timed rules' timers of one conversation, from its clocks and last activity."""
    rules = await enabled_rules(s) if rules is None else rules
    timed = [r for r in rules if r.event in automation.TIMED]
    if not timed:
        return
    want = {kind: (instance, at)
            for kind, instance, at in automation.rule_timers(timed, state, cal, last_activity)}
    await set_timers(s, conversation_id, want, [automation.timer_kind(r) for r in timed])


async def facts(s: AsyncSession, conv: Conversation, cal: bh.Calendar, now: datetime,
                rules: Sequence[automation.Rule] | None = None, *,
                tagged: Sequence[str] | None = None) -> automation.Facts:
    """What the conditions see of a conversation now. The messages are read only when one of
    ``rules`` (None: assume so) looks at them (keywords, the n-th reply); the tags are read
    unless the caller knows them (``tagged``: the sweep read its batch's at once)."""
    contact = await s.get(Contact, conv.contact_id) if conv.contact_id else None
    org = await s.get(Organisation, contact.organisation_id) \
        if contact is not None and contact.organisation_id else None
    # The last public message and how many there are, in one read.
    found = (await s.execute(select(Message.body, func.count().over()).where(
        Message.conversation_id == conv.id, Message.visibility == "public")
        .order_by(Message.seq.desc()).limit(1))).first() if reads_messages(rules) else None
    last, replies = (found[0], int(found[1])) if found is not None else (None, 0)
    fields: dict[str, Any] = dict(conv.custom_fields or {})
    tagged = await tags.of(s, conv.id) if tagged is None else tagged
    email = (contact.email or "") if contact is not None else ""
    return automation.Facts(
        department_id=conv.department_id, group_id=conv.group_id, channel=conv.channel,
        priority=conv.priority, tier=org.priority if org is not None else None,
        tags=frozenset(tagged),
        topic=conv.topic, status=conv.status, custom_fields=fields,
        subject=conv.subject or "", body=last or "",
        sender_domain=email.rpartition("@")[2].lower() or None,
        business_hours=bh.is_open(cal, now), replies=replies)


def reads_messages(rules: Sequence[automation.Rule] | None) -> bool:
    return rules is None or any(r.event == "nth_reply" or any(
        c.field == "keyword" for c in r.conditions) for r in rules)


async def missing_groups(s: AsyncSession, rule: automation.Rule) -> list[int]:
    named = sorted(rule.groups())
    if not named:
        return []
    found = set((await s.scalars(select(Group.id).where(Group.id.in_(named)))).all())
    return [g for g in named if g not in found]


async def missing_agents(s: AsyncSession, rule: automation.Rule) -> list[int]:
    """Agents the rule names that do not exist or are disabled (a rule is not saved so)."""
    named = sorted(rule.agents())
    if not named:
        return []
    found = set((await s.scalars(select(Agent.id).where(
        Agent.id.in_(named), Agent.is_active.is_(True)))).all())
    return [a for a in named if a not in found]


async def disable(s: AsyncSession, rule_id: int, reason: str) -> None:
    row = await s.get(AutomationRule, rule_id)
    if row is not None and row.enabled:
        row.enabled, row.disabled_reason = False, reason
