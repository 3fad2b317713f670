"""Task reminders (desk.tasks): at each sweep of the worker's due-timer thread, the open tasks
whose reminder time came are claimed and their mails staged (kind ``task``) in ONE transaction
that also stamps ``reminded_at``. So a reminder goes once however many workers sweep and
whenever one is killed: the stamp and the mail row commit together (PostgreSQL takes the rows
``FOR UPDATE SKIP LOCKED``; SQLite's transactions take turns), the row's Message-ID names the
task and its reminder time, and a row whose send job never got queued is enqueued by
``due.requeue_staged``. Each mail is within the staff budget (Purpose.STAFF): a refused one is
stamped too and logged, so the console's notice still shows it.

The owner's consoles hear of each reminder pushed, not polled: the sweep returns one
``TaskReminded`` event per stamped task, which the caller publishes on the router's events
channel after the commit (``ingest.due``), and the web processes' hubs push it as a
``task_reminder`` frame to the owner's sockets. Pub/sub delivers at most once; a console that
was closed (or a publish a crash cut off) finds the reminder in its task list when it loads,
and shows it then, once (the console keeps which reminders it showed).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import select

from desk import tasks
from desk.db import SessionMaker
from desk.due_times import aware
from desk.models import Agent, OutboundMail, Task
from desk.settings import Settings
from ingest import notices
from ingest.compose import message_id_for
from ingest.headers import clean_header_value
from ingest.outbound import sender_address
from routing import events
from routing.mail_budget import MailRequest, Purpose
from routing.mail_guard import MailGuard

log = logging.getLogger(__name__)
BATCH = 50


@dataclass(frozen=True, slots=True)
class Reminded:
    mails: list[int] = field(default_factory=list)  # the staged OutboundMail ids
    notices: list[events.TaskReminded] = field(default_factory=list)  # after the commit


async def sweep(sm: SessionMaker, settings: Settings, now: datetime,
                guard: MailGuard | None = None) -> Reminded:
    """Stage the reminders due at ``now``: their mails and their console notices."""
    domain = (await sender_address(sm, None)).domain
    async with sm() as s:
        pg = sm.kw["bind"].dialect.name == "postgresql"
        q = (select(Task).where(Task.status == "open", Task.reminded_at.is_(None),
                                Task.remind_at <= now).order_by(Task.remind_at).limit(BATCH))
        due = list(await s.scalars(q.with_for_update(skip_locked=True) if pg else q))
        if not due:
            return Reminded()
        related = await tasks.links_of(s, [t.id for t in due])
        rows, notices = [], []
        for t in due:
            t.reminded_at = now
            owner = await s.get(Agent, t.owner_id)
            if owner is None or not owner.is_active:
                continue
            notices.append(events.TaskReminded(owner.id, t.id, t.title, tasks.iso(t.due_at),
                                               tasks.iso(now) or ""))
            if not owner.email:
                continue
            if guard is not None:
                verdict = await guard.admit(MailRequest(Purpose.STAFF, owner.email))
                if not verdict.allowed:
                    log.warning("task %s reminder not mailed: %s", t.id, verdict.message)
                    continue
            rows.append(_row(settings, domain, t, owner.email,
                             [r["number"] for r in related[t.id]]))
        s.add_all(rows)
        await s.commit()
        return Reminded([r.id for r in rows], notices)


def _row(settings: Settings, domain: str, t: Task, to: str, related: list[str]) -> OutboundMail:
    assert t.remind_at is not None
    key = f"{t.id}:{aware(t.remind_at).isoformat()}"
    return OutboundMail(
        message_id=message_id_for(f"task:{key}:{to}", domain, settings.secret_key),
        conversation_id=None, kind="task", key=key[:64], to_address=to,
        subject=clean_header_value(f"Reminder: {t.title}", 200),
        body=notices.task_reminder(t.title, aware(t.due_at).isoformat() if t.due_at else None,
                                   related, f"{settings.public_url.rstrip('/')}/console"),
        status="queued")
