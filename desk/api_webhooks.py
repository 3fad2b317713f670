"""Admin API for outgoing webhooks: the endpoints, their delivery log, redelivery.

A webhook's secret is generated here unless given, shown whole once (in the answer that
created it or set it) and then only by its last four characters.
"""

from __future__ import annotations

import secrets
from typing import Any

from sqlalchemy import select
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from desk import validate, webhooks
from desk.errors import InvalidInput
from desk.http import (
    JSONResponse,
    api,
    commit_unique,
    deps,
    get_or_404,
    path_int,
    read_json,
    require_admin,
)
from desk.limits import NAME_MAX
from desk.models import Webhook, WebhookDelivery, WebhookEvent
from desk.models.integrations import WEBHOOK_URL_MAX
from desk.net_guard import Refused, check_url
from desk.webhook_rules import EVENTS

SECRET_MIN, SECRET_MAX = 16, 128
LOG_LIMIT = 200


def webhook_json(h: Webhook, *, with_secret: bool = False) -> dict[str, Any]:
    out: dict[str, Any] = {"id": h.id, "name": h.name, "url": h.url, "events": h.events,
                           "active": h.active, "secret_hint": "…" + h.secret[-4:]}
    if with_secret:
        out["secret"] = h.secret
    return out


def delivery_json(d: WebhookDelivery, kind: str) -> dict[str, Any]:
    return {"id": d.id, "webhook_id": d.webhook_id, "event_id": d.event_id, "event": kind,
            "state": d.state, "attempts": d.attempts,
            "next_attempt_at": d.next_attempt_at.isoformat() if d.state == "pending" else None,
            "last_status": d.last_status, "last_error": d.last_error,
            "delivered_at": d.delivered_at.isoformat() if d.delivered_at else None,
            "created_at": d.created_at.isoformat()}


def _apply(h: Webhook, data: dict[str, Any], partial: bool) -> bool:
    """Apply the body; whether the secret was set (and so is shown)."""
    if not partial or "name" in data:
        h.name = validate.required_text(data, "name", max_len=NAME_MAX)
    if not partial or "url" in data:
        url = validate.required_text(data, "url", max_len=WEBHOOK_URL_MAX)
        try:
            check_url(url)
        except Refused as exc:
            raise InvalidInput(f"url: {exc}", "url") from None
        h.url = url
    if not partial or "events" in data:
        events = data.get("events", [])
        if not isinstance(events, list) or not all(e in EVENTS for e in events):
            raise InvalidInput(f"events must be a list of: {', '.join(EVENTS)}", "events")
        h.events = sorted(set(events))
    active = validate.boolean(data, "active", None if partial else True)
    if active is not None:
        h.active = active
    given = validate.secret(data, "secret", max_len=SECRET_MAX, required=False)
    if given is not None and len(given) < SECRET_MIN:
        raise InvalidInput(f"secret must be at least {SECRET_MIN} characters", "secret")
    if given is None and partial:
        return False
    h.secret = given or secrets.token_urlsafe(32)
    return True


@api
async def list_webhooks(request: Request) -> Response:
    await require_admin(request)
    async with deps(request).sm() as s:
        rows = await s.scalars(select(Webhook).order_by(Webhook.id))
        return JSONResponse([webhook_json(h) for h in rows])


@api
async def create_webhook(request: Request) -> Response:
    """A webhook: name, http(s) url, events (none: all); the secret is shown once."""
    await require_admin(request)
    data = await read_json(request)
    h = Webhook()
    _apply(h, data, partial=False)
    async with deps(request).sm() as s:
        s.add(h)
        await commit_unique(s, "webhook")
        return JSONResponse(webhook_json(h, with_secret=True), status_code=201)


@api
async def update_webhook(request: Request) -> Response:
    """Change a webhook (name, url, events, active, secret)."""
    await require_admin(request)
    data = await read_json(request)
    async with deps(request).sm() as s:
        h = await get_or_404(s, Webhook, path_int(request, "id"), "webhook")
        shown = _apply(h, data, partial=True)
        await commit_unique(s, "webhook")
        return JSONResponse(webhook_json(h, with_secret=shown))


@api
async def delete_webhook(request: Request) -> Response:
    await require_admin(request)
    async with deps(request).sm() as s:
        await s.delete(await get_or_404(s, Webhook, path_int(request, "id"), "webhook"))
        await s.commit()
    return Response(status_code=204)


@api
async def list_deliveries(request: Request) -> Response:
    """The webhook's delivery log, newest first (the last 200)."""
    await require_admin(request)
    async with deps(request).sm() as s:
        h = await get_or_404(s, Webhook, path_int(request, "id"), "webhook")
        rows = await s.execute(select(WebhookDelivery, WebhookEvent.kind).join(
            WebhookEvent, WebhookEvent.id == WebhookDelivery.event_id).where(
            WebhookDelivery.webhook_id == h.id).order_by(WebhookDelivery.id.desc())
            .limit(LOG_LIMIT))
        return JSONResponse([delivery_json(d, kind) for d, kind in rows.all()])


@api
async def redeliver_delivery(request: Request) -> Response:
    """Send a delivery again now, on a fresh retry schedule."""
    await require_admin(request)
    async with deps(request).sm() as s:
        d = await get_or_404(s, WebhookDelivery, path_int(request, "id"), "delivery")
        kind = (await get_or_404(s, WebhookEvent, d.event_id, "event")).kind
        await webhooks.redeliver(s, d)
        return JSONResponse(delivery_json(d, kind), status_code=202)


routes = [
    Route("/api/webhooks", list_webhooks, methods=["GET"]),
    Route("/api/webhooks", create_webhook, methods=["POST"]),
    Route("/api/webhooks/{id:int}", update_webhook, methods=["PATCH"]),
    Route("/api/webhooks/{id:int}", delete_webhook, methods=["DELETE"]),
    Route("/api/webhooks/{id:int}/deliveries", list_deliveries, methods=["GET"]),
    Route("/api/webhook-deliveries/{id:int}/redeliver", redeliver_delivery, methods=["POST"]),
]
