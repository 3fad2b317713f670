"""Admin API for department mailboxes: list, create, read, update (disable: ``enabled``
false), delete. Admins only. The password is accepted on create and update and never returned;
a running poller picks every change up by itself (``ingest.poller.serve``). ``test`` logs in
with the stored settings and reports the folder's message count or the exact failure: the IMAP
client lives in ingest, which desk never imports, so it is called by name (desk.entry_points)."""

from __future__ import annotations

import asyncio

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from desk import entry_points, validate
from desk.errors import NotFound
from desk.http import JSONResponse, api, deps, path_int, read_json, require_admin
from desk.mailboxes import MAILBOX, MAILBOX_UPDATE, apply_mailbox, mailbox_json
from desk.models import AuditEvent, Mailbox


async def _get(request: Request, s: AsyncSession) -> Mailbox:
    box = await s.get(Mailbox, path_int(request, "id"))
    if box is None:
        raise NotFound("mailbox not found")
    return box


@api
async def list_mailboxes(request: Request) -> Response:
    """Every mailbox with its cursor and last error (never its password)."""
    await require_admin(request)
    async with deps(request).sm() as s:
        rows = (await s.execute(select(Mailbox).order_by(Mailbox.id))).scalars()
        return JSONResponse([mailbox_json(m) for m in rows])


@validate.described(MAILBOX, status=201)
@api
async def create_mailbox(request: Request) -> Response:
    """Add a department mailbox (host, port, security, username, password, folder...)."""
    p = await require_admin(request)
    data = await read_json(request)
    async with deps(request).sm() as s:
        box = Mailbox()
        await apply_mailbox(s, box, data, partial=False)
        s.add(box)
        await s.flush()
        s.add(AuditEvent(actor_id=p.agent_id, action="mailbox.created",
                         target=f"mailbox:{box.id}"))
        await s.commit()
        return JSONResponse(mailbox_json(box), status_code=201)


@api
async def get_mailbox(request: Request) -> Response:
    await require_admin(request)
    async with deps(request).sm() as s:
        return JSONResponse(mailbox_json(await _get(request, s)))


@validate.described(MAILBOX_UPDATE)
@api
async def update_mailbox(request: Request) -> Response:
    """Change settings; ``enabled: false`` disables it. The poller restarts its task."""
    p = await require_admin(request)
    data = await read_json(request)
    async with deps(request).sm() as s:
        box = await _get(request, s)
        changed = await apply_mailbox(s, box, data, partial=True)
        s.add(AuditEvent(actor_id=p.agent_id, action="mailbox.updated",
                         target=f"mailbox:{box.id}", data={"fields": changed}))
        await s.commit()
        return JSONResponse(mailbox_json(box))


@api
async def delete_mailbox(request: Request) -> Response:
    """Delete a mailbox and its import records (the tickets stay)."""
    p = await require_admin(request)
    async with deps(request).sm() as s:
        box = await _get(request, s)
        await s.execute(delete(Mailbox).where(Mailbox.id == box.id))
        s.add(AuditEvent(actor_id=p.agent_id, action="mailbox.deleted",
                         target=f"mailbox:{box.id}"))
        await s.commit()
    return JSONResponse({"ok": True})


@api
async def test_mailbox(request: Request) -> Response:
    """Log in, select the folder: ``{"ok": true, "message": "... 3 messages"}`` or ``ok``
    false with the server's answer. Bounded by the IMAP timeout of the settings."""
    await require_admin(request)
    d = deps(request)
    async with d.sm() as s:
        box = await _get(request, s)
    ok, message = await asyncio.to_thread(entry_points.check_mailbox, d.settings, box.id)
    return JSONResponse({"ok": ok, "message": message})


routes = [
    Route("/api/mailboxes", list_mailboxes, methods=["GET"]),
    Route("/api/mailboxes", create_mailbox, methods=["POST"]),
    Route("/api/mailboxes/{id:int}", get_mailbox, methods=["GET"]),
    Route("/api/mailboxes/{id:int}", update_mailbox, methods=["PATCH"]),
    Route("/api/mailboxes/{id:int}", delete_mailbox, methods=["DELETE"]),
    Route("/api/mailboxes/{id:int}/test", test_mailbox, methods=["POST"]),
]
