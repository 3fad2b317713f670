"""Rule firings in the worker's sweep (ingest.due): which rules fire for a due timer, and their
actions done on the records, in the sweep's transaction.

A rule that names a group that no longer exists is disabled with the reason shown to admins
(``automation_rules.disabled_reason``) and the firing records it; nothing else happens.
A cascade cut at ``desk.automation.MAX_DEPTH`` is an ``automation.loop_cut`` audit row.

Actions: set priority, add a tag, set the status or close (only a move
``desk.status_rules.staff_move`` allows staff, else skipped with a ``rule.skipped`` row; through
``desk.sla_store.status_changed``, like every status change), transfer to a group (the
conversation is queued in the new group and the routing timers' records sweep routes it by
the group's rules, as for a ticket committed but never routed), assign to an agent (a
``rule_outbox`` row in the sweep's transaction, done by the router after the commit, exactly
once: ``ingest.rule_outbox``; by the rule for an assignment by a colleague: group,
online, capacity, skills; a refusal is a ``rule.assign_refused`` row saying why, and the
conversation stays queued), notify (an internal note on the conversation, which every console
showing it receives; with the target named; in one agent's console when it names
``console``, the agent or ``assignee``, an outbox row published after the commit; and by
mail when it names ``mail`` recipients: the assignee, a group's active agents, the
conversation's group's supervisors, or addresses — each staged once per firing and
recipient, within the staff mail budget), and a templated mail to the customer (staged like
the ladder's mails, through the mail guard).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any, Protocol

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from desk import audit, automation, automation_store, sla_store, status_rules, tags, ticket_fields
from desk.errors import InvalidInput
from desk.i18n import Translator
from desk.models import Agent, AgentGroup, Conversation, ConversationSla, Message
from desk.seq import reserve_seq

# Recipients of one notice's mail at most (a group of hundreds is not mailed one by one).
NOTICE_RECIPIENTS_MAX = 50


class Mailer(Protocol):
    """Stages the mails of a firing (ingest.due.Firing), and what is done after its commit
    (an assignment through the router, a console notice): each returns what happened."""

    async def customer(self, conv: Conversation, kind: str, key: str,
                       body: Callable[[str, Translator], str]) -> str: ...

    async def staff(self, conv: Conversation, to: str, key: str, text: str) -> str: ...

    def assign(self, conv: Conversation, agent_id: int, rule_id: int) -> str: ...

    def console(self, conv: Conversation, agent_id: int, rule_id: int, text: str) -> str: ...


async def fire(s: AsyncSession, conv: Conversation, event: str,
               only: Sequence[automation.Rule] | None, now: datetime,
               calendars: sla_store.Calendars, mail: Mailer, instance: str,
               rules: Sequence[automation.Rule], fired: list[int],
               known_tags: dict[int, list[str]] | None = None) -> str:
    """Run the rules of ``event`` (``only``: just these) on ``conv``; ``rules``: every enabled
    rule (those the changes trigger in turn); what happened. The id of each rule that fired
    is added to ``fired`` (the metrics count them once the sweep commits). ``known_tags``: the
    sweep's batch's tags by conversation (read once; kept up to date here), else they are
    read."""
    usable = []
    for rule in (only if only is not None else [r for r in rules if r.event == event]):
        gone = await automation_store.missing_groups(s, rule)
        if gone:
            reason = f"group {', '.join(map(str, gone))} no longer exists"
            await automation_store.disable(s, rule.id, reason)
            audit.record(s, "rule.disabled", conv.id, at=now, rule=rule.id, why=reason)
            continue
        usable.append(rule)
    if not usable:
        return "no rule to run"
    row = await s.get(ConversationSla, conv.id)
    cal = await calendars.get(row.calendar_id if row is not None else None)
    facts = await automation_store.facts(
        s, conv, cal, now, rules,
        tagged=known_tags.get(conv.id) if known_tags is not None else None)
    result = automation.cascade(rules, event, facts, first=usable)
    fired.extend(f.rule.id for f in result.fired)
    for f in result.fired:
        audit.record(s, "rule.fired", conv.id, at=now, rule=f.rule.id, version=f.rule.version,
                     depth=f.depth, instance=instance, why="; ".join(f.reasons))
    done = [await _perform(s, conv, rule, a, now, mail, instance, known_tags)
            for rule, a in result.actions]
    if result.cut:
        audit.record(s, "automation.loop_cut", conv.id, at=now, instance=instance,
                     why=f"rules kept triggering each other; stopped after "
                         f"{automation.MAX_DEPTH} rounds",
                     rules=sorted({f.rule.id for f in result.fired}))
    if not result.fired:
        return "conditions not met"
    return ("loop cut; " if result.cut else "") + ", ".join(done)


async def _perform(s: AsyncSession, conv: Conversation, rule: automation.Rule,
                   a: automation.Action, now: datetime, mail: Mailer, instance: str,
                   known_tags: dict[int, list[str]] | None) -> str:
    match a.type:
        case "set_priority":
            conv.priority = int(a.value)
        case "add_tag":
            try:
                after = await tags.change(
                    s, conv, [ticket_fields.tag(a.value)], (), None, why=f"rule {rule.id}",
                    have=known_tags.get(conv.id) if known_tags is not None else None)
                if known_tags is not None:
                    known_tags[conv.id] = after
            except InvalidInput as refused:  # a bad tag, or the conversation has its fill
                audit.record(s, "rule.skipped", conv.id, at=now, rule=rule.id,
                             why=refused.message)
                return f"{a.type} skipped"
        case "set_status" | "close":
            new = "closed" if a.type == "close" else str(a.value)
            try:  # a rule moves a status as staff would, by the one rule for moves
                status_rules.staff_move(conv.status, new, conv.channel)
            except status_rules.InvalidTransition as refused:
                audit.record(s, "rule.skipped", conv.id, at=now, rule=rule.id,
                             why=str(refused))
                return f"{a.type} skipped"
            await sla_store.status_changed(s, conv, conv.status, new, now,
                                           why=f"rule {rule.id}")
            conv.status = new
            if new in ("resolved", "closed") and conv.closed_at is None:
                conv.closed_at = now
        case "transfer":
            audit.record(s, "rule.transfer", conv.id, at=now, group_id=a.value,
                         why=f"rule {rule.id}")
            await sla_store.status_changed(s, conv, conv.status, "queued", now,
                                           why=f"transferred by rule {rule.id}")
            conv.group_id, conv.status, conv.assignee_id = int(a.value), "queued", None
        case "assign":
            audit.record(s, "rule.assign", conv.id, at=now, agent_id=a.value, rule=rule.id,
                         instance=instance, why=f"rule {rule.id}")
            return mail.assign(conv, int(a.value), rule.id)
        case "notify":
            await _note(s, conv, rule, a.value, now)
            done: list[str] = [a.type]
            if isinstance(a.value, dict) and "console" in a.value:
                done.append(_console(conv, rule, a.value, mail))
            if isinstance(a.value, dict) and a.value.get("mail"):
                done.append(await _mail_notice(s, conv, rule, a.value, mail, instance))
            return "; ".join(done[1:] or done)
        case "mail_customer":
            text = str(a.value.get("text") if isinstance(a.value, dict) else a.value)
            number = conv.number
            return await mail.customer(conv, "rule", f"{rule.id}:{instance}"[-64:],
                                       lambda link, _t: _template(text, number, link))
    return a.type


def _template(text: str, number: str, link: str) -> str:
    """The rule's text with ``{number}`` and ``{link}`` filled in (nothing else is)."""
    body = text.replace("{number}", number).replace("{link}", link)
    return body if "{link}" in text else f"{body}\n\n{link}\n"


async def _note(s: AsyncSession, conv: Conversation, rule: automation.Rule, value: Any,
                now: datetime) -> None:
    text = str(value.get("text") if isinstance(value, dict) else value)
    to = f" (for group {value['group_id']})" if isinstance(value, dict) and \
        "group_id" in value else ""
    seq = await reserve_seq(s, conv.id)
    s.add(Message(conversation_id=conv.id, seq=seq, author_kind="system",
                  author_name=f"Rule {rule.id}", visibility="internal",
                  body=f"{text}{to}", created_at=now))


def _console(conv: Conversation, rule: automation.Rule, value: dict[str, Any],
             mail: Mailer) -> str:
    """The notice for one agent's console: the one named, or the assignee now."""
    agent = conv.assignee_id if value["console"] == "assignee" else int(value["console"])
    if agent is None:
        return "notify (no assignee to tell)"
    return mail.console(conv, agent, rule.id, str(value.get("text")))


async def _mail_notice(s: AsyncSession, conv: Conversation, rule: automation.Rule,
                       value: dict[str, Any], mail: Mailer, instance: str) -> str:
    """The notice by mail to each of its recipients (once per firing and recipient)."""
    to = await recipients(s, conv, value["mail"], value.get("group_id"))
    if not to:
        return "notify (nobody to mail)"
    key = f"{rule.id}:{instance}"[-64:]
    done = [await mail.staff(conv, address, key, str(value.get("text"))) for address in to]
    return f"notify ({len(to)} mails: {', '.join(sorted(set(done)))})"


async def recipients(s: AsyncSession, conv: Conversation, named: Sequence[str],
                     group_id: int | None) -> list[str]:
    """The addresses a notice's ``mail`` names (``desk.automation.MAIL_TO``): active agents
    only, each once, at most ``NOTICE_RECIPIENTS_MAX``."""
    found: list[str] = []
    active = Agent.is_active.is_(True)
    for who in named:
        match who:
            case "assignee":
                if conv.assignee_id is not None:
                    found += (await s.scalars(select(Agent.email).where(
                        Agent.id == conv.assignee_id, active))).all()
            case "group" | "supervisors":
                group = group_id if who == "group" and group_id is not None else conv.group_id
                q = select(Agent.email).join(AgentGroup, AgentGroup.agent_id == Agent.id).where(
                    AgentGroup.group_id == group, active).order_by(Agent.id)
                if who == "supervisors":
                    q = q.where(Agent.role == "supervisor")
                found += (await s.scalars(q.limit(NOTICE_RECIPIENTS_MAX))).all()
            case address:
                found.append(address)
    return list(dict.fromkeys(a.lower() for a in found))[:NOTICE_RECIPIENTS_MAX]
