"""Staff KB endpoints beside the reply box and in reports:

- ``GET  /api/kb/search?site_id=&q=&language=``    staff search (internal articles included)
- ``GET  /api/kb/assist?conversation_id=``         articles, canned responses and similar
  resolved conversations for the conversation's text so far, and the articles the visitor
  read before the chat
- ``POST /api/kb/events``  ``{"kind": "insert", "article_id", "conversation_id"}``
- ``GET  /api/kb/reports?site_id=&from=&to=&grain=&tz=``   knowledge reports

Assist reads the conversation only for staff who may see it (``Principal.can_access``), and
only what they may read of it (``desk.visibility.readable``).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from desk import validate
from desk.auth import Principal
from desk.conversations import Viewer, can_see
from desk.db import SessionMaker
from desk.errors import Forbidden, InvalidInput, NotFound
from desk.http import JSONResponse, api, current_principal, deps, query_int, read_json
from desk.kb import articles, query, reading, search, stem
from desk.kb.report import Event, knowledge_report
from desk.kb.rules import Reader
from desk.models import Article, CannedResponse, Conversation, KbEvent, Message, Site
from desk.report_math import Grain, RangeError, check_range
from desk.search import search as conversation_search
from desk.search_query import SearchRequest, Term, parse_when

ASSIST_MESSAGES = 20
ASSIST_ARTICLES = 5
ASSIST_CANNED = 3
ASSIST_SIMILAR = 3
SIMILAR_WORDS = 2
RANGE_MAX = timedelta(days=400)


def hit_json(a: Article, key: str, public_url: str) -> dict[str, Any]:
    url = f"{public_url}/kb/{key}/{a.language}/a/{a.id}/{a.slug}" if a.audience == "public" \
        else None
    return {"id": a.id, "title": a.title, "description": a.description, "language": a.language,
            "audience": a.audience, "url": url, "snippet": a.body_text[:600]}


@api
async def staff_search(request: Request) -> Response:
    """Search the site's published articles, internal ones included."""
    await current_principal(request)
    site_id = query_int(request, "site_id")
    if site_id is None:
        raise InvalidInput("query parameter site_id is required", "site_id")
    d = deps(request)
    async with d.sm() as s:
        kb = await articles.kb_site(s, site_id)
        site = await s.get(Site, site_id)
        assert site is not None
        lang = request.query_params.get("language") or kb.default_language
        hits = await search.search_logged(s, site_id, request.query_params.get("q", ""),
                                          lang[:8].lower(), kb.default_language, kb.synonyms,
                                          Reader.STAFF, "console")
        await s.commit()
        return JSONResponse([hit_json(h.article, site.key, d.settings.public_url) | {
            "score": round(h.score, 4)} for h in hits])


async def _conversation(s: AsyncSession, p: Principal, conv_id: int | None) -> Conversation:
    if conv_id is None:
        raise InvalidInput("conversation_id is required", "conversation_id")
    conv = await s.get(Conversation, conv_id)
    if conv is None:
        raise NotFound(f"conversation {conv_id} not found")
    if not p.can_access(conv.group_id):
        raise Forbidden("not a conversation of your groups")
    return conv


async def _visitor_read(s: AsyncSession, conv_id: int) -> list[dict[str, Any]]:
    """The articles the visitor opened in the reading session that led to this chat."""
    sessions = select(KbEvent.session).where(KbEvent.kind == "chat",
                                             KbEvent.conversation_id == conv_id)
    rows = await s.execute(select(Article.id, Article.title, Article.language, KbEvent.created_at)
                           .join(Article, Article.id == KbEvent.article_id)
                           .where(KbEvent.kind == "view", KbEvent.session.in_(sessions))
                           .order_by(KbEvent.id))
    seen: dict[int, dict[str, Any]] = {}
    for article_id, title, lang, at in rows:
        seen.setdefault(article_id, {"id": article_id, "title": title, "language": lang,
                                     "at": at.isoformat()})
    return list(seen.values())


async def _canned(s: AsyncSession, conv: Conversation, terms: list[str],
                  language: str) -> list[dict[str, Any]]:
    if conv.department_id is None or not terms:
        return []
    rows = (await s.execute(select(CannedResponse).where(
        CannedResponse.department_id == conv.department_id).limit(500))).scalars()
    scored = sorted(((stem.overlap(terms, stem.terms(f"{c.title} {c.body}", language)), c)
                     for c in rows), key=lambda x: -x[0])
    return [{"id": c.id, "shortcut": c.shortcut, "title": c.title, "body": c.body}
            for score, c in scored[:ASSIST_CANNED] if score > 0]


async def _similar(sm: SessionMaker, p: Principal, conv: Conversation, said: list[str],
                   language: str) -> list[dict[str, Any]]:
    """Resolved conversations (the viewer's: desk.search) holding the latest message's most
    telling words (its longest ones that are not stop words)."""
    stop = stem.STOP.get(language.split("-")[0], frozenset())
    found = sorted({w for w in stem.words(" ".join(said)) if w not in stop and len(w) > 3},
                   key=lambda w: (-len(w), w))[:SIMILAR_WORDS]
    if not found:
        return []
    page = await conversation_search(sm, p, SearchRequest(
        terms=tuple(Term(w) for w in found), statuses=("resolved", "closed"),
        limit=ASSIST_SIMILAR + 1))
    return [{"id": c.id, "number": c.number, "subject": c.subject, "status": c.status}
            for c, _ in page.rows if c.id != conv.id][:ASSIST_SIMILAR]


@api
async def assist(request: Request) -> Response:
    """Articles, canned responses and similar resolved conversations for the conversation so
    far, and what the visitor read."""
    p = await current_principal(request)
    d = deps(request)
    async with d.sm() as s:
        conv = await _conversation(s, p, query_int(request, "conversation_id"))
        viewer = Viewer("supervisor" if p.is_supervisor else "agent", p.agent_id)
        msgs = (await s.execute(select(Message).where(Message.conversation_id == conv.id)
                                .order_by(Message.seq.desc()).limit(ASSIST_MESSAGES))).scalars()
        said = list(reversed([m.body for m in msgs if m.author_kind != "system"
                              and can_see(viewer, m.visibility, m.whisper_to)]))
        text = "\n".join(filter(None, [conv.subject or "", *said]))
        out: dict[str, Any] = {"articles": [], "canned": [], "similar": [], "read": [],
                               "language": None}
        site = await s.get(Site, conv.site_id) if conv.site_id else None
        if site is not None:
            kb = await articles.kb_site(s, site.id)
            lang = stem.guess_language(text, list(kb.languages), kb.default_language)
            found: dict[int, Article] = {}
            # The latest message leads (the chat moved on to it), then the whole conversation.
            for part in ("\n".join(said[-1:]), text):
                for h in await search.search(s, site.id, query.trimmed(part, lang), lang,
                                             kb.default_language, kb.synonyms, Reader.STAFF,
                                             ASSIST_ARTICLES):
                    found.setdefault(h.article.id, h.article)
            out["language"] = lang
            out["articles"] = [hit_json(a, site.key, d.settings.public_url)
                               for a in list(found.values())[:ASSIST_ARTICLES]]
            out["canned"] = await _canned(s, conv, stem.terms(text, lang), lang)
        out["read"] = await _visitor_read(s, conv.id)
    # Its own session, after this one has ended (a SQLite transaction holds the write lock).
    out["similar"] = await _similar(d.sm, p, conv, said[-1:] or [text],
                                    out["language"] or "en")
    return JSONResponse(out, headers={"Cache-Control": "no-store"})


INSERTED = validate.Body({"kind": validate.Choice(("insert",)),
                         "article_id": validate.RecordId(),
                         "conversation_id": validate.RecordId()},
                        required=("kind", "article_id", "conversation_id"))


@validate.described(INSERTED, status=201)
@api
async def record_event(request: Request) -> Response:
    """An agent put an article into a reply (``kind`` "insert")."""
    p = await current_principal(request)
    data = await read_json(request)
    INSERTED.read(data, "kind")
    article_id: int = INSERTED.read(data, "article_id")
    async with deps(request).sm() as s:
        conv = await _conversation(s, p, INSERTED.read(data, "conversation_id"))
        a = await articles.get_article(s, article_id)
        await reading.record(s, a.site_id, "insert", "console", article_id=a.id,
                             conversation_id=conv.id, agent_id=p.agent_id)
        await s.commit()
    return JSONResponse({"ok": True}, status_code=201)


def _range(request: Request) -> tuple[datetime, datetime, ZoneInfo, Grain]:
    params = request.query_params
    try:
        zone = ZoneInfo(params.get("tz") or "UTC")
    except (ZoneInfoNotFoundError, ValueError):
        raise InvalidInput("tz must be an IANA time zone such as Europe/Berlin", "tz") from None
    grain_raw = params.get("grain") or "day"
    if grain_raw not in {g.value for g in Grain}:
        raise InvalidInput("grain must be hour, day, week or month", "grain")
    now = datetime.now(UTC)
    end = parse_when("to", params["to"], end=True) if params.get("to") else now
    start = parse_when("from", params["from"], end=False) if params.get("from") \
        else end - timedelta(days=30)
    try:
        check_range(start, end)
    except RangeError as exc:
        raise InvalidInput(str(exc), "from") from None
    if end - start > RANGE_MAX or (grain_raw == "hour" and end - start > timedelta(days=31)):
        raise InvalidInput("the range is too long for this grain", "from")
    return start, end, zone, Grain(grain_raw)


@api
async def reports(request: Request) -> Response:
    """Article views, searches (and those with no result), deflections, inserts, per period."""
    await current_principal(request)
    site_id = query_int(request, "site_id")
    if site_id is None:
        raise InvalidInput("query parameter site_id is required", "site_id")
    start, end, zone, grain = _range(request)
    d = deps(request)
    window = timedelta(seconds=d.settings.kb_deflection_window_s)
    async with d.sm() as s:
        await articles.kb_site(s, site_id)
        rows = (await s.execute(select(KbEvent).where(
            KbEvent.site_id == site_id, KbEvent.created_at >= start - window,
            KbEvent.created_at < end + window))).scalars().all()
        ids = {e.article_id for e in rows if e.article_id}
        titles = dict((await s.execute(select(Article.id, Article.title).where(
            Article.id.in_(ids)))).all()) if ids else {}
    events = [Event(e.kind, e.source, _utc(e.created_at), e.session, e.article_id, e.query,
                    e.results) for e in rows]
    return JSONResponse(knowledge_report(events, start, end, zone, grain, datetime.now(UTC),
                                         window, titles))


def _utc(at: datetime) -> datetime:
    return at if at.tzinfo else at.replace(tzinfo=UTC)


routes = [
    Route("/api/kb/search", staff_search, methods=["GET"]),
    Route("/api/kb/assist", assist, methods=["GET"]),
    Route("/api/kb/events", record_event, methods=["POST"]),
    Route("/api/kb/reports", reports, methods=["GET"]),
]
