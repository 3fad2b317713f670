"""The customer 360's company data: ``GET /api/conversations/{id}/customer/lookup`` asks the
site's external lookup provider (``desk.lookup_rules``) about the conversation's contact.

Anyone who may open the conversation may ask (``load_conversation``). The panel loads it on
its own, after the rest of the 360, so neither the panel nor any conversation path waits on a
provider. The site is the conversation's, else the contact's. The request goes through
``desk.outbound_http`` (the SSRF address rule, DNS pinned, redirects checked), with the
provider's timeout as the whole exchange's deadline and ``ANSWER_MAX_BYTES`` read at most. The
outcome is cached per contact in Redis (``keys.lookup``): the fields for the provider's cache
TTL, a failure (refused, timeout, too large, not 200, malformed) for ``FAILURE_TTL_S``, so a
slow or broken provider is asked again only that often, however many agents open the panel.

Answer: ``{"state": "none"}`` (no provider), ``{"state": "unavailable"}``, or ``{"state":
"ok", "fields": [[label, value], ...]}``; ``cached`` says whether it came from the cache.
"""

from __future__ import annotations

import logging
import time
from typing import Any

import orjson
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from desk import lookup_rules, outbound_http
from desk.api_conversations import load_conversation
from desk.http import JSONResponse, api, deps
from desk.lookup_rules import ANSWER_MAX_BYTES, FAILURE_TTL_S, Provider
from desk.models import Contact, Site
from desk.net_guard import Refused
from desk.settings import Settings
from desk.webhook_rules import SIGNATURE_HEADER, sign
from realtime.context import Context
from routing import keys

log = logging.getLogger(__name__)
UNAVAILABLE: dict[str, Any] = {"state": "unavailable"}


async def _ask(settings: Settings, provider: Provider, body: bytes) -> dict[str, Any]:
    headers = {"content-type": "application/json", "accept": "application/json",
               SIGNATURE_HEADER: sign(provider.secret, int(time.time()), body)}
    try:
        answer = await outbound_http.request(
            "POST", provider.url, content=body, headers=headers,
            allowed=settings.outbound_allow_networks, timeout_s=provider.timeout_ms / 1000,
            max_bytes=ANSWER_MAX_BYTES)
    except (Refused, outbound_http.Failed) as exc:
        log.warning("lookup provider %s: %s", provider.url, exc)
        return UNAVAILABLE
    fields = lookup_rules.parse_answer(answer.status, answer.body)
    if fields is None:
        log.warning("lookup provider %s: status %s, not a flat object of fields",
                    provider.url, answer.status)
        return UNAVAILABLE
    return {"state": "ok", "fields": [list(f) for f in fields]}


@api
async def lookup(request: Request) -> Response:
    """The site's lookup provider's fields about the conversation's contact (cached)."""
    _, c = await load_conversation(request)
    d = deps(request)
    async with d.sm() as s:
        contact = await s.get(Contact, c.contact_id) if c.contact_id else None
        site_id = c.site_id or (contact.site_id if contact else None)
        site = await s.get(Site, site_id) if site_id else None
    provider = lookup_rules.stored(site.lookup) if site else None
    if contact is None or site is None or provider is None:
        return JSONResponse({"state": "none"})
    ctx: Context = request.app.state.context
    key = keys.lookup(site.id, contact.id, provider.fingerprint())
    if (hit := await ctx.hub.redis.get(key)) is not None:
        return JSONResponse({**orjson.loads(hit), "cached": True})
    result = await _ask(d.settings, provider, lookup_rules.request_body(
        site.key, contact.id, contact.email, contact.name, contact.external_id))
    ttl = provider.cache_ttl_s if result["state"] == "ok" else FAILURE_TTL_S
    if ttl > 0:
        await ctx.hub.redis.set(key, orjson.dumps(result), ex=ttl)
    return JSONResponse({**result, "cached": False})


def lookup_routes() -> list[BaseRoute]:
    return [Route("/api/conversations/{id:int}/customer/lookup", lookup, methods=["GET"])]
