"""Attachments for visitors (the widget on a host page): upload into their own conversation and
download what they may read there.

- ``POST /api/visitor/conversations/{id}/attachments?name=..&client_id=..`` (body: the file)
- ``GET  /api/visitor/attachments/{id}`` (``?preview=1``: inline, for real raster images only)

The visitor token travels in ``Authorization: Bearer`` (never in a URL, where logs and history
would keep it); it must name the conversation's own contact with the contact's current nonce.
An internal note's file is never theirs (``desk.attachments.for_contact``). Cross-origin: the
preflight is answered for any origin (the token is what grants anything); the answer carries
CORS headers only for the conversation's site's allowed origins. New uploads per client address
are counted per minute (``UPLOADS_PER_MIN``); sizes and types are ``desk.attachments``' rules.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from desk import attachments
from desk.api_attachments import upload_params
from desk.api_conversations import message_json
from desk.attachments import Author
from desk.auth import verify_visitor_token
from desk.errors import AuthError, DeskError, Forbidden, InvalidInput, NotFound
from desk.http import JSONResponse, client_address, deps, desk_error_response, path_int
from desk.models import Contact, Conversation, Site
from realtime import client_limits
from realtime.context import Context
from realtime.public_http import cors
from routing import keys

UPLOADS_PER_MIN = 20
PREFLIGHT_HEADERS = "Authorization, Content-Type"


async def _contact(request: Request) -> Contact:
    ctx: Context = request.app.state.context
    header = request.headers.get("authorization", "")
    token = header[7:] if header[:7].lower() == "bearer " else None
    verified = verify_visitor_token(ctx.settings, token)
    async with ctx.sm() as s:
        contact = await s.get(Contact, verified[0]) if verified else None
    if verified is None or contact is None or contact.token_nonce != verified[1]:
        raise AuthError("a valid visitor token is needed (Authorization: Bearer)")
    return contact


async def _origin(request: Request, site_id: int | None) -> str:
    """The request's origin if the conversation's site (or this server) allows it, else ""."""
    ctx: Context = request.app.state.context
    origin = (request.headers.get("origin") or "").rstrip("/").lower()
    if not origin:
        return ""
    allowed = {ctx.settings.public_url.rstrip("/").lower()}
    if site_id is not None:
        async with ctx.sm() as s:
            site = await s.get(Site, site_id)
        allowed |= {o.rstrip("/").lower() for o in (site.allowed_origins if site else [])}
    return origin if origin in allowed else ""


def _preflight(request: Request, methods: str) -> Response:
    origin = request.headers.get("origin", "").rstrip("/")
    headers = cors(origin, methods) if origin else {"Vary": "Origin"}
    headers["Access-Control-Allow-Headers"] = PREFLIGHT_HEADERS
    return Response(status_code=204, headers={"Cache-Control": "no-store", **headers})


async def _admit(ctx: Context, client: str) -> None:
    await client_limits.admit(ctx.hub.redis, keys.upload_limit(client), UPLOADS_PER_MIN,
                              "uploads")


async def visitor_upload(request: Request) -> Response:
    """Upload a file into the visitor's own conversation: it becomes their message."""
    if request.method == "OPTIONS":
        return _preflight(request, "POST")
    ctx: Context = request.app.state.context
    site_id: int | None = None
    try:
        contact = await _contact(request)
        async with ctx.sm() as s:
            conv = await s.get(Conversation, path_int(request, "id"))
        if conv is None:
            raise NotFound("conversation not found")
        site_id = conv.site_id
        if conv.contact_id != contact.id:
            raise Forbidden("not your conversation")
        if conv.status == "closed":
            raise InvalidInput("the conversation is closed")
        name, client_id = upload_params(request)
        await _admit(ctx, client_address(request))
        d = deps(request)
        received = await attachments.receive(
            request.stream(), request.headers.get("content-length"), d.settings.data_dir,
            d.settings.attachment_max_bytes)
        msg, created = await attachments.post_file(
            d.sm, d.settings, received, conversation_id=conv.id, filename=name,
            author=Author("contact", None, contact.name), client_id=client_id)
        if created:
            await d.hooks.message_posted(conv.id, msg.id)
        response: Response = JSONResponse(message_json(msg), status_code=201 if created else 200,
                                          headers={"Cache-Control": "no-store"})
    except DeskError as exc:
        response = desk_error_response(exc)
    response.headers.update(cors(await _origin(request, site_id)))
    return response


async def visitor_download(request: Request) -> Response:
    """A file of the visitor's own conversation, as a download (or a real image's preview)."""
    if request.method == "OPTIONS":
        return _preflight(request, "GET")
    ctx: Context = request.app.state.context
    site_id: int | None = None
    try:
        contact = await _contact(request)
        att = await attachments.for_contact(ctx.sm, contact.id, path_int(request, "id"))
        async with ctx.sm() as s:
            conv = await s.get(Conversation, att.conversation_id)
        site_id = conv.site_id if conv else None
        response = attachments.serve(ctx.settings, att,
                                     preview=request.query_params.get("preview") == "1")
    except DeskError as exc:
        response = desk_error_response(exc)
    response.headers.update(cors(await _origin(request, site_id)))
    response.headers["Access-Control-Expose-Headers"] = "Content-Disposition"
    return response


def file_routes() -> list[BaseRoute]:
    return [
        Route("/api/visitor/conversations/{id:int}/attachments", visitor_upload,
              methods=["POST", "OPTIONS"]),
        Route("/api/visitor/attachments/{id:int}", visitor_download, methods=["GET", "OPTIONS"]),
    ]
