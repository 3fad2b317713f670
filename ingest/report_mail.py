"""Scheduled report mails (desk.report_schedules): at each sweep of the worker's due-timer
thread, every schedule whose last complete period is not mailed yet is claimed and its mails
staged as OutboundMail rows (kind ``report``) in ONE transaction, then sent by the usual send
job. So a period is mailed once however many workers sweep and whenever they crash: the claim
and the rows commit together, the rows' Message-IDs are their idempotency keys, and rows
whose job never got queued are enqueued by ``due.requeue_staged``.
"""

from __future__ import annotations

from datetime import datetime

from desk import reports
from desk.api_conversations import survey_visible
from desk.db import SessionMaker
from desk.models import OutboundMail
from desk.report_schedules import Due, claim_due, mail_text
from desk.settings import Settings
from ingest.compose import message_id_for
from ingest.outbound import sender_address


async def sweep(sm: SessionMaker, settings: Settings, now: datetime) -> list[int]:
    """Stage the mails of every schedule due at ``now``; the new OutboundMail ids."""
    domain = (await sender_address(sm, None)).domain
    async with sm() as s:
        due = await claim_due(s, now)
        rows = []
        for d in due:
            survey = survey_visible(d.owner)
            facts = await reports.load(s, d.owner, d.range,
                                       reports.visible_kinds(d.owner, survey))
            rows += _rows(settings, domain, d, reports.figures(facts), survey)
        s.add_all(rows)
        await s.commit()
        return [r.id for r in rows]


def _rows(settings: Settings, domain: str, d: Due, totals: dict[str, object],
          survey: bool) -> list[OutboundMail]:
    key = d.key
    link = f"{settings.public_url.rstrip('/')}/reports"
    subject, body = mail_text(d.schedule.period, d.range, totals, link, survey)
    return [OutboundMail(
        message_id=message_id_for(f"report:{d.schedule.id}:{key}:{to}", domain,
                                  settings.secret_key),
        conversation_id=None, kind="report", key=f"{d.schedule.id}:{key}"[:64],
        to_address=to, subject=subject, body=body, status="queued")
        for to in d.schedule.recipients]
