"""Logged calls and commitments over HTTP.

- ``POST /api/calls``                        log a phone call (``desk.calls``): 201, the case
- ``GET  /api/conversations/{id}/call``      the call a ``phone`` case was logged from
- ``GET|PUT /api/departments/{id}/call-fields``  the department's call form (PUT: admins)
"""

from __future__ import annotations

from sqlalchemy import select
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from desk import calls
from desk.api_conversations import conversation_json, load_conversation, survey_visible
from desk.api_tickets import field_definitions
from desk.errors import NotFound
from desk.http import (
    JSONResponse,
    api,
    current_principal,
    deps,
    read_json,
)
from desk.models import CallLog, Contact


@api
async def log_call(request: Request) -> Response:
    """Log a phone call as a new case of channel phone, on the department's call form."""
    p = await current_principal(request)
    d = deps(request)
    conv = await calls.log_call(d.sm, p, await read_json(request))
    async with d.sm() as s:
        contact = await s.get(Contact, conv.contact_id) if conv.contact_id else None
        call = await s.scalar(select(CallLog).where(CallLog.conversation_id == conv.id))
    assert call is not None
    await d.hooks.conversation_changed(conv.id)
    return JSONResponse({**conversation_json(conv, contact, survey=survey_visible(p)),
                         "call": calls.call_json(call)}, status_code=201)


@api
async def get_call(request: Request) -> Response:
    """The call a phone case was logged from."""
    _, c = await load_conversation(request)
    async with deps(request).sm() as s:
        call = await s.scalar(select(CallLog).where(CallLog.conversation_id == c.id))
    if call is None:
        raise NotFound("no call was logged for this conversation")
    return JSONResponse(calls.call_json(call))


@api
async def call_fields(request: Request) -> Response:
    """The department's call form (GET: staff; PUT: admins)."""
    return await field_definitions(request, "call_fields")


routes = [
    Route("/api/calls", log_call, methods=["POST"]),
    Route("/api/conversations/{id:int}/call", get_call, methods=["GET"]),
    Route("/api/departments/{id:int}/call-fields", call_fields, methods=["GET", "PUT"]),
]
