"""The due-timer sweep: SLA breaches and the inactivity ladder, each firing exactly once.

In-process tests drive ``ingest.due.sweep`` with an injected clock (no sleeping); the process
tests run ``switchboard worker``'s code as real processes: the ladder end to end into the SMTP
sink, and a worker SIGKILLed mid-sweep next to a second worker."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import func, insert, select

from desk import audit, facts, sla_store
from desk.db import SessionMaker
from desk.models import (
    AuditEvent,
    Contact,
    Conversation,
    ConversationSla,
    Department,
    DueTimer,
    OutboundMail,
    ReportRollupDay,
    SlaPolicy,
    TimerFiring,
    utcnow,
)
from desk.settings import Settings
from ingest import due
from tests.ingest import procs
from tests.ingest.conftest import Records
from tests.ingest.harness import eventually
from tests.ingest.procs import Processes
from tests.support.smtp_sink import Sink

T0 = datetime(2026, 12, 1, 9, 0, tzinfo=utcnow().tzinfo)
DAY = timedelta(days=1)


async def _desk(records: Records, targets: dict[str, int] | None = None) -> tuple[int, int]:
    async with records.sm() as s:
        dept = Department(name="Support", email_address="support@desk.example")
        contact = Contact(email="alice@example.org", name="Alice")
        s.add_all([dept, contact])
        await s.flush()
        if targets:
            s.add(SlaPolicy(name="all", targets=targets, conditions={}))
        await s.commit()
        return dept.id, contact.id


async def _conversations(records: Records, n: int, at: datetime, dept: int,
                         contact: int) -> list[int]:
    async with records.sm() as s:
        ids = list((await s.execute(insert(Conversation).returning(Conversation.id), [
            {"number": f"SB-{1_000_000 + i}", "channel": "email", "status": "active",
             "department_id": dept, "contact_id": contact, "subject": "Help",
             "created_at": at, "updated_at": at} for i in range(n)])).scalars())
        await sla_store.start(s, ids, at)
        await s.commit()
    return ids


async def _status(records: Records, cid: int, new: str, at: datetime) -> None:
    async with records.sm() as s:
        conv = await s.get(Conversation, cid)
        assert conv is not None
        await sla_store.status_changed(s, conv, conv.status, new, at)
        conv.status = new
        await s.commit()


async def _drain(records: Records, now: datetime) -> list[str]:
    """Sweep at ``now`` until nothing is due; the outcomes in order."""
    out: list[str] = []
    while (swept := await due.sweep(records.sm, records.settings, now)).taken:
        out += [what for _, _, _, what in swept.outcomes]
    return out


async def _timeline(records: Records, cid: int) -> list[str]:
    async with records.sm() as s:
        return [e.action for e in await audit.timeline(s, cid)]


async def test_breach_fires_once_at_its_due(records: Records) -> None:
    dept, contact = await _desk(records, {"first_response": 3600, "resolution": 7200})
    [cid] = await _conversations(records, 1, T0, dept, contact)
    assert await _drain(records, T0 + timedelta(minutes=59)) == []
    assert await _drain(records, T0 + timedelta(hours=1)) == ["breached"]
    assert await _drain(records, T0 + timedelta(hours=1, minutes=1)) == []
    # Late (the worker was down): recorded at its due, not when it fired.
    assert await _drain(records, T0 + timedelta(hours=5)) == ["breached"]
    async with records.sm() as s:
        row = await s.get(ConversationSla, cid)
        assert row is not None
        assert sla_store.aware(row.first_response_breached_at) == T0 + timedelta(hours=1)
        assert sla_store.aware(row.resolution_breached_at) == T0 + timedelta(hours=2)
        assert await s.scalar(select(func.count()).select_from(TimerFiring)) == 2
    assert await _timeline(records, cid) == ["sla.breached", "sla.breached"]


async def test_a_failing_handler_is_its_firings_outcome_and_the_others_stand(
        records: Records) -> None:
    """The batch runs without savepoints; a handler that raises makes it redo the batch
    firing by firing, so only that firing is an error and the breach next to it stands."""
    dept, contact = await _desk(records, {"first_response": 3600})
    [cid] = await _conversations(records, 1, T0, dept, contact)
    async with records.sm() as s:
        s.add(DueTimer(conversation_id=cid, kind="rule:not-a-rule", instance="x",
                       due_at=T0 + timedelta(minutes=30)))
        await s.commit()
    outcomes = await _drain(records, T0 + timedelta(hours=1))
    assert outcomes[0].startswith("error: ValueError") and outcomes[1:] == ["breached"]
    assert await _drain(records, T0 + DAY) == []  # recorded: neither fires again
    async with records.sm() as s:
        row = await s.get(ConversationSla, cid)
        assert row is not None and row.first_response_breached_at is not None
        assert await s.scalar(select(func.count()).select_from(TimerFiring)) == 2
    assert await _timeline(records, cid) == ["sla.breached"]


async def test_answered_in_time_never_breaches(records: Records) -> None:
    dept, contact = await _desk(records, {"first_response": 3600})
    [cid] = await _conversations(records, 1, T0, dept, contact)
    async with records.sm() as s:
        await sla_store.on_messages(s, [sla_store.Posted(cid, "agent", "public",
                                                         T0 + timedelta(minutes=30))])
        await s.commit()
    assert await _drain(records, T0 + DAY) == []
    assert await _timeline(records, cid) == ["sla.met"]


async def test_pending_pauses_the_breach(records: Records) -> None:
    dept, contact = await _desk(records, {"resolution": 3600})
    [cid] = await _conversations(records, 1, T0, dept, contact)
    await _status(records, cid, "pending", T0 + timedelta(minutes=30))
    assert await _drain(records, T0 + 6 * DAY) == []  # the ladder's first step is at 7 days
    async with records.sm() as s:
        await sla_store.on_messages(s, [sla_store.Posted(cid, "contact", "public", T0 + 6 * DAY)])
        await s.commit()
    assert await _drain(records, T0 + 6 * DAY + timedelta(minutes=29)) == []
    assert await _drain(records, T0 + 6 * DAY + timedelta(minutes=30)) == ["breached"]


async def test_the_ladder_reminds_twice_then_closes(records: Records) -> None:
    dept, contact = await _desk(records)
    [cid] = await _conversations(records, 1, T0, dept, contact)
    await _status(records, cid, "pending", T0)
    assert await _drain(records, T0 + 7 * DAY - timedelta(seconds=1)) == []
    assert await _drain(records, T0 + 7 * DAY) == ["reminded (mail queued)"]
    assert await _drain(records, T0 + 14 * DAY) == ["reminded (mail queued)"]
    assert await _drain(records, T0 + 21 * DAY) == ["closed (mail queued)"]
    assert await _drain(records, T0 + 60 * DAY) == []
    async with records.sm() as s:
        conv = await s.get(Conversation, cid)
        assert conv is not None and conv.status == "closed"
        mails = (await s.scalars(select(OutboundMail).order_by(OutboundMail.id))).all()
    assert [m.kind for m in mails] == ["reminder", "reminder", "closed"]
    assert "reopen it at any time" in mails[2].body
    assert all(records.settings.public_url in m.body for m in mails)  # the case link
    assert await _timeline(records, cid) == [
        "conversation.status", "ladder.reminder", "ladder.reminder", "conversation.status",
        "ladder.closed"]


async def test_a_department_ladder_mails_its_own_wording(records: Records) -> None:
    dept, contact = await _desk(records)
    async with records.sm() as s:
        row = await s.get(Department, dept)
        assert row is not None
        row.ladder = [{"days": 2, "action": "remind", "text": "Any news on {number}? {link}"},
                      {"days": 5, "action": "close"}]
        await s.commit()
    [cid] = await _conversations(records, 1, T0, dept, contact)
    await _status(records, cid, "pending", T0)
    assert await _drain(records, T0 + 2 * DAY) == ["reminded (mail queued)"]
    assert await _drain(records, T0 + 5 * DAY) == ["closed (mail queued)"]
    async with records.sm() as s:
        mails = (await s.scalars(select(OutboundMail).order_by(OutboundMail.id))).all()
        number = (await s.get(Conversation, cid)).number  # type: ignore[union-attr]
    assert mails[0].body.startswith(f"Any news on {number}? {records.settings.public_url}")
    assert "reopen it at any time" in mails[1].body  # no text of its own: the catalogue's


async def test_a_customer_reply_resets_the_ladder_and_a_reopened_case_starts_over(
        records: Records) -> None:
    dept, contact = await _desk(records)
    [cid] = await _conversations(records, 1, T0, dept, contact)
    await _status(records, cid, "pending", T0)
    assert await _drain(records, T0 + 7 * DAY) == ["reminded (mail queued)"]
    async with records.sm() as s:
        await sla_store.on_messages(s, [sla_store.Posted(cid, "contact", "public", T0 + 8 * DAY)])
        await s.commit()
    assert await _drain(records, T0 + 14 * DAY) == []
    assert await _drain(records, T0 + 15 * DAY) == ["reminded (mail queued)"]
    await _status(records, cid, "active", T0 + 16 * DAY)
    assert await _drain(records, T0 + 40 * DAY) == []
    # Reopened and pending again: the ladder starts from its first step.
    await _status(records, cid, "pending", T0 + 41 * DAY)
    assert await _drain(records, T0 + 48 * DAY) == ["reminded (mail queued)"]


async def test_catch_up_after_three_weeks_down(records: Records) -> None:
    dept, contact = await _desk(records)
    [cid] = await _conversations(records, 1, T0, dept, contact)
    await _status(records, cid, "pending", T0)
    assert await _drain(records, T0 + 30 * DAY) == [
        "reminded (mail queued)", "reminded (mail queued)", "closed (mail queued)"]


async def test_the_mail_guard_budget_holds_reminders(records: Records, redis: Any) -> None:
    from routing.mail_guard import MailGuard

    guard = MailGuard.of(redis, records.settings.with_(mail_per_recipient_per_hour=1))
    dept, contact = await _desk(records)
    cids = await _conversations(records, 2, T0, dept, contact)
    for cid in cids:
        await _status(records, cid, "pending", T0)
    swept = await due.sweep(records.sm, records.settings, T0 + 7 * DAY, guard=guard)
    assert sorted(what.split(":")[0] for _, _, _, what in swept.outcomes) == [
        "reminded (mail queued)", "reminded (mail refused"]


# --- real processes -------------------------------------------------------------------------


async def _count(records: Records, model: Any, *where: Any) -> int:
    async with records.sm() as s:
        return int(await s.scalar(select(func.count()).select_from(model).where(*where)) or 0)


async def test_the_ladder_end_to_end_into_the_sink(records: Records, redis: Any,
                                                   processes: Processes,
                                                   smtp_sink: Sink) -> None:
    settings = records.settings.with_(smtp_host="127.0.0.1", smtp_port=smtp_sink.port)
    dept, contact = await _desk(records)
    now = utcnow()
    [cid] = await _conversations(records, 1, now - 22 * DAY, dept, contact)
    await _status(records, cid, "pending", now - 21 * DAY - timedelta(minutes=1))
    processes.spawn("worker", "serve", settings=settings)
    await eventually(lambda: len(smtp_sink.messages) >= 3, within_s=60)
    bodies = [bytes(m.content or b"").decode() for m in smtp_sink.messages]  # type: ignore[arg-type]
    assert sum("waiting for your reply" in b for b in bodies) == 2
    assert sum("reopen it at any time" in b for b in bodies) == 1
    assert all(m.rcpt_tos == ["alice@example.org"] for m in smtp_sink.messages)
    async with records.sm() as s:
        conv = await s.get(Conversation, cid)
        assert conv is not None and conv.status == "closed"
    assert await _count(records, OutboundMail) == 3, procs.log_tail(settings)


async def test_sigkill_mid_sweep_and_two_workers_fire_every_timer_once(
        records: Records, redis: Any, processes: Processes) -> None:
    n = 1500
    dept, contact = await _desk(records, {"first_response": 60})
    await _conversations(records, n, utcnow() - DAY, dept, contact)
    first = processes.spawn("worker", "serve")
    processes.spawn("worker", "serve")

    async def some_fired() -> bool:
        return await _count(records, TimerFiring) > 50

    await eventually(some_fired, within_s=60)
    procs.kill(first)
    processes.spawn("worker", "serve")

    async def drained() -> bool:
        return await _count(records, DueTimer) == 0

    await eventually(drained, within_s=120)
    assert await _count(records, TimerFiring) == n
    assert await _count(records, AuditEvent, AuditEvent.action == "sla.breached") == n
    async with records.sm() as s:
        targets = await s.scalar(select(func.count(func.distinct(AuditEvent.target))).where(
            AuditEvent.action == "sla.breached"))
    assert targets == n


async def test_the_worker_rolls_up_closed_days_every_interval(sm: SessionMaker,
                                                              settings: Settings) -> None:
    async with sm() as s:
        conv = Conversation(number="SB-0000001", channel="chat", status="queued",
                            created_at=datetime(2026, 3, 1, 9, tzinfo=UTC))
        s.add(conv)
        await s.flush()
        facts.created(s, conv, conv.created_at)
        await s.commit()
    now = datetime(2026, 3, 3, 12, tzinfo=UTC)
    assert await due._roll_up(sm, settings, now, None) == now
    async with sm() as s:
        built = sorted((await s.scalars(select(ReportRollupDay.day))).all())
    assert [d.isoformat() for d in built] == ["2026-03-01", "2026-03-02"]  # not today
    later = now + timedelta(seconds=due.ROLLUP_EVERY_S - 1)
    assert await due._roll_up(sm, settings, later, now) == now  # not yet again
