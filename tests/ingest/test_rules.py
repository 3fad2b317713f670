"""Automation rules fired by the worker's sweep (injected clock): events, idle timers, a deleted
group disabling its rule, the loop guard reported."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import delete, select, update

from desk import automation, sla_store, tags
from desk.errors import InvalidInput
from desk.models import (
    Agent,
    AgentGroup,
    AuditEvent,
    AutomationRule,
    Conversation,
    Group,
    Message,
    OutboundMail,
    utcnow,
)
from ingest import due
from tests.ingest import procs
from tests.ingest.conftest import Records
from tests.ingest.harness import eventually
from tests.ingest.procs import Processes
from tests.ingest.test_due import DAY, T0, _conversations, _desk, _drain, _status
from tests.support.smtp_sink import Sink


async def _rule(records: Records, name: str, **definition: Any) -> int:
    async with records.sm() as s:
        row = AutomationRule(name=name, enabled=True, definition=definition)
        s.add(row)
        await s.commit()
        return row.id


async def _actions(records: Records, cid: int) -> list[tuple[str, dict[str, Any]]]:
    async with records.sm() as s:
        rows = await s.scalars(select(AuditEvent).where(
            AuditEvent.target == f"conversation:{cid}").order_by(AuditEvent.id))
        return [(e.action, e.data) for e in rows]


async def test_created_rule_tags_once(records: Records) -> None:
    await _rule(records, "tag vip", event="created",
                conditions=[{"field": "keyword", "value": ["help"]}],
                actions=[{"type": "add_tag", "value": "vip"},
                         {"type": "notify", "value": {"text": "look at this"}}])
    dept, contact = await _desk(records)
    [cid] = await _conversations(records, 1, T0, dept, contact)
    assert await _drain(records, T0) == ["add_tag, notify"]
    assert await _drain(records, T0 + DAY) == []
    async with records.sm() as s:
        assert await tags.of(s, cid) == ["vip"]
        note = (await s.scalars(select(Message).where(Message.conversation_id == cid))).one()
        assert note.visibility == "internal" and note.body == "look at this"
    fired = [d for a, d in await _actions(records, cid) if a == "rule.fired"]
    assert len(fired) == 1 and "keywords found: ['help']" in fired[0]["why"]


async def test_idle_rule_fires_once_per_silence(records: Records) -> None:
    await _rule(records, "idle", event="idle", params={"seconds": 3600},
                actions=[{"type": "set_priority", "value": 1}])
    dept, contact = await _desk(records)
    [cid] = await _conversations(records, 1, T0, dept, contact)
    assert await _drain(records, T0 + timedelta(minutes=59)) == []
    assert await _drain(records, T0 + timedelta(hours=1)) == ["set_priority"]
    assert await _drain(records, T0 + DAY) == []
    async with records.sm() as s:
        await sla_store.on_messages(s, [sla_store.Posted(cid, "contact", "public", T0 + DAY)])
        await s.commit()
    assert await _drain(records, T0 + DAY + timedelta(hours=1)) == ["set_priority"]


async def test_a_deleted_group_disables_the_rule(records: Records) -> None:
    dept, contact = await _desk(records)
    async with records.sm() as s:
        group = Group(department_id=dept, name="Escalations")
        s.add(group)
        await s.commit()
        gid = group.id
    rid = await _rule(records, "escalate", event="created",
                      actions=[{"type": "transfer", "value": gid}])
    async with records.sm() as s:
        await s.execute(delete(Group).where(Group.id == gid))
        await s.commit()
    [cid] = await _conversations(records, 1, T0, dept, contact)
    assert await _drain(records, T0) == ["no rule to run"]
    async with records.sm() as s:
        rule = await s.get(AutomationRule, rid)
        assert rule is not None and not rule.enabled
        assert rule.disabled_reason == f"group {gid} no longer exists"
    assert [a for a, _ in await _actions(records, cid)] == ["rule.disabled"]


async def test_the_loop_guard_cuts_and_reports(records: Records) -> None:
    await _rule(records, "start", event="created", actions=[{"type": "set_priority", "value": 1}])
    await _rule(records, "up", event="updated", conditions=[
        {"field": "priority", "value": [1]}], actions=[{"type": "set_priority", "value": 2}])
    await _rule(records, "down", event="updated", conditions=[
        {"field": "priority", "value": [2]}], actions=[{"type": "set_priority", "value": 1}])
    dept, contact = await _desk(records)
    [cid] = await _conversations(records, 1, T0, dept, contact)
    [outcome] = await _drain(records, T0)
    assert outcome.startswith("loop cut")
    cut = [d for a, d in await _actions(records, cid) if a == "automation.loop_cut"]
    assert len(cut) == 1 and "stopped after 5 rounds" in cut[0]["why"]


async def test_a_rule_moves_a_status_only_as_staff_may(records: Records) -> None:
    """desk.status_rules is the rule for rules too: a pending ticket goes back to work only
    through the queue (reopen), never straight to open, so the action is skipped and the trail
    says why."""
    await _rule(records, "wake", event="idle", params={"seconds": 3600},
                actions=[{"type": "set_status", "value": "active"}])
    dept, contact = await _desk(records)
    [cid] = await _conversations(records, 1, T0, dept, contact)
    await _status(records, cid, "pending", T0)
    assert await _drain(records, T0 + timedelta(hours=1)) == ["set_status skipped"]
    async with records.sm() as s:
        conv = await s.get(Conversation, cid)
        assert conv is not None and conv.status == "pending"
    (why,) = [d["why"] for a, d in await _actions(records, cid) if a == "rule.skipped"]
    assert "cannot be set open: it can go to queued" in why


async def _team(records: Records, dept: int) -> tuple[int, int]:
    """A group with Ana (agent), Sam (supervisor) and a deactivated colleague; Ana's id."""
    async with records.sm() as s:
        group = Group(department_id=dept, name="Front")
        s.add(group)
        await s.flush()
        people = [Agent(email=e, display_name=e, password_hash="-", role=role, is_active=on,
                        groups=[AgentGroup(group_id=group.id)])
                  for e, role, on in (("ana@desk.example", "agent", True),
                                      ("sam@desk.example", "supervisor", True),
                                      ("gone@desk.example", "agent", False))]
        s.add_all(people)
        await s.commit()
        return group.id, people[0].id


async def _held_by(records: Records, cid: int, group: int, agent: int | None) -> None:
    async with records.sm() as s:
        await s.execute(update(Conversation).where(Conversation.id == cid).values(
            group_id=group, assignee_id=agent))
        await s.commit()


NOTICE = {"type": "notify", "value": {"text": "A VIP wrote", "mail": [
    "assignee", "group", "supervisors", "Ops@Example.net"]}}


async def test_a_notice_is_mailed_to_its_recipients_once_per_firing(records: Records) -> None:
    await _rule(records, "tell", event="idle", params={"seconds": 3600}, actions=[NOTICE])
    dept, contact = await _desk(records)
    group, ana = await _team(records, dept)
    [cid] = await _conversations(records, 1, T0, dept, contact)
    await _held_by(records, cid, group, ana)
    [outcome] = await _drain(records, T0 + timedelta(hours=1))
    assert outcome == "notify (3 mails: mail queued)"  # ana once, sam, ops; not the inactive
    assert await _drain(records, T0 + DAY) == []
    async with records.sm() as s:
        mails = (await s.scalars(select(OutboundMail).where(
            OutboundMail.conversation_id == cid).order_by(OutboundMail.to_address))).all()
    assert [m.to_address for m in mails] == ["ana@desk.example", "ops@example.net",
                                             "sam@desk.example"]
    m = mails[0]
    assert m.kind == "notice" and m.status == "queued"
    assert "A VIP wrote" in m.body and "/console" in m.body
    assert "/c/" not in m.body and "?t=" not in m.body  # never the customer's own link
    assert "[SB-" not in m.subject  # an answer to it does not thread into the case
    # The internal note is still there for the consoles.
    assert [a for a, _ in await _actions(records, cid)].count("rule.fired") == 1


async def test_notices_by_mail_are_budgeted_per_staff_address(records: Records,
                                                              redis: Any) -> None:
    from routing.mail_guard import MailGuard

    guard = MailGuard.of(redis, records.settings.with_(mail_staff_per_hour=1,
                                                       mail_per_recipient_per_hour=0))
    await _rule(records, "tell", event="created", actions=[
        {"type": "notify", "value": {"text": "new case", "mail": ["ops@example.net"]}}])
    dept, contact = await _desk(records)
    await _conversations(records, 2, T0, dept, contact)
    swept = await due.sweep(records.sm, records.settings, T0, guard=guard)
    assert sorted(what for _, _, _, what in swept.outcomes) == [
        "notify (1 mails: mail queued)",
        "notify (1 mails: mail refused: too many mails to this address; a notice can be "
        "sent again in 60 min)"]


def test_a_notice_names_known_recipients_only() -> None:
    ok = automation.parse(1, 1, {"event": "created", "actions": [NOTICE]}, True)
    assert ok.actions[0].value["mail"] == ["assignee", "group", "supervisors",
                                           "ops@example.net"]
    for bad in ([], ["everyone"], ["not an address"], ["x@y.io"] * 11, "ops"):
        with pytest.raises(InvalidInput, match=r"value\.mail"):
            automation.parse(1, 1, {"event": "created", "actions": [
                {"type": "notify", "value": {"text": "t", "mail": bad}}]}, True)


async def test_a_notice_reaches_the_sink_through_the_worker(records: Records, redis: Any,
                                                            processes: Processes,
                                                            smtp_sink: Sink) -> None:
    settings = records.settings.with_(smtp_host="127.0.0.1", smtp_port=smtp_sink.port)
    await _rule(records, "tell", event="created", actions=[
        {"type": "notify", "value": {"text": "Someone needs help", "mail": ["ops@example.net"]}}])
    dept, contact = await _desk(records)
    [cid] = await _conversations(records, 1, utcnow(), dept, contact)
    processes.spawn("worker", "serve", settings=settings)
    await eventually(lambda: len(smtp_sink.messages) >= 1, within_s=60)
    (env,) = smtp_sink.messages
    assert env.rcpt_tos == ["ops@example.net"]
    text = bytes(env.content or b"").decode()  # type: ignore[arg-type]
    assert "Someone needs help" in text and "Auto-Submitted: auto-generated" in text
    async with records.sm() as s:
        row = (await s.scalars(select(OutboundMail).where(
            OutboundMail.conversation_id == cid))).one()
    assert row.kind == "notice"
    await eventually(lambda: _sent(records, row.id), within_s=30)
    assert len(smtp_sink.messages) == 1, procs.log_tail(settings)


async def _sent(records: Records, outbound_id: int) -> bool:
    async with records.sm() as s:
        row = await s.get(OutboundMail, outbound_id)
        return row is not None and row.status == "sent"
