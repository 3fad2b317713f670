"""Admin API for outgoing webhooks: the endpoints, their delivery log, redelivery.

A webhook's secret is generated here unless given, shown whole once (in the answer that
created it or set it) and then only by its last four characters.
"""

from __future__ import annotations

import secrets
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from desk import validate, webhooks
from desk.errors import InvalidInput
from desk.http import JSONResponse, admin_crud, api, deps, get_or_404, path_int, require_admin
from desk.limits import NAME_MAX
from desk.models import Webhook, WebhookDelivery, WebhookEvent
from desk.models.integrations import WEBHOOK_URL_MAX
from desk.net_guard import Refused, check_url
from desk.webhook_rules import EVENTS

SECRET_MIN, SECRET_MAX = 16, 128
LOG_LIMIT = 200


def _url(data: dict[str, Any], key: str) -> str:
    url = validate.required_text(data, key, max_len=WEBHOOK_URL_MAX)
    try:
        check_url(url)
    except Refused as exc:
        raise InvalidInput(f"url: {exc}", "url") from None
    return url


def _events(data: dict[str, Any], key: str) -> list[str]:
    events = data.get(key, [])
    if not isinstance(events, list) or not all(e in EVENTS for e in events):
        raise InvalidInput(f"events must be a list of: {', '.join(EVENTS)}", "events")
    return sorted(set(events))


WEBHOOK = validate.Body({
    "name": validate.Text(NAME_MAX),
    "url": validate.Custom(_url, {"type": "string", "format": "uri", "minLength": 1,
                                  "maxLength": WEBHOOK_URL_MAX}),
    "events": validate.Custom(_events, {"type": "array", "maxItems": len(EVENTS),
                                        "items": {"enum": list(EVENTS)}}),
    "active": validate.Boolean(), "secret": validate.Secret(SECRET_MAX, SECRET_MIN)},
    required=("name", "url"))
WEBHOOK_UPDATE = WEBHOOK.but(required=())


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


async def _apply(_: AsyncSession, h: Webhook, data: dict[str, Any], partial: bool) -> bool:
    """Apply the body; whether the secret was set (and so is shown)."""
    body = WEBHOOK_UPDATE if partial else WEBHOOK
    if not partial or "name" in data:
        h.name = body.read(data, "name")
    if not partial or "url" in data:
        h.url = body.read(data, "url")
    if not partial or "events" in data:
        h.events = body.read(data, "events")
    active = body.read(data, "active")
    if active is not None or not partial:
        h.active = active is not False
    given = body.read(data, "secret")
    if given is None and partial:
        return False
    h.secret = given or secrets.token_urlsafe(32)
    return True


hooks = admin_crud(
    Webhook, "webhook", "webhooks", lambda h, shown: webhook_json(h, with_secret=bool(shown)),
    order_by=(Webhook.id,), apply=_apply, bodies=(WEBHOOK, WEBHOOK_UPDATE), docs=(
        "A webhook: name, http(s) url, events (none: all); the secret is shown once.",
        "Change a webhook (name, url, events, active, secret)."))


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
    *hooks.routes("/api/webhooks"),
    Route("/api/webhooks/{id:int}/deliveries", list_deliveries, methods=["GET"]),
    Route("/api/webhook-deliveries/{id:int}/redeliver", redeliver_delivery, methods=["POST"]),
]
