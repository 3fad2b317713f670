"""The customer's case page and its HTTP API (no account, no password).

- ``GET  /c/``, ``/c/signin``, ``/c/new``, ``/c/<number>``   the page (``widget/static/case.html``)
- ``POST /api/portal/signin``          ``{"email"}``: mail a one-time sign-in link (202 whether
                                       or not the address is known: the answer tells nothing)
- ``POST /api/portal/signin/redeem``   ``{"token"}``: spend it (once) for a session token
- ``POST /api/portal/signin/identity`` ``{"site_key", "identity"}``: a session from the host
                                       site's signed identity (``desk.identity.verify``, with a
                                       fresh ``ts``): that contact's own cases only
- ``GET  /api/portal/cases``           the signed-in customer's cases (``desk.portal.cases_of``)
- ``GET  /api/portal/cases/<number>``  one case: public thread, status, assignee's name, when
                                       an answer is due (``expected_response``, from
                                       ``desk.sla_store``), the public commitments
                                       (``desk.commitments``), and a token for the visitor
                                       socket (live updates)
- ``POST /api/portal/cases/<number>/messages``  ``{"text", "client_id"}``: the customer's reply
- ``POST /api/portal/cases/<number>/status``    ``{"status": "closed" | "open"}``
- ``POST /api/portal/cases/<number>/rating``    ``{"rating": 1..5, "comment"}`` once closed

Every case request carries its grant as ``Authorization: Bearer <token>``: the link's token
from a mail (one case) or a signed-in session (the customer's cases). Anything wrong with it
(tampered, expired, revoked, another contact's case) is the same 403 with no data. Replies go
through the one append path (``desk.conversations.append_message``, seq from ``desk.seq``) and
the desk hooks, so the agent's console gets them live, and a reply to a closed case reopens and
routes it as a mailed-in one does. Sign-in mails are budgeted by the mail guard (per address and
per client); every request is also counted per client address (429 with Retry-After).
"""

from __future__ import annotations

import functools
import secrets
import time
from pathlib import Path
from typing import Any

from sqlalchemy import func, select, update
from starlette.requests import Request
from starlette.responses import FileResponse, Response
from starlette.routing import BaseRoute, Route

from desk import attachments, commitments, identity, portal, sla_store, validate
from desk.api_attachments import upload_params
from desk.attachments import Author
from desk.case_links import Kind, verify, verify_session
from desk.catalogues import shipped
from desk.contacts import VisitorClaim, find_visitor, join_visitor
from desk.conversations import Viewer, append_message, messages_after
from desk.errors import Conflict, DeskError, Forbidden, NotFound, RateLimited
from desk.http import (
    JSONResponse,
    client_address,
    deps,
    desk_error_response,
    path_int,
    read_json,
)
from desk.i18n import DEFAULT, LANGUAGES
from desk.kb.rules import accepted_languages, choose_language
from desk.mail_rules import CLOSED_BY_CONTACT, CLOSED_STATUSES
from desk.models import Agent, Contact, Conversation, Message, Site, utcnow
from desk.settings import Settings
from realtime import client_limits
from realtime.context import Context
from realtime.envelopes import ConversationChanged
from routing import keys
from routing.mail_budget import MailRequest, Purpose

STATIC_DIR = Path(__file__).resolve().parent.parent / "widget" / "static"
# The page holds a customer's token: nothing but its own files may run, load or connect.
# (blob: images are the page's own: an attachment preview it fetched with the token.)
PAGE_CSP = ("default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' blob:; "
            "connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'")
COMMENT_MAX = 2000
CASES_MAX = 200
# Per client address and minute: sign-in requests, and every other case-page request.
SIGNIN_PER_MIN = 10
HOST_SIGNIN_PER_MIN = 30  # no mail to budget; HMAC guessing is hopeless anyway
REQUESTS_PER_MIN = 120
UPLOADS_PER_MIN = 20
LINK_REFUSED = ("this link is not valid (expired, replaced or changed); "
                "sign in again to get a fresh one")


def _ctx(request: Request) -> Context:
    ctx: Context = request.app.state.context
    return ctx


async def _admit(request: Request, action: str, limit: int) -> None:
    """Count the request against the client address's minute; 429 + Retry-After past it."""
    await client_limits.admit(_ctx(request).hub.redis,
                              keys.portal_limit(action, client_address(request)), limit,
                              "requests")


def _bearer(request: Request) -> str | None:
    value = request.headers.get("authorization", "")
    scheme, _, token = value.partition(" ")
    return token.strip() if scheme.lower() == "bearer" and token else None


async def _case(request: Request) -> tuple[Conversation, int]:
    """The case of the path that the request's grant opens, and the viewer's contact id."""
    settings = deps(request).settings
    token, now = _bearer(request), time.time()
    grant = verify(settings.secret_key, token, now, Kind.CASE) \
        or verify_session(settings.secret_key, token, now)
    number = request.path_params["number"]
    if grant is None or not isinstance(number, str) or len(number) > 16:
        raise Forbidden(LINK_REFUSED)
    async with deps(request).sm() as s:
        conv = await portal.may_open(s, grant, number)
    if conv is None:
        raise Forbidden(LINK_REFUSED)
    return conv, grant.contact_id


def _message(m: Message) -> dict[str, Any]:
    # The customer's view of a message: no staff ids, no visibility (all of it is public).
    return {"seq": m.seq, "author_kind": m.author_kind, "author_name": m.author_name,
            "text": m.body, "files": m.files or [], "created_at": m.created_at.isoformat()}


def _summary(c: Conversation) -> dict[str, Any]:
    return {"number": c.number, "status": c.status, "channel": c.channel,
            "subject": c.subject, "topic": c.topic, "created_at": c.created_at.isoformat(),
            "updated_at": c.updated_at.isoformat(), "closed": c.status in CLOSED_STATUSES}


async def _answer(request: Request, c: Conversation, contact_id: int) -> Response:
    d = deps(request)
    # The case's own contact reads what a contact may (desk.visibility): public messages only.
    msgs = await messages_after(d.sm, c.id, 0, Viewer("contact", c.contact_id or 0),
                                limit=5000)
    async with d.sm() as s:
        agent = await s.get(Agent, c.assignee_id) if c.assignee_id else None
        owner = await s.get(Contact, c.contact_id) if c.contact_id else None
        # In the page's language: the browser's, as js/i18n.js asks the catalogue for it.
        expected = await sla_store.expected_response(s, c.id, utcnow(), shipped().translator(
            choose_language(accepted_languages(request.headers.get("accept-language")),
                            LANGUAGES, DEFAULT)))
        promised = await commitments.public_of(s, c.id)
    socket = portal.issue(d.settings, Kind.SOCKET, owner, 3600, time.time(),
                          number=c.number) if owner is not None else None
    return JSONResponse({
        **_summary(c), "conversation_id": c.id, "last_seq": c.last_seq,
        "assignee_name": agent.display_name if agent else None,
        "expected_response": expected,
        "commitments": promised,
        "messages": [_message(m) for m in msgs],
        # Only the case's own contact sees what they rated; an organisation member does not.
        "rating": c.rating if contact_id == c.contact_id else None,
        "rating_comment": c.rating_comment if contact_id == c.contact_id else None,
        "socket_token": socket,
        "attachments": attachments.public_limits(d.settings),
    }, headers={"Cache-Control": "no-store"})


async def _guarded(request: Request, handler: Any) -> Response:
    try:
        await _admit(request, "request", REQUESTS_PER_MIN)
        response: Response = await handler(request)
    except DeskError as exc:
        return desk_error_response(exc)
    return response


def _endpoint(handler: Any) -> Any:
    @functools.wraps(handler)  # its name, summary and described body (desk.validate)
    async def endpoint(request: Request) -> Response:
        return await _guarded(request, handler)

    return endpoint


async def get_case(request: Request) -> Response:
    conv, contact_id = await _case(request)
    return await _answer(request, conv, contact_id)


async def list_cases(request: Request) -> Response:
    d = deps(request)
    grant = verify_session(d.settings.secret_key, _bearer(request), time.time())
    async with d.sm() as s:
        who = await portal.customer(s, grant) if grant is not None else None
        if who is None:
            raise Forbidden(LINK_REFUSED)
        rows = (await s.execute(select(Conversation).where(portal.cases_of(who))
                                .order_by(Conversation.updated_at.desc()).limit(CASES_MAX))
                ).scalars().all()
    return JSONResponse({"name": who.contact.name, "email": who.email or who.contact.email,
                         "organisation": who.organisation.name if who.organisation else None,
                         "cases": [_summary(c) for c in rows]},
                        headers={"Cache-Control": "no-store"})


def _reopenable(conv: Conversation) -> None:
    """A closed case reopens on the customer's word; an ended chat does not (its visitor's
    widget is gone: a new question is a new chat or case)."""
    if conv.channel == "chat" and conv.status in CLOSED_STATUSES:
        raise Conflict("this chat has ended; start a new chat or open a case to write again")


# The bodies of the customer's writes (the API description is generated from them).
MESSAGE = validate.Body({"text": validate.Text(Settings().max_message_chars),
                         "client_id": validate.Text(64, nullable=True)}, required=("text",))
STATUS = validate.Body({"status": validate.Choice(("closed", "open"))}, required=("status",))
RATING = validate.Body({"rating": validate.Integer(1, 5),
                        "comment": validate.Text(COMMENT_MAX, min_len=0, nullable=True)},
                       required=("rating",))
SIGNIN = validate.Body({"email": validate.Email()}, required=("email",))
REDEEM = validate.Body({"token": validate.Text(600)}, required=("token",))
HOST_SIGNIN = validate.Body({
    "site_key": validate.Text(64),
    "identity": validate.Custom(lambda d, k: d.get(k), {
        "type": "object", "required": ["user_id", "hmac", "ts"], "properties": {
            "user_id": {"type": "string", "minLength": 1, "maxLength": 128},
            "email": {"type": "string"}, "name": {"type": "string"},
            "ts": {"type": "integer"},
            "hmac": {"type": "string", "pattern": "^[0-9a-fA-F]{64}$"}}})},
    required=("site_key", "identity"))


@validate.described(MESSAGE, status=201)
async def post_message(request: Request) -> Response:
    """A customer's message on their case."""
    conv, contact_id = await _case(request)
    d = deps(request)
    data = await read_json(request)
    # The bound is the setting's (its default is what the description states).
    text = validate.required_text(data, "text", max_len=d.settings.max_message_chars)
    client_id = MESSAGE.read(data, "client_id")
    _reopenable(conv)
    async with d.sm() as s:
        author = await s.get(Contact, contact_id)
    msg, created = await append_message(
        d.sm, conv.id, author_kind="contact", body=text, client_id=client_id,
        author_name=(author.name if author else None) or "Customer")
    if created:
        await d.hooks.message_posted(conv.id, msg.id)
        await _reopen(request, conv.id, wrote=True)
    return JSONResponse(_message(msg), status_code=201 if created else 200)


async def post_file(request: Request) -> Response:
    """The customer's file into the case (``desk.attachments``: the body is the file, bounded
    while it streams, typed by content); a closed case reopens, as with a reply."""
    conv, contact_id = await _case(request)
    d = deps(request)
    name, client_id = upload_params(request)
    _reopenable(conv)
    await _admit(request, "upload", UPLOADS_PER_MIN)
    received = await attachments.receive(request.stream(), request.headers.get("content-length"),
                                         d.settings.data_dir, d.settings.attachment_max_bytes)
    async with d.sm() as s:
        author = await s.get(Contact, contact_id)
    msg, created = await attachments.post_file(
        d.sm, d.settings, received, conversation_id=conv.id, filename=name, client_id=client_id,
        author=Author("contact", None, (author.name if author else None) or "Customer"))
    if created:
        await d.hooks.message_posted(conv.id, msg.id)
        await _reopen(request, conv.id, wrote=True)
    return JSONResponse(_message(msg), status_code=201 if created else 200)


async def get_file(request: Request) -> Response:
    """A file of the case the grant opens, as its own contact may read it (never an internal
    note's); ``?preview=1`` inline for real raster images only."""
    conv, _ = await _case(request)
    d = deps(request)
    att = await attachments.for_contact(d.sm, conv.contact_id or 0, path_int(request, "id"))
    if att.conversation_id != conv.id:
        raise Forbidden(LINK_REFUSED)
    return attachments.serve(d.settings, att, preview=request.query_params.get("preview") == "1")


async def _reopen(request: Request, cid: int, *, wrote: bool) -> None:
    """Back to its group's queue (``desk.portal.reopen``: as a mailed-in reply does)."""
    if await portal.reopen(deps(request).sm, cid, utcnow(), wrote=wrote):
        _ctx(request).hub.publish(ConversationChanged(cid))
        await request.app.state.chat.route(cid)


@validate.described(STATUS)
async def set_status(request: Request) -> Response:
    """Close or reopen the case."""
    conv, _ = await _case(request)
    wanted = STATUS.read(await read_json(request), "status")
    ctx = _ctx(request)
    if wanted == "open":
        _reopenable(conv)
        await _reopen(request, conv.id, wrote=False)
    elif conv.status not in CLOSED_STATUSES:
        async with ctx.sm() as s:
            await s.execute(update(Conversation).where(Conversation.id == conv.id)
                            .values(closed_by=CLOSED_BY_CONTACT))
            await s.commit()
        await request.app.state.chat.close_case(conv.id)
    async with ctx.sm() as s:
        row = await s.get(Conversation, conv.id)
    assert row is not None
    return JSONResponse(_summary(row))


@validate.described(RATING)
async def rate(request: Request) -> Response:
    """Rate a closed case (once)."""
    conv, contact_id = await _case(request)
    if contact_id != conv.contact_id:
        raise Forbidden("only the customer who opened the case rates it")
    if conv.status not in CLOSED_STATUSES:
        raise Conflict("a case is rated once it is closed")
    data = await read_json(request)
    rating = RATING.read(data, "rating")
    comment = RATING.read(data, "comment")
    async with deps(request).sm() as s:
        await s.execute(update(Conversation).where(Conversation.id == conv.id)
                        .values(rating=rating, rating_comment=comment or None))
        await s.commit()
    return JSONResponse({"number": conv.number, "rating": rating, "rating_comment": comment})


@validate.described(SIGNIN, status=202)
async def request_signin(request: Request) -> Response:
    """Mail a one-time sign-in link to the address, if a customer has it. Refused (429) past
    the client's minute or the mail guard's budget for the address or the client; the budget
    is charged for unknown addresses too, so the answers never tell which are known."""
    await _admit(request, "signin", SIGNIN_PER_MIN)
    email = SIGNIN.read(await read_json(request), "email")
    ctx = _ctx(request)
    verdict = await ctx.mail_guard.admit(
        MailRequest(Purpose.SIGNIN, email, client_address(request)))
    if not verdict.allowed:
        raise RateLimited(verdict.message, verdict.retry_after_s)
    async with ctx.sm() as s:
        contact_id = (await s.execute(
            select(Contact.id).where(func.lower(Contact.email) == email,
                                     Contact.undeliverable.is_(False))
            .order_by(Contact.id.desc()).limit(1))).scalar_one_or_none()
    if contact_id is not None:
        await ctx.mailer.signin(contact_id, secrets.token_hex(8))
    return JSONResponse({"sent": True, "message": (
        "If we know this address, a sign-in link is on its way; it works once.")},
        status_code=202)


@validate.described(REDEEM)
async def redeem_signin(request: Request) -> Response:
    """Spend a one-time sign-in token (once: the first redemption wins) for a session."""
    d = deps(request)
    token = REDEEM.read(await read_json(request), "token")
    now = time.time()
    grant = verify(d.settings.secret_key, token, now, Kind.SIGNIN)
    async with d.sm() as s:
        who = await portal.customer(s, grant) if grant is not None else None
    if grant is None or who is None:
        raise Forbidden(LINK_REFUSED)
    spent = await _ctx(request).hub.redis.set(
        keys.signin_spent(grant.jti), "1", nx=True,
        ex=max(1, grant.expires_at - int(now)) + 60)
    if not spent:
        raise Forbidden("this sign-in link was used already; ask for a new one")
    session = portal.issue(d.settings, Kind.ALL, who.contact, d.settings.portal_session_ttl_s,
                           now)
    return JSONResponse({"token": session}, headers={"Cache-Control": "no-store"})


@validate.described(HOST_SIGNIN)
async def host_signin(request: Request) -> Response:
    """A session for the customer the host site signed in: the site's signed identity, signed
    within ``identity.SIGNIN_MAX_AGE_S`` (the one check, ``desk.identity.verify``), opens the
    cases of the contact that identity joins (as the widget joins it) and no other."""
    await _admit(request, "host-signin", HOST_SIGNIN_PER_MIN)
    d = deps(request)
    data = await read_json(request)
    key = HOST_SIGNIN.read(data, "site_key")
    HOST_SIGNIN.read(data, "identity")
    async with d.sm() as s:
        site = (await s.execute(select(Site).where(Site.key == key))).scalar_one_or_none()
    if site is None:
        raise NotFound("no site has this key")
    if not site.identity_secret:
        raise Forbidden("this site does not sign its users' identities; sign in by email")
    now = time.time()
    who = identity.verify(site.identity_secret, data["identity"],
                          max_age_s=identity.SIGNIN_MAX_AGE_S, now=now)
    assert who is not None  # a site with a secret verifies or refuses
    claim = VisitorClaim(site.id, who)
    contact, _ = await join_visitor(d.sm, claim, await find_visitor(d.sm, claim))
    session = portal.issue(d.settings, Kind.HOST, contact, d.settings.portal_session_ttl_s, now)
    return JSONResponse({"token": session}, headers={"Cache-Control": "no-store"})


async def page(_: Request) -> Response:
    # One static page for every view of the customer's side: it reads its path and token.
    return FileResponse(STATIC_DIR / "case.html", headers={
        "Cache-Control": "no-store", "Content-Security-Policy": PAGE_CSP})


def portal_routes() -> list[BaseRoute]:
    return [
        Route("/c/", page, methods=["GET"]),
        Route("/c/{number}", page, methods=["GET"]),
        Route("/api/portal/signin", _endpoint(request_signin), methods=["POST"]),
        Route("/api/portal/signin/redeem", _endpoint(redeem_signin), methods=["POST"]),
        Route("/api/portal/signin/identity", _endpoint(host_signin), methods=["POST"]),
        Route("/api/portal/cases", _endpoint(list_cases), methods=["GET"]),
        Route("/api/portal/cases/{number}", _endpoint(get_case), methods=["GET"]),
        Route("/api/portal/cases/{number}/messages", _endpoint(post_message),
              methods=["POST"]),
        Route("/api/portal/cases/{number}/attachments", _endpoint(post_file), methods=["POST"]),
        Route("/api/portal/cases/{number}/attachments/{id:int}", _endpoint(get_file),
              methods=["GET"]),
        Route("/api/portal/cases/{number}/status", _endpoint(set_status), methods=["POST"]),
        Route("/api/portal/cases/{number}/rating", _endpoint(rate), methods=["POST"]),
    ]
