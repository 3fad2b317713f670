"""Task reminders (desk.tasks): at each sweep of the worker's due-timer thread, the open tasks
whose reminder time came are claimed and their mails staged (kind ``task``) in ONE transaction
that also stamps ``reminded_at``. So a reminder goes once however many workers sweep and
whenever one is killed: the stamp and the mail row commit together (PostgreSQL takes the rows
``FOR UPDATE SKIP LOCKED``; SQLite's transactions take turns), the row's Message-ID names the
task and its reminder time, and a row whose send job never got queued is enqueued by
``due.requeue_staged``. Each mail is within the staff budget (Purpose.STAFF): a refused one is
stamped too and logged, so the console's notice still shows it.
"""

from __future__ import annotations

import logging
from datetime import datetime

from sqlalchemy import select

from desk import tasks
from desk.commitments import aware
from desk.db import SessionMaker
from desk.models import Agent, OutboundMail, Task
from desk.settings import Settings
from ingest import notices
from ingest.compose import message_id_for
from ingest.headers import clean_header_value
from ingest.outbound import sender_address
from routing.mail_budget import MailRequest, Purpose
from routing.mail_guard import MailGuard

log = logging.getLogger(__name__)
BATCH = 50


async def sweep(sm: SessionMaker, settings: Settings, now: datetime,
                guard: MailGuard | None = None) -> list[int]:
    """Stage the reminders due at ``now``; the new OutboundMail ids."""
    domain = (await sender_address(sm, None)).domain
    async with sm() as s:
        pg = sm.kw["bind"].dialect.name == "postgresql"
        q = (select(Task).where(Task.status == "open", Task.reminded_at.is_(None),
                                Task.remind_at <= now).order_by(Task.remind_at).limit(BATCH))
        due = list(await s.scalars(q.with_for_update(skip_locked=True) if pg else q))
        if not due:
            return []
        related = await tasks.links_of(s, [t.id for t in due])
        rows = []
        for t in due:
            t.reminded_at = now
            owner = await s.get(Agent, t.owner_id)
            if owner is None or not owner.is_active or not owner.email:
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
        return [r.id for r in rows]


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
