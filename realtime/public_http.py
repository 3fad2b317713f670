"""Public (unauthenticated) HTTP endpoints the embeddable widget calls from a host page.

- ``POST /api/visitor/session``              a visitor token for a site (a new contact, or the
                                             token given back if it is still good)
- ``GET  /api/public/sites/{key}``           the site's pre-chat form and which of its departments
                                             have someone online to take a chat now
- ``POST /api/public/sites/{key}/messages``  "leave a message": files an email-channel ticket
                                             (answers its number and, under a service level,
                                             when an answer is due: ``expected_response``)
- ``GET  /api/public/i18n?lang=de-CH,fr``    the message catalogue of the first shipped language
                                             wanted (``desk.i18n``), for the widget and case page

Both answer cross-origin requests only for the site's allowed origins (CORS echo, never ``*``),
validate every field against the site's own form (unknown topics, missing required answers and
oversize values are 422s). The POST files a ticket and mails its acknowledgement to the address
typed in the form, so it goes through the mail guard first (``routing.mail_guard``: per client
and per recipient address): past the budget the answer is 429 and nothing is stored.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Awaitable, Callable
from typing import Any

import orjson
from sqlalchemy import select
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from desk import identity, origins, sla_store, validate, visit_rules
from desk import site_config as shape
from desk.attachments import public_limits
from desk.auth import issue_visitor_token, verify_visitor_token
from desk.catalogues import shipped
from desk.contacts import (
    VisitorClaim,
    find_visitor,
    is_verified,
    join_visitor,
    note_typed,
    priority_for,
    reply_address,
)
from desk.conversations import append_message, create_conversation
from desk.db import SessionMaker
from desk.errors import DeskError, InvalidInput, NotFound, RateLimited
from desk.http import (
    JSONResponse,
    client_address,
    desk_error_response,
    read_bounded,
    read_json,
)
from desk.i18n import DEFAULT, LANGUAGES
from desk.kb import reading as kb_reading
from desk.kb.rules import accepted_languages, choose_language
from desk.limits import is_id, is_site_key
from desk.models import Agent, AgentGroup, Department, Site, utcnow
from desk.settings import Settings
from desk.site_form import Use, check_form, public_form
from realtime import client_limits, records
from realtime.context import Context
from realtime.errors import CommandError
from routing import keys
from routing.mail_budget import MailRequest, Purpose
from routing.mail_guard import MailGuard
from routing.router import Router

log = logging.getLogger("switchboard.widget")

SUBJECT_MAX = 120
SESSION_BODY_MAX = 4096  # a site key and a token
VISITOR_SESSIONS_PER_MIN = 30


# --- I/O ------------------------------------------------------------------------------------


PREFLIGHT = {"Access-Control-Allow-Headers": "Content-Type", "Access-Control-Max-Age": "600"}


def cors(origin: str, methods: str | None = None) -> dict[str, str]:
    """CORS headers echoing ``origin``, one the caller has let in ("": none); ``methods`` for
    a preflight's answer."""
    headers = {"Vary": "Origin"}
    if origin:
        headers["Access-Control-Allow-Origin"] = origin
    if methods:
        headers.update({"Access-Control-Allow-Methods": methods, **PREFLIGHT})
    return headers


def _site_origin(request: Request, site: Site | None, settings: Settings) -> str:
    """The request's origin if the site (or this server's own pages) allows it, else ""."""
    origin = origins.normal(request.headers.get("origin") or "")
    listed = [*(site.allowed_origins if site else []), settings.public_url]
    return origin if origins.allowed(origin, listed,
                                     loopback_aliases=settings.loopback_aliases) else ""


Handler = Callable[[Request, Site], Awaitable[Response]]


def _public(handler: Handler) -> Callable[[Request], Awaitable[Response]]:
    """Look the site up by key, answer preflights, map errors, add CORS headers to everything."""

    @functools.wraps(handler)  # its name, summary and described body (desk.validate)
    async def endpoint(request: Request) -> Response:
        state = request.app.state
        site: Site | None = None
        try:
            key = request.path_params["key"]
            async with state.sm() as s:
                site = (await s.execute(select(Site).where(Site.key == key))
                        ).scalar_one_or_none() if is_site_key(key) else None
            if site is None:
                raise NotFound("unknown site key")
            if request.method == "OPTIONS":
                response: Response = Response(status_code=204, headers=cors("", "GET, POST"))
            else:
                response = await handler(request, site)
        except DeskError as exc:
            response = desk_error_response(exc)
        response.headers.update(cors(_site_origin(request, site, state.settings)))
        return response

    return endpoint


async def online_departments(sm: SessionMaker, router: Router, dept_ids: list[Any]) -> list[int]:
    """The departments whose entry group has an agent online and active in it right now.

    The router's live state decides, as it does for offers: a heartbeat (a console open) and
    the group switched on (an away agent has every group off).
    """
    async with sm() as s:
        groups: dict[int, int] = {}
        for dept_id in dept_ids:
            dept = await s.get(Department, dept_id) if is_id(dept_id) else None
            group_id = await records.entry_group(s, dept) if dept is not None else None
            if group_id is not None:
                groups[dept_id] = group_id
        members = (await s.execute(
            select(AgentGroup.agent_id, AgentGroup.group_id)
            .join(Agent, Agent.id == AgentGroup.agent_id)
            .where(AgentGroup.group_id.in_(sorted(set(groups.values()))),
                   Agent.is_active.is_(True))
        )).all()
    served: set[int] = set()
    for agent_id in dict.fromkeys(a for a, _ in members):
        if await router.is_online(agent_id):
            mine = {g for a, g in members if a == agent_id}
            served |= mine & await router.active_groups(agent_id)
    return [d for d, g in groups.items() if g in served]


async def site_config(request: Request, site: Site) -> Response:
    config = site.config or {}
    online = await online_departments(request.app.state.sm, _router(request),
                                      shape.department_ids(config))
    return JSONResponse({**public_form(config), "online": bool(online),
                         "tracking": visit_rules.tracking_on(config),
                         "online_departments": online,
                         "attachments": public_limits(request.app.state.settings)},
                        headers={"Cache-Control": "no-store"})


async def _admit_acknowledgement(request: Request, email: str) -> None:
    """The ticket's acknowledgement goes to an address the visitor typed: the mail guard
    decides before anything is written, so a flood is refused whole (429), never mailed."""
    guard: MailGuard = request.app.state.context.mail_guard
    verdict = await guard.admit(MailRequest(Purpose.ACKNOWLEDGEMENT, email,
                                            client_address(request)))
    if not verdict.allowed:
        raise RateLimited(verdict.message, verdict.retry_after_s)


def _as_given(data: dict[str, Any], key: str) -> Any:
    return data.get(key)  # checked where it is used (visitor_claim, desk.site_form)


# Who a widget request says it is (``visitor_claim`` checks each part).
CLAIM = {
    "token": validate.Custom(_as_given, {"type": "string", "maxLength": 4096}, nullable=True),
    "visitor_id": validate.Custom(_as_given, {"type": "string", "maxLength": 64},
                                  nullable=True),
    "identity": validate.Custom(_as_given, {"type": "object", "properties": {
        "user_id": {"type": "string"}, "email": {"type": "string"},
        "name": {"type": "string"}, "hmac": {"type": "string"}}}, nullable=True),
}
SESSION = validate.Body({"site_key": validate.Text(64), **CLAIM}, required=("site_key",))
# The site's form decides which of the form fields are required (desk.site_form.check_form).
LEAVE_MESSAGE = validate.Body({
    "name": validate.Custom(_as_given, {"type": "string", "maxLength": 120}, nullable=True),
    "email": validate.Custom(_as_given, {"type": "string", "format": "email"}),
    "text": validate.Custom(_as_given, {"type": "string", "maxLength": 10_000}),
    "department_id": validate.RecordId(nullable=True),
    "topic": validate.Custom(_as_given, {"type": "string", "maxLength": 120}, nullable=True),
    "answers": validate.Custom(_as_given, {"type": "object"}, nullable=True),
    "channel": validate.Choice(("email", "portal")),
    "client_id": validate.Text(64, nullable=True),
    "kb_session": validate.Custom(_as_given, {"type": "string", "maxLength": 64},
                                  nullable=True), **CLAIM}, required=("email",))


@validate.described(LEAVE_MESSAGE, status=201)
async def leave_message(request: Request, site: Site) -> Response:
    """File the visitor's message as an email-channel ticket in the department's front group.

    The ticket joins the contact ``desk.contacts`` says the request's claim joins (the
    widget sends its token, visitor id and the host's identity), so the same browser or
    the same verified user comes back as the same contact. The acknowledgement goes to the
    contact's verified address if it has one, else to the typed one. ``kb_session``: the
    help-centre reading session that came before it (``desk.kb.reading.went_on``)."""
    state = request.app.state
    data = await read_json(request)
    form = check_form(site.config or {}, data, Use.MESSAGE)
    # The web new-case page files a "portal" case; the widget's leave-a-message an email one.
    channel = LEAVE_MESSAGE.read(data, "channel") or "email"
    client_id = LEAVE_MESSAGE.read(data, "client_id")
    # The help articles this visitor opened before filing it (widget-kb.js): not deflected.
    kb_session = kb_reading.session_id(data["kb_session"]) \
        if isinstance(data.get("kb_session"), str) else None
    claim = visitor_claim(state.settings, site.id, site.identity_secret, data)
    assert form.email is not None  # Use.MESSAGE requires it
    found = await find_visitor(state.sm, claim)
    await _admit_acknowledgement(request, reply_address(claim, found, form.email))
    async with state.sm() as s:
        try:
            dept_id, group_id = await records.front_group(
                s, form.department_id, shape.department_ids(site.config or {}))
        except CommandError as exc:
            raise InvalidInput(exc.message, "department_id") from None
    contact, visitor_id = await join_visitor(state.sm, claim, found)
    await note_typed(state.sm, contact.id, name=form.name, email=form.email,
                     language=form.language)
    first_line = form.text.splitlines()[0] if form.text.strip() else ""
    conv = await create_conversation(
        state.sm, channel=channel, contact_id=contact.id, department_id=dept_id,
        group_id=group_id, site_id=site.id, subject=(form.topic or first_line)[:SUBJECT_MAX],
        topic=form.topic, priority=await priority_for(state.sm, contact.id),
        required_skills=form.skills, custom_fields=form.answers, language=form.language,
    )
    await append_message(state.sm, conv.id, author_kind="contact", body=form.text,
                         author_name=form.name, client_id=client_id)
    if kb_session is not None:
        async with state.sm() as s:
            await kb_reading.went_on(s, site.id, kb_session, conv.id)
            await s.commit()
    # Stored as queued: not routed now (Redis away), it is when Redis is back.
    await request.app.state.chat.route(conv.id)
    await state.context.mailer.created(conv.id)
    async with state.sm() as s:
        expected = await sla_store.expected_response(
            s, conv.id, utcnow(), shipped().translator(form.language))
    answer: dict[str, Any] = {"number": conv.number, "notice": shape.notice(site.config or {}),
                              "expected_response": expected}
    if visitor_id is not None:
        answer["visitor_id"] = visitor_id
    return JSONResponse(answer, status_code=201)


def _router(request: Request) -> Router:
    router: Router = request.app.state.router  # the web process's one (realtime.runtime)
    return router


def _session_answer(content: Any, status: int, origin: str) -> Response:
    return JSONResponse(content, status_code=status,
                        headers={"Cache-Control": "no-store", **cors(origin)})


def visitor_claim(settings: Settings, site_id: int, secret: str | None,
                  body: dict[str, Any]) -> VisitorClaim:
    """Who a widget request says it is, each part checked (``desk.contacts`` decides which
    contact that is): ``identity`` {user_id, email, name, hmac} signed by the site, ``token``
    (a previous visitor token), ``visitor_id`` (the id this server gave the browser)."""
    token = body.get("token")
    if token is not None and not isinstance(token, str):
        raise InvalidInput("token must be a string", "token")
    return VisitorClaim(site_id, identity.verify(secret, body.get("identity")),
                        verify_visitor_token(settings, token),
                        identity.visitor_key(body.get("visitor_id")))


def _session_body(raw: bytes) -> dict[str, Any]:
    try:
        body = orjson.loads(raw)
    except orjson.JSONDecodeError:
        body = None
    if not isinstance(body, dict) or not isinstance(body.get("site_key"), str):
        raise InvalidInput("site_key needed", "site_key")
    return body


@validate.described(SESSION)
async def visitor_session(request: Request) -> Response:
    """Open (or keep) a visitor session for a site: returns the signed visitor token.

    Body ``{"site_key", "token"?, "visitor_id"?, "identity"?}`` (``visitor_claim``), at most
    ``SESSION_BODY_MAX`` bytes (413). The contact is the one ``desk.contacts`` says the claim
    joins; the answer is ``{"token", "verified"}`` plus ``"visitor_id"`` when the browser gets
    a new one to keep. Cross-origin from the host page: the site key is in the body, so a
    preflight is answered for any origin; only the site's allowed origins get CORS headers on
    the answer (and a session). Redis away: 503, with CORS so the widget reads it.
    """
    ctx: Context = request.app.state.context
    origin = request.headers.get("origin", "").rstrip("/")
    if request.method == "OPTIONS":
        return Response(status_code=204, headers={"Cache-Control": "no-store",
                                                  **cors(origin, "POST" if origin else None)})
    raw = await read_bounded(request, SESSION_BODY_MAX)
    if raw is None:
        return _session_answer({"error": {"code": "too_large", "message": (
            f"request body larger than {SESSION_BODY_MAX} bytes")}}, 413, origin)
    try:
        body = _session_body(raw)
    except InvalidInput as exc:
        return _session_answer({"error": {"code": "invalid", "message": exc.message}},
                               422, origin)
    site = await ctx.site(body["site_key"])
    if site is None or not origins.allowed(origin, site.allowed_origins,
                                           loopback_aliases=ctx.settings.loopback_aliases):
        return _session_answer({"error": {"code": "forbidden", "message": (
            f"this page's origin ({origin or 'none'}) is not allowed for this site")}}, 403, "")
    try:
        claim = visitor_claim(ctx.settings, site.id, site.identity_secret, body)
        found = await find_visitor(ctx.sm, claim)
        if found is None:
            await _admit_session(ctx, request.client.host if request.client else "-")
        contact, visitor_id = await join_visitor(ctx.sm, claim, found)
    except DeskError as exc:
        response = desk_error_response(exc)
        response.headers.update(cors(origin))
        return response
    answer: dict[str, Any] = {
        "token": issue_visitor_token(ctx.settings, contact.id, contact.token_nonce),
        "verified": is_verified(contact)}
    if visitor_id is not None:
        answer["visitor_id"] = visitor_id
    return _session_answer(answer, 200, origin)


async def _admit_session(ctx: Context, client: str) -> None:
    """A new visitor contact per client address, within ``VISITOR_SESSIONS_PER_MIN``; past
    it ``RateLimited`` until the address's minute is over."""
    await client_limits.admit(ctx.hub.redis, keys.visitor_session_limit(client),
                              VISITOR_SESSIONS_PER_MIN, "new visitor sessions")


async def origin_check(request: Request) -> Response:
    """Why the console's socket is refused, for the page to say so: ``?origin=`` the page's
    own (a refused upgrade reaches the browser as a bare failure, without a reason)."""
    settings: Settings = request.app.state.context.settings
    origin = origins.normal(request.query_params.get("origin", ""))[:300]
    ok = origins.allowed(origin, settings.allowed_console_origins,
                         loopback_aliases=settings.loopback_aliases)
    return JSONResponse({"origin": origin, "console": ok, "message": None if ok else
                         origins.console_refusal(origin, settings.allowed_console_origins)},
                        headers={"Cache-Control": "no-store"})


async def catalogue(request: Request) -> Response:
    """The same messages the server's mails and pages use (``desk/locale/*.po``), as JSON.
    The same for every caller and never personal, so any origin may read it (``*``, no
    credentials) and caches may keep it; the ETag is the content's."""
    books = shipped()
    lang = choose_language(accepted_languages(request.query_params.get("lang")), LANGUAGES,
                           DEFAULT)
    etag = books.etag(lang)
    headers = {"Cache-Control": "public, max-age=3600", "ETag": etag,
               "Access-Control-Allow-Origin": "*"}
    if etag in request.headers.get("if-none-match", ""):
        return Response(status_code=304, headers=headers)
    return Response(books.document(lang), media_type="application/json", headers=headers)


def public_routes() -> list[BaseRoute]:
    return [
        Route("/api/public/i18n", catalogue, methods=["GET"]),
        Route("/api/public/origin-check", origin_check, methods=["GET"]),
        Route("/api/visitor/session", visitor_session, methods=["POST", "OPTIONS"]),
        Route("/api/public/sites/{key}", _public(site_config), methods=["GET", "OPTIONS"]),
        Route("/api/public/sites/{key}/messages", _public(leave_message),
              methods=["POST", "OPTIONS"]),
    ]
