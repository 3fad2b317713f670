"""Attachments over HTTP for staff: upload into a conversation (chat or ticket), download,
preview, and the limits a client checks before uploading.

``POST /api/conversations/{id}/attachments?name=<file name>&visibility=public|internal
&client_id=<id>``: the body is the file itself (any Content-Type; the content decides what it
is), streamed with a byte bound (``desk.attachments.receive``). The answer is the message the
file became; the live layers deliver it and, on a mailed channel, mail it with the file
(``hooks.message_posted``).
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from desk import attachments
from desk.api_conversations import load_conversation, posted
from desk.attachments import Author
from desk.errors import InvalidInput
from desk.http import JSONResponse, api, current_principal, deps, path_int

NAME_PARAM_MAX = 1024  # the raw name; the display name is cut to FILENAME_MAX


def upload_params(request: Request) -> tuple[str | None, str | None]:
    """``name`` and ``client_id`` from the query string, bounded."""
    name = request.query_params.get("name")
    client_id = request.query_params.get("client_id") or None
    if name is not None and len(name) > NAME_PARAM_MAX:
        raise InvalidInput(f"name must be at most {NAME_PARAM_MAX} characters")
    if client_id is not None and len(client_id) > 64:
        raise InvalidInput("client_id must be at most 64 characters")
    return name, client_id


@api
async def upload_attachment(request: Request) -> Response:
    """Upload a file into a conversation: it becomes a message (public, or an internal note)."""
    p, c = await load_conversation(request)
    d = deps(request)
    visibility = request.query_params.get("visibility", "public")
    if visibility not in ("public", "internal"):
        raise InvalidInput("visibility must be public or internal")
    if c.status == "closed" and visibility == "public":
        raise InvalidInput("the conversation is closed")
    name, client_id = upload_params(request)
    received = await attachments.receive(request.stream(), request.headers.get("content-length"),
                                         d.settings.data_dir, d.settings.attachment_max_bytes)
    msg, created = await attachments.post_file(
        d.sm, d.settings, received, conversation_id=c.id, visibility=visibility,
        author=Author("supervisor" if p.is_supervisor else "agent", p.agent_id, p.display_name),
        filename=name, client_id=client_id)
    return await posted(d, c, msg, created)


@api
async def download_attachment(request: Request) -> Response:
    """Download an attachment: always as a file under its cleaned name, never rendered inline."""
    p = await current_principal(request)
    d = deps(request)
    att = await attachments.for_staff(d.sm, p, path_int(request, "id"))
    return attachments.serve(d.settings, att)


@api
async def preview_attachment(request: Request) -> Response:
    """An image attachment inline, only when its content is PNG, JPEG, GIF or WebP."""
    p = await current_principal(request)
    d = deps(request)
    att = await attachments.for_staff(d.sm, p, path_int(request, "id"))
    return attachments.serve(d.settings, att, preview=True)


@api
async def attachment_limits(request: Request) -> Response:
    """The attachment limits and accepted types."""
    await current_principal(request)
    return JSONResponse(attachments.public_limits(deps(request).settings))


routes = [
    Route("/api/attachments/limits", attachment_limits, methods=["GET"]),
    Route("/api/attachments/{id:int}", download_attachment, methods=["GET"]),
    Route("/api/attachments/{id:int}/preview", preview_attachment, methods=["GET"]),
    Route("/api/conversations/{id:int}/attachments", upload_attachment, methods=["POST"]),
]
