"""Scheduled report mails: the worker's sweep (injected clock) stages each schedule's mail
once per period, the outbound path delivers it into the SMTP sink, and two sweeps at once
still mail a period once. Both databases."""

from __future__ import annotations

import asyncio
import email
from datetime import UTC, datetime, timedelta
from typing import Any

from desk import facts, sla_store
from desk.auth import hash_password
from desk.models import (
    Agent,
    AgentGroup,
    Conversation,
    Department,
    Group,
    OutboundMail,
    ReportSchedule,
)
from ingest import outbound, report_mail
from tests.ingest.conftest import Records
from tests.support.smtp_sink import Sink

# Wednesday 2 December 2026, 07:00 in Berlin.
NOW = datetime(2026, 12, 2, 6, 0, tzinfo=UTC)


async def _desk(records: Records) -> tuple[int, int, int]:
    """A supervisor of group A, a conversation of A and one of B yesterday (Berlin)."""
    async with records.sm() as s:
        d = Department(name="Support")
        s.add(d)
        await s.flush()
        a, b = Group(department_id=d.id, name="A"), Group(department_id=d.id, name="B")
        s.add_all([a, b])
        await s.flush()
        sup = Agent(email="sup@x.test", display_name="Sam", role="supervisor",
                    password_hash=hash_password("x" * 12), groups=[AgentGroup(group_id=a.id)])
        s.add(sup)
        await s.flush()
        for number, group, at in (("SB-0000001", a.id, datetime(2026, 12, 1, 9, tzinfo=UTC)),
                                  ("SB-0000002", a.id, datetime(2026, 11, 30, 23, tzinfo=UTC)),
                                  ("SB-0000003", b.id, datetime(2026, 12, 1, 10, tzinfo=UTC))):
            conv = Conversation(number=number, channel="email", group_id=group,
                                created_at=at, status="active")
            s.add(conv)
            await s.flush()
            await sla_store.start(s, [conv.id], at)
            facts.on_status(s, conv, "active", "resolved", at + timedelta(minutes=30), None)
        await s.commit()
        return sup.id, a.id, b.id


async def _schedule(records: Records, agent: int, period: str, *to: str) -> int:
    async with records.sm() as s:
        row = ReportSchedule(agent_id=agent, period=period, tz="Europe/Berlin",
                             recipients=list(to))
        s.add(row)
        await s.commit()
        return row.id


async def _send(records: Records, sink: Sink, ids: list[int]) -> list[email.message.Message]:
    settings = records.settings.with_(smtp_host="127.0.0.1", smtp_port=sink.port)
    for i in ids:
        assert await outbound.send(records.sm, settings, i) == "sent"
    raw: list[Any] = [e.content or b"" for e in sink.messages]
    return [email.message_from_bytes(bytes(c)) for c in raw]


async def test_each_period_is_mailed_once(records: Records, smtp_sink: Sink) -> None:
    sup, _, _ = await _desk(records)
    await _schedule(records, sup, "daily", "boss@example.org", "team@example.org")
    await _schedule(records, sup, "weekly", "boss@example.org")

    ids = await report_mail.sweep(records.sm, records.settings, NOW)
    assert len(ids) == 3
    mails = await _send(records, smtp_sink, ids)
    daily = [m for m in mails if "daily" in m["Subject"]]
    assert sorted(m["To"] for m in daily) == ["boss@example.org", "team@example.org"]
    assert daily[0]["Subject"] == "Switchboard daily report: 2026-12-01"
    payload = daily[0].get_payload(decode=True)
    assert isinstance(payload, bytes)
    body = payload.decode()
    # Sam's scope: group A only; 1 December in Berlin holds SB-0000001 and SB-0000002
    # (created 23:00 UTC on the 30th = 00:00 on the 1st in Berlin).
    assert "Created:                2" in body and "Resolved:               2" in body
    assert "Median resolution:      30m 0s" in body and "/reports" in body
    weekly = next(m for m in mails if "weekly" in m["Subject"])
    assert weekly["Subject"] == "Switchboard weekly report: 2026-11-23 to 2026-11-29"

    # Later the same day: nothing more. The next day: the daily one again, not the weekly.
    assert await report_mail.sweep(records.sm, records.settings, NOW + timedelta(hours=5)) == []
    again = await report_mail.sweep(records.sm, records.settings, NOW + timedelta(days=1))
    assert len(again) == 2
    mails = await _send(records, smtp_sink, again)
    assert {m["Subject"] for m in mails[3:]} == {"Switchboard daily report: 2026-12-02"}


async def test_two_sweeps_at_once_mail_a_period_once(records: Records) -> None:
    sup, _, _ = await _desk(records)
    await _schedule(records, sup, "daily", "boss@example.org")
    got = await asyncio.gather(*(report_mail.sweep(records.sm, records.settings, NOW)
                                 for _ in range(3)))
    assert sorted(len(ids) for ids in got) == [0, 0, 1]
    async with records.sm() as s:
        rows = (await s.scalars(OutboundMail.__table__.select())).all()
    assert len(rows) == 1


async def test_a_deactivated_owner_mails_nothing(records: Records) -> None:
    sup, _, _ = await _desk(records)
    await _schedule(records, sup, "daily", "boss@example.org")
    async with records.sm() as s:
        agent = await s.get(Agent, sup)
        assert agent is not None
        agent.is_active = False
        await s.commit()
    assert await report_mail.sweep(records.sm, records.settings, NOW) == []
