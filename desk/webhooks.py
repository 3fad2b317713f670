"""Outgoing webhooks: the outbox written with each domain event, and its delivery.

``stage`` is the one way an event reaches the outbox: a ``webhook_events`` row added to the
session of the change it reports, so it is sent if and only if the change committed. The homes
that call it: ``desk.facts.record`` (every report fact: created, assigned, transferred, first
response, response, resolved, reopened, closed, rating, SLA met / breached, abandoned, time
logged), ``desk.sla_store.on_messages`` (every stored public message) and
``desk.sla_store.status_changed`` (every status change). Nothing on the case's path waits on a
webhook: the worker's webhook thread (ingest.worker) calls ``run_once``, which fans new events
out to the subscribed webhooks (one ``webhook_deliveries`` row each; an event nobody wants is
dropped) and sends the due deliveries, each under a lease, signed (desk.webhook_rules), through
desk.outbound_http (the SSRF rule, a deadline, a size cap). A failure is retried on the backoff
schedule; an address the rule refuses is not retried (``refused``) and logged.
"""

from __future__ import annotations

import asyncio
import logging
import time
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import delete, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from desk import outbound_http
from desk.db import SessionMaker
from desk.models import Conversation, Webhook, WebhookDelivery, WebhookEvent, utcnow
from desk.net_guard import Network, Refused
from desk.webhook_rules import (
    DELIVERY_HEADER,
    EVENT_HEADER,
    SIGNATURE_HEADER,
    body,
    next_attempt,
    sign,
    subscribed,
)

log = logging.getLogger(__name__)

FAN_OUT_BATCH = 200
SEND_BATCH = 20
ANSWER_MAX = 64 * 1024  # what is read of a receiver's answer (it is not kept)
ERROR_MAX = 500


def _iso(at: datetime) -> str:
    return (at if at.tzinfo else at.replace(tzinfo=UTC)).isoformat()


async def any_active(s: AsyncSession) -> bool:
    """Whether any webhook listens (the message path stages its events only then)."""
    return bool(await s.scalar(select(Webhook.id).where(Webhook.active.is_(True)).limit(1)))


def stage(s: AsyncSession, kind: str, conv: Conversation | int, at: datetime,
          **data: Any) -> None:
    """THE way an event enters the outbox (in the transaction of the change). A message's
    event names its conversation by id only: the message path does not load it."""
    snapshot = {"id": conv} if isinstance(conv, int) else {
        "id": conv.id, "number": conv.number, "channel": conv.channel, "status": conv.status,
        "priority": conv.priority, "department_id": conv.department_id,
        "group_id": conv.group_id, "assignee_id": conv.assignee_id,
        "contact_id": conv.contact_id, "site_id": conv.site_id}
    s.add(WebhookEvent(kind=kind, conversation_id=snapshot["id"], payload={
        "at": _iso(at), "conversation": snapshot, "data": data}))


async def fan_out(s: AsyncSession, now: datetime) -> int:
    """New events -> one pending delivery per subscribed active webhook; returns events seen."""
    events = list(await s.scalars(select(WebhookEvent).where(
        WebhookEvent.fanned_out.is_(False)).order_by(WebhookEvent.id).limit(FAN_OUT_BATCH)))
    if not events:
        return 0
    hooks = list(await s.scalars(select(Webhook).where(Webhook.active.is_(True))))
    unwanted: list[int] = []
    for e in events:
        targets = [h for h in hooks if subscribed(h.events, e.kind)]
        for h in targets:
            s.add(WebhookDelivery(webhook_id=h.id, event_id=e.id, next_attempt_at=now))
        if targets:
            e.fanned_out = True
        else:
            unwanted.append(e.id)
    if unwanted:
        await s.execute(delete(WebhookEvent).where(WebhookEvent.id.in_(unwanted)))
    await s.commit()
    return len(events)


async def _claim(sm: SessionMaker, now: datetime, lease_s: float) -> list[int]:
    async with sm() as s:
        due = list(await s.scalars(select(WebhookDelivery.id).where(
            WebhookDelivery.state == "pending", WebhookDelivery.next_attempt_at <= now,
            or_(WebhookDelivery.lease_until.is_(None), WebhookDelivery.lease_until < now),
        ).order_by(WebhookDelivery.next_attempt_at).limit(SEND_BATCH)))
        if not due:
            return []
        # Taken only where no other worker took it since the read.
        mine = list(await s.scalars(update(WebhookDelivery).where(
            WebhookDelivery.id.in_(due), or_(
                WebhookDelivery.lease_until.is_(None), WebhookDelivery.lease_until < now)
        ).values(lease_until=now + timedelta(seconds=lease_s)).returning(WebhookDelivery.id)))
        await s.commit()
    return mine


async def _send(sm: SessionMaker, delivery_id: int, allowed: tuple[Network, ...],
                timeout_s: float, now: datetime) -> None:
    async with sm() as s:
        d = await s.get(WebhookDelivery, delivery_id)
        if d is None:
            return
        hook = await s.get(Webhook, d.webhook_id)
        event = await s.get(WebhookEvent, d.event_id)
        if hook is None or event is None:
            return
        url, secret = hook.url, hook.secret
        data = body(event.id, event.kind, event.payload)
        kind = event.kind
    headers = {"content-type": "application/json", "user-agent": "Switchboard-Webhooks/1",
               EVENT_HEADER: kind, DELIVERY_HEADER: str(delivery_id),
               SIGNATURE_HEADER: sign(secret, int(time.time()), data)}
    status: int | None = None
    error: str | None = None
    refused = False
    try:
        answer = await outbound_http.request("POST", url, content=data, headers=headers,
                                             allowed=allowed, timeout_s=timeout_s,
                                             max_bytes=ANSWER_MAX)
        status = answer.status
        if not 200 <= status < 300:
            error = f"HTTP {status}"
    except Refused as exc:
        refused, error = True, f"refused: {exc}"
        log.warning("webhook %s delivery %d refused: %s", url, delivery_id, exc)
    except outbound_http.Failed as exc:
        error = str(exc)
    await _record(sm, delivery_id, status, error, refused, now)


async def _record(sm: SessionMaker, delivery_id: int, status: int | None, error: str | None,
                  refused: bool, now: datetime) -> None:
    async with sm() as s:
        d = await s.get(WebhookDelivery, delivery_id)
        if d is None:
            return
        d.attempts += 1
        d.lease_until = None
        d.last_status, d.last_error = status, error[:ERROR_MAX] if error else None
        if error is None:
            d.state, d.delivered_at = "delivered", now
        elif refused:
            d.state = "refused"
        elif (again := next_attempt(d.attempts, now)) is None:
            d.state = "failed"
        else:
            d.next_attempt_at = again
        await s.commit()


async def run_once(sm: SessionMaker, *, allowed: tuple[Network, ...] = (),
                   timeout_s: float = 10.0, now: datetime | None = None) -> int:
    """One pass of the worker's webhook thread; returns the deliveries attempted."""
    now = now or utcnow()
    async with sm() as s:
        while await fan_out(s, now) == FAN_OUT_BATCH:
            pass
    mine = await _claim(sm, now, lease_s=timeout_s * 3)
    await asyncio.gather(*(_send(sm, d, allowed, timeout_s, now) for d in mine))
    return len(mine)


async def redeliver(s: AsyncSession, delivery: WebhookDelivery) -> None:
    """Send it again now, on a fresh retry schedule (the admin's redelivery button)."""
    delivery.state, delivery.attempts = "pending", 0
    delivery.next_attempt_at, delivery.lease_until = utcnow(), None
    await s.commit()
