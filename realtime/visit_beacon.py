"""``POST /api/visitor/page-view``: a page view from the widget before its socket exists.

The widget sends it with ``navigator.sendBeacon`` as soon as it has a visitor token (the page
then shows in agents' lists while the socket is still opening, or if it never opens), as
``text/plain`` so it is a simple request: no preflight, and the answer is never read. The body
is JSON in that text, at most ``BEACON_BODY_MAX`` bytes (413): ``site_key``, ``token`` (the
visitor's) and the ``page_view`` frame's fields, bounded by the same frame
(``protocol_visits.PageView``). Who viewed the page is the token's; a body naming a visitor is
refused (422), a token that is not good is (403), and so is a page whose origin the site does
not allow. Nothing is recorded (204) when the browser sends Do Not Track or Global Privacy
Control, when the site has tracking off, or past the visitor's per-second page views (the same
counter as the socket's); what passes is stored by ``Visits.record``, the socket's path (202).
Beacons are counted per client address (``client_limits``,
``Settings.visit_beacons_per_min``, generous: visitors behind one NAT share it; 429) before
any lookup. Auto-invite rules are the socket's alone: an invitation needs a socket to show in.
"""

from __future__ import annotations

import time

import orjson
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from desk import origins, validate, visit_rules
from desk.auth import verify_visitor_token
from desk.errors import DeskError, Forbidden, InvalidInput, NotFound, TooLarge
from desk.http import client_address, desk_error_response, read_bounded
from desk.limits import SITE_KEY_MAX
from realtime import client_limits, records
from realtime import protocol as p
from realtime import protocol_visits as pv
from realtime.asyncapi import frame_schema
from realtime.context import Context
from realtime.errors import ProtocolError
from realtime.visits import Visits
from routing import keys

BEACON_BODY_MAX = 6144  # two addresses of URL_MAX, a title, a token and a site key
VIEW_FIELDS = ("url", "title", "referrer", "lang")  # a beacon is never a repeat


def _body() -> validate.Body:
    """The beacon's fields for the API description: the page view's are the frame's own
    (``protocol_visits.PageView``, which ``read_view`` parses them with)."""
    view = frame_schema(pv.PageView, with_type=False)["properties"]
    return validate.Body({"site_key": validate.Text(SITE_KEY_MAX),
                          "token": validate.Text(BEACON_BODY_MAX),
                          **{name: validate.Part(view[name]) for name in VIEW_FIELDS}},
                         required=("site_key", "token", "url"))


BEACON = _body()


def untracked(request: Request) -> bool:
    """The browser asks not to be tracked (``DNT: 1`` or ``Sec-GPC: 1``)."""
    return request.headers.get("dnt") == "1" or request.headers.get("sec-gpc") == "1"


def read_view(raw: bytes) -> tuple[str, str, pv.PageView]:
    """(site key, token, page view) from a beacon's body, or ``InvalidInput``."""
    try:
        body = orjson.loads(raw)
    except orjson.JSONDecodeError:
        body = None
    if not isinstance(body, dict):
        raise InvalidInput("the body must be a JSON object")
    site_key, token = BEACON.read(body, "site_key"), BEACON.read(body, "token")
    del body["site_key"], body["token"]
    extra = sorted(set(body) - set(VIEW_FIELDS))
    if extra:
        raise InvalidInput(f"unknown field {extra[0]!r}: who viewed the page is the token's",
                           extra[0])
    try:
        view = p.parse(orjson.dumps({"type": pv.PageView.TYPE, **body}).decode(),
                       BEACON_BODY_MAX)
    except ProtocolError as exc:
        raise InvalidInput(exc.message) from None
    assert isinstance(view, pv.PageView)
    return site_key, token, view


@validate.described(BEACON, status=202)
async def page_view(request: Request) -> Response:
    ctx: Context = request.app.state.context
    origin = origins.normal(request.headers.get("origin") or "")
    try:
        raw = await read_bounded(request, BEACON_BODY_MAX)
        if raw is None:
            raise TooLarge(f"request body larger than {BEACON_BODY_MAX} bytes")
        if untracked(request):
            return _answer(204)
        await client_limits.admit(ctx.hub.redis, keys.visit_beacon_limit(
            client_address(request)), ctx.settings.visit_beacons_per_min, "page views")
        site_key, token, view = read_view(raw)
        return _answer(await _store(ctx, request.app.state.chat.visits, origin, site_key,
                                    token, view))
    except DeskError as exc:
        response = desk_error_response(exc)
        response.headers.update({"Cache-Control": "no-store"})
        return response


async def _store(ctx: Context, visits: Visits, origin: str, site_key: str, token: str,
                 view: pv.PageView) -> int:
    site = await ctx.site(site_key)
    if site is None:
        raise NotFound("unknown site key")
    if not origins.allowed(origin, site.allowed_origins,
                           loopback_aliases=ctx.settings.loopback_aliases):
        raise Forbidden(f"this page's origin ({origin or 'none'}) is not allowed for this site")
    verified = verify_visitor_token(ctx.settings, token)
    login = await records.visitor_login(ctx.sm, verified[0], verified[1], site.id) \
        if verified is not None else None
    if verified is None or login is None:
        raise Forbidden("bad token")
    facts = await visits.site(site.id)
    if facts is None or not visit_rules.tracking_on(facts.config):
        return 204
    stored = await visits.record(site.id, verified[0], view, login, int(time.time() * 1000))
    return 204 if stored is None else 202


def _answer(status: int) -> Response:
    # No CORS headers: a beacon's answer is never read, and nothing here is for the page.
    return Response(status_code=status, headers={"Cache-Control": "no-store"})


def routes() -> list[BaseRoute]:
    return [Route("/api/visitor/page-view", page_view, methods=["POST"])]
