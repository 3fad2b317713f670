"""The widget's knowledge-base endpoints (public, CORS for the site's origins, like the other
widget endpoints of ``realtime.public_http``):

- ``GET  /api/public/kb/{key}/suggest?q=&lang=&s=``  articles matching the question being typed
  (public articles only: ``Reader.PUBLIC``), in the visitor's language or the site default
- ``POST /api/public/kb/{key}/chat``  ``{"session", "conversation_id", "token"}``: this reading
  session went on to a chat (so it was not deflected), and the agent sees what it read; a
  case or message filed through ``/api/public/sites/{key}/messages`` says so itself
  (``kb_session``), its conversation being new

The chat link proves itself with the visitor token of the conversation's contact, so nobody can
tie a reading session to someone else's conversation.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from desk import validate
from desk.auth import verify_visitor_token
from desk.errors import Forbidden, InvalidInput
from desk.http import JSONResponse, client_address, read_json
from desk.kb import reading, rules, search
from desk.kb.pages import article_path
from desk.kb.rules import Reader
from desk.limits import is_id
from desk.models import Contact, Conversation, Site
from realtime import client_limits
from realtime.public_http import _public as public_endpoint
from routing import keys

SUGGESTIONS = 5


async def suggest(request: Request, site: Site) -> Response:
    await client_limits.admit(request.app.state.redis, keys.kb_limit(client_address(request)),
                              client_limits.KB_REQUESTS_PER_MIN, "help centre requests")
    sm = request.app.state.sm
    raw = request.query_params.get("q", "")
    async with sm() as s:
        view = await reading.site_by_key(s, site.key)
        assert view is not None
        wanted = [*rules.accepted_languages(request.query_params.get("lang")),
                  *rules.accepted_languages(request.headers.get("accept-language"))]
        lang = rules.choose_language(wanted, view.languages, view.kb.default_language)
        hits = await search.search_logged(
            s, site.id, raw, lang, view.kb.default_language, view.kb.synonyms, Reader.PUBLIC,
            "widget", SUGGESTIONS, reading.session_id(request.query_params.get("s")))
        await s.commit()
    return JSONResponse({"language": lang, "articles": [
        {"id": h.article.id, "title": h.article.title, "description": h.article.description,
         "language": h.article.language, "url": article_path(site.key, h.article)}
        for h in hits]}, headers={"Cache-Control": "no-store"})


CHAT_STARTED = validate.Body({
    "session": validate.Text(64), "conversation_id": validate.RecordId(),
    "token": validate.Text(4096)}, required=("session", "conversation_id", "token"))


@validate.described(CHAT_STARTED)
async def chat_started(request: Request, site: Site) -> Response:
    """Tie the widget's reading session to the chat it started (deflection counts)."""
    state = request.app.state
    data = await read_json(request)
    session = reading.session_id(data.get("session") if isinstance(data.get("session"), str)
                                 else None)
    conv_id, token = data.get("conversation_id"), data.get("token")
    if session is None or not is_id(conv_id) or not isinstance(token, str):
        raise InvalidInput("session, conversation_id and token are required")
    verified = verify_visitor_token(state.settings, token)
    async with state.sm() as s:
        conv = await s.get(Conversation, conv_id)
        contact = await s.get(Contact, verified[0]) if verified else None
        if (verified is None or conv is None or contact is None or conv.site_id != site.id
                or contact.token_nonce != verified[1] or conv.contact_id != contact.id):
            raise Forbidden("not your conversation")
        await reading.went_on(s, site.id, session, conv.id)
        await s.commit()
    return JSONResponse({"ok": True})


def kb_routes() -> list[BaseRoute]:
    return [
        Route("/api/public/kb/{key}/suggest", public_endpoint(suggest),
              methods=["GET", "OPTIONS"]),
        Route("/api/public/kb/{key}/chat", public_endpoint(chat_started),
              methods=["POST", "OPTIONS"]),
    ]
