"""Search over HTTP: ``GET /api/conversations/search`` (staff only; visitors never search).

The query string is read by ``desk.search_query`` (400 with a message for anything it cannot
read) and run by ``desk.search`` within the caller's groups.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from desk.api_conversations import conversation_json, survey_visible
from desk.http import JSONResponse, api, current_principal, deps
from desk.models import CHANNELS, STATUSES
from desk.search import search
from desk.search_query import parse_request


@api
async def search_conversations(request: Request) -> Response:
    """Search conversations: text (q) over subjects and messages, filters, keyset pages.

    Newest activity first; ``next_cursor`` (null on the last page) fetches the next page."""
    p = await current_principal(request)
    params = {key: request.query_params.getlist(key) for key in request.query_params}
    req = parse_request(params, statuses=STATUSES, channels=CHANNELS)
    page = await search(deps(request).sm, p, req)
    return JSONResponse({
        "items": [conversation_json(c, contact, survey=survey_visible(p))
                  for c, contact in page.rows],
        "next_cursor": page.next_cursor.encode() if page.next_cursor else None,
    })


routes = [Route("/api/conversations/search", search_conversations, methods=["GET"])]
