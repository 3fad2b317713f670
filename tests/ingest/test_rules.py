"""Automation rules fired by the worker's sweep (injected clock): events, idle timers, a deleted
group disabling its rule, the loop guard reported."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy import delete, select

from desk import sla_store, tags
from desk.models import AuditEvent, AutomationRule, Conversation, Group, Message
from tests.ingest.conftest import Records
from tests.ingest.test_due import DAY, T0, _conversations, _desk, _drain, _status


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
