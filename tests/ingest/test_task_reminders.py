"""Task reminders through the real worker into the aiosmtpd sink: each reminder mailed once,
across a worker killed and started again; a moved reminder goes again, a done task's not."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy import func, select

from desk.models import Agent, OutboundMail, Task, utcnow
from ingest import task_reminders
from tests.ingest import procs
from tests.ingest.conftest import Records
from tests.ingest.harness import eventually
from tests.ingest.procs import Processes
from tests.support.smtp_sink import Sink


async def _task(records: Records, owner: int, title: str, *, status: str = "open") -> int:
    async with records.sm() as s:
        t = Task(title=title, owner_id=owner, status=status,
                 remind_at=utcnow() - timedelta(seconds=1))
        s.add(t)
        await s.commit()
        return t.id


async def _sent(records: Records) -> bool:
    async with records.sm() as s:
        return bool(await s.scalar(select(func.count()).select_from(OutboundMail).where(
            OutboundMail.kind == "task", OutboundMail.status == "sent")))


def _subjects(sink: Sink) -> list[str]:
    out = []
    for env in sink.messages:
        text = bytes(env.content or b"").decode()  # type: ignore[arg-type]
        out += [line for line in text.splitlines() if line.startswith("Subject:")]
    return out


async def test_a_reminder_reaches_the_sink_once_across_a_worker_restart(
        records: Records, redis: Any, processes: Processes, smtp_sink: Sink) -> None:
    settings = records.settings.with_(smtp_host="127.0.0.1", smtp_port=smtp_sink.port)
    async with records.sm() as s:
        ana = Agent(email="ana@desk.example", display_name="Ana", role="agent",
                    password_hash="x")
        s.add(ana)
        await s.commit()
    await _task(records, ana.id, "Order the spare fuse")
    await _task(records, ana.id, "Already done", status="done")
    worker = processes.spawn("worker", "serve", settings=settings)
    await eventually(lambda: len(smtp_sink.messages) >= 1, within_s=60)
    # killed only once the send is recorded: a worker killed between the SMTP server's answer
    # and that record sends the mail again (same Message-ID; docs/email.md "When a mail can go
    # twice"), which is the send path's guarantee, not the reminder's
    await eventually(lambda: _sent(records), within_s=60)
    procs.kill(worker)
    await _task(records, ana.id, "Call the supplier")
    processes.spawn("worker", "serve", settings=settings)
    await eventually(lambda: len(smtp_sink.messages) >= 2, within_s=60)
    assert sorted(_subjects(smtp_sink)) == ["Subject: Reminder: Call the supplier",
                                            "Subject: Reminder: Order the spare fuse"], \
        procs.log_tail(settings)
    assert smtp_sink.messages[0].rcpt_tos == ["ana@desk.example"]
    async with records.sm() as s:
        assert await s.scalar(select(func.count()).select_from(OutboundMail).where(
            OutboundMail.kind == "task")) == 2


async def test_a_sweep_claims_each_reminder_once(records: Records) -> None:
    async with records.sm() as s:
        ana = Agent(email="ana@desk.example", display_name="Ana", role="agent",
                    password_hash="x")
        s.add(ana)
        await s.commit()
    tid = await _task(records, ana.id, "Check the invoice")
    now = utcnow()
    assert len((await task_reminders.sweep(records.sm, records.settings, now)).mails) == 1
    assert (await task_reminders.sweep(records.sm, records.settings, now)).mails == []
    async with records.sm() as s:  # moved: a new reminder, mailed again
        t = await s.get(Task, tid)
        assert t is not None and t.reminded_at is not None
        t.remind_at, t.reminded_at = now + timedelta(minutes=5), None
        await s.commit()
    assert (await task_reminders.sweep(records.sm, records.settings, now)).mails == []
    assert len((await task_reminders.sweep(records.sm, records.settings,
                                           now + timedelta(minutes=5))).mails) == 1
