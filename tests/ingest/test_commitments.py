"""Commitments on the worker's clock (injected): an overdue commitment fires its rules once,
a moved due date re-arms the timer (the change kept with who and why), a done one never
fires; due times in the past or years away are refused with a message."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from desk import commitments, due_times, tags
from desk.errors import InvalidInput
from desk.models import Agent, AutomationRule, Commitment, CommitmentChange
from tests.ingest.conftest import Records
from tests.ingest.test_due import T0, _conversations, _desk, _drain, _timeline

HOUR = timedelta(hours=1)


async def _setup(records: Records) -> tuple[int, int]:
    dept, contact = await _desk(records)
    [cid] = await _conversations(records, 1, T0, dept, contact)
    async with records.sm() as s:
        agent = Agent(email="ana@desk.example", display_name="Ana", role="agent",
                      password_hash="x")
        s.add_all([agent, AutomationRule(name="late call", enabled=True, definition={
            "event": "commitment_overdue", "params": {"kinds": ["call back"]},
            "actions": [{"type": "add_tag", "value": "late"},
                        {"type": "set_priority", "value": 1}]})])
        await s.commit()
        return cid, agent.id


async def _commit(records: Records, cid: int, agent: int, kind: str, at: timedelta) -> int:
    async with records.sm() as s:
        c = await commitments.add(s, cid, agent, {"kind": kind,
                                                  "due_at": (T0 + at).isoformat()}, T0)
        await s.commit()
        return c.id


async def test_an_overdue_commitment_fires_its_rule_once(records: Records) -> None:
    cid, agent = await _setup(records)
    call = await _commit(records, cid, agent, "Call back", HOUR)
    part = await _commit(records, cid, agent, "Send part", HOUR)
    done = await _commit(records, cid, agent, "Call back", HOUR / 2)
    async with records.sm() as s:
        row = await s.get(Commitment, call)
        assert row is not None
        await commitments.change(s, row, agent, {"due_at": (T0 + 2 * HOUR).isoformat(),
                                                 "why": "the customer is out until 11"},
                                 T0 + HOUR / 4)
        finished = await s.get(Commitment, done)
        assert finished is not None
        await commitments.change(s, finished, agent, {"status": "done"}, T0 + HOUR / 4)
        await s.commit()
    assert await _drain(records, T0 + HOUR) == ["overdue"]  # "Send part": no rule of its type
    assert await _drain(records, T0 + 2 * HOUR - timedelta(seconds=1)) == []
    assert await _drain(records, T0 + 2 * HOUR) == ["overdue; rules: add_tag, set_priority"]
    assert await _drain(records, T0 + 30 * HOUR) == []
    async with records.sm() as s:
        assert await tags.of(s, cid) == ["late"]
        [moved] = (await s.scalars(select(CommitmentChange))).all()
        assert (moved.by_id, moved.why) == (agent, "the customer is out until 11")
        assert due_times.aware(moved.old_due) == T0 + HOUR
        row = await s.get(Commitment, part)
        assert row is not None and commitments.is_overdue(row, T0 + HOUR)
    assert (await _timeline(records, cid)).count("commitment.overdue") == 2


@pytest.mark.parametrize(("due_at", "says"), [
    ((T0 - HOUR).isoformat(), "in the past"), ((T0 + 800 * 24 * HOUR).isoformat(), "365 days"),
    ("2026-12-01T12:00:00", "time zone"),
    ("0001-01-01T00:00:00+02:03", "out of range"), ("tomorrow", "date and time"),
    (None, "required")])
def test_a_bad_due_time_is_refused_with_a_message(due_at: object, says: str) -> None:
    with pytest.raises(InvalidInput, match=says) as refused:
        due_times.due({"due_at": due_at}, T0)
    assert refused.value.status == 422 and refused.value.field == "due_at"
