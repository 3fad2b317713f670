"""The public knowledge base: server-rendered pages per site and language, and article images.

- ``GET /kb/{key}``                          to the reader's language (Accept-Language)
- ``GET /kb/{key}/{lang}``                   topics and their articles
- ``GET /kb/{key}/{lang}/t/{slug}``          one topic
- ``GET /kb/{key}/{lang}/search?q=``         search
- ``GET /kb/{key}/{lang}/a/{id}/{slug}``     an article (canonical: its own language and slug)
- ``GET /kb/images/{key}``                   an uploaded article image (``reading.image``)

Anyone may read them, so they show only what ``reading.readable`` gives ``Reader.PUBLIC``: an
internal, draft or archived article is a 404 here, whatever its id. An article opened from the
widget carries the widget's reading session (``?s=``), recorded with the view (deflection).
"""

from __future__ import annotations

from html import escape

from starlette.requests import Request
from starlette.responses import FileResponse, HTMLResponse, RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from desk.auth import COOKIE_NAME, resolve_session, session_id_from_cookie
from desk.catalogues import shipped
from desk.db import SessionMaker
from desk.errors import DeskError
from desk.kb import images, page_html, reading, rules, search
from desk.kb.page_html import ArticleView, Frame, Link
from desk.kb.reading import SiteView
from desk.kb.rules import Reader
from desk.limits import is_id
from desk.models import Article, KbTopic
from desk.settings import Settings

HEADERS = {"Content-Security-Policy": page_html.CSP, "Cache-Control": "no-cache"}


def article_path(key: str, a: Article, reader_language: str | None = None) -> str:
    """The article's URL; its canonical one is in its own language (a reader of another
    language is shown it under theirs when it has no translation to theirs)."""
    return f"/kb/{key}/{reader_language or a.language}/a/{a.id}/{a.slug}"


def _topic_link(key: str, lang: str, t: KbTopic) -> Link:
    return Link(t.name, f"/kb/{key}/{lang}/t/{t.slug}")


def _page(body: str, status: int = 200) -> HTMLResponse:
    return HTMLResponse(body, status_code=status, headers=HEADERS)


def _state(request: Request) -> tuple[Settings, SessionMaker]:
    return request.app.state.settings, request.app.state.sm


def _not_found(message: str = "No such page in this help centre.") -> HTMLResponse:
    return _page(f"<!doctype html><title>Not found</title><p>{message}</p>", 404)


async def _view(request: Request, sm: SessionMaker) -> tuple[SiteView, str] | None:
    async with sm() as s:
        view = await reading.site_by_key(s, str(request.path_params["key"]))
    lang = str(request.path_params.get("lang", ""))
    if view is None or lang not in view.languages:
        return None
    return view, lang


def _frame(view: SiteView, lang: str, settings: Settings, query: str = "") -> Frame:
    return Frame(site_name=view.site.name, base=f"/kb/{view.site.key}", language=lang,
                 languages=tuple(view.languages), public_url=settings.public_url,
                 t=shipped().translator(lang), query=query)


def _link(key: str, a: Article, lang: str) -> Link:
    return Link(a.title, article_path(key, a, lang), a.description, a.language)


async def home(request: Request) -> Response:
    _, sm = _state(request)
    async with sm() as s:
        view = await reading.site_by_key(s, str(request.path_params["key"]))
    if view is None:
        return _not_found()
    lang = rules.choose_language(rules.accepted_languages(request.headers.get("accept-language")),
                                 view.languages, view.kb.default_language)
    return RedirectResponse(f"/kb/{view.site.key}/{lang}", status_code=302)


async def index(request: Request) -> Response:
    settings, sm = _state(request)
    found = await _view(request, sm)
    if found is None:
        return _not_found()
    view, lang = found
    async with sm() as s:
        topics = await reading.topics(s, view.site.id)
        items = await reading.in_language(s, view.site.id, lang, view.kb.default_language,
                                          Reader.PUBLIC)
    key = view.site.key
    by_topic: dict[int | None, list[Link]] = {}
    for a in items:
        by_topic.setdefault(a.topic_id, []).append(_link(key, a, lang))
    groups = [(_topic_link(key, lang, t), by_topic.get(t.id, []))
              for t in topics]
    known = {t.id for t in topics}
    loose = [link for tid, links in by_topic.items() if tid not in known for link in links]
    return _page(page_html.index_page(_frame(view, lang, settings), groups, loose))


async def topic(request: Request) -> Response:
    settings, sm = _state(request)
    found = await _view(request, sm)
    if found is None:
        return _not_found()
    view, lang = found
    async with sm() as s:
        t = next((t for t in await reading.topics(s, view.site.id)
                  if t.slug == request.path_params["slug"]), None)
        if t is None:
            return _not_found()
        items = await reading.in_language(s, view.site.id, lang, view.kb.default_language,
                                          Reader.PUBLIC, topic_id=t.id)
    link = _topic_link(view.site.key, lang, t)
    return _page(page_html.topic_page(_frame(view, lang, settings), link,
                                      [_link(view.site.key, a, lang) for a in items]))


async def search_page(request: Request) -> Response:
    settings, sm = _state(request)
    found = await _view(request, sm)
    if found is None:
        return _not_found()
    view, lang = found
    raw = request.query_params.get("q", "")
    frame = _frame(view, lang, settings, raw[:200])
    try:
        async with sm() as s:
            hits = await search.search_logged(s, view.site.id, raw, lang,
                                              view.kb.default_language, view.kb.synonyms,
                                              Reader.PUBLIC, "page")
            await s.commit()
    except DeskError as exc:
        return _page(f"<!doctype html><title>Search</title><p>{escape(exc.message)}</p>",
                     exc.status)
    links = [_link(view.site.key, h.article, lang) for h in hits]
    return _page(page_html.search_page(frame, links))


async def article(request: Request) -> Response:
    settings, sm = _state(request)
    found = await _view(request, sm)
    if found is None:
        return _not_found()
    view, lang = found
    article_id = request.path_params["id"]
    session = reading.session_id(request.query_params.get("s"))
    async with sm() as s:
        a = await reading.article(s, view.site.id, article_id, Reader.PUBLIC) \
            if is_id(article_id) else None
        if a is None:
            return _not_found()
        canonical = article_path(view.site.key, a)
        others = await reading.translations(s, a, Reader.PUBLIC)
        mine = next((o for o in others if o.language == lang), None)
        target = mine or (a if a.slug != request.path_params["slug"] else None)
        if target is not None:
            where = article_path(view.site.key, target, lang)
            return RedirectResponse(where + (f"?s={session}" if session else ""), 301)
        related = await reading.related(s, a, lang, Reader.PUBLIC)
        t = await s.get(KbTopic, a.topic_id) if a.topic_id else None
        await reading.record(s, view.site.id, "view", "widget" if session else "page",
                             article_id=a.id, session=session, language=lang)
        await s.commit()
    key = view.site.key
    page = ArticleView(
        title=a.title, html=a.body_html, description=a.description, language=a.language,
        canonical=canonical, translations=tuple(_link(key, o, o.language) for o in others),
        related=tuple(_link(key, r, lang) for r in related), tags=tuple(a.tags),
        topic=_topic_link(key, lang, t) if t else None)
    return _page(page_html.article_page(_frame(view, lang, settings), page))


async def _reader(request: Request, sm: SessionMaker, settings: Settings) -> Reader:
    """Staff when the request carries a live staff session (the editor's previews), else
    anyone."""
    sid = session_id_from_cookie(settings, request.cookies.get(COOKIE_NAME))
    return Reader.STAFF if sid and await resolve_session(sm, sid) else Reader.PUBLIC


async def image(request: Request) -> Response:
    settings, sm = _state(request)
    key = str(request.path_params["key"])
    reader = await _reader(request, sm, settings)
    async with sm() as s:
        row = await reading.image(s, key, reader)
        # A staff-only image must not sit in a shared cache; a public one may, briefly (it
        # leaves with its article).
        public = row is not None and (reader is Reader.PUBLIC
                                      or await reading.image(s, key, Reader.PUBLIC) is not None)
    path = images.path_for(settings.data_dir, key) if row is not None else None
    if path is None or row is None or not path.exists():
        return _not_found()
    return FileResponse(path, media_type=row.content_type, headers={
        "Cache-Control": "public, max-age=3600" if public else "private, no-store",
        "Content-Security-Policy": "default-src 'none'", "Content-Disposition": "inline"})


def routes() -> list[BaseRoute]:
    return [
        Route("/kb/images/{key}", image, methods=["GET"]),
        Route("/kb/{key}", home, methods=["GET"]),
        Route("/kb/{key}/{lang}", index, methods=["GET"]),
        Route("/kb/{key}/{lang}/search", search_page, methods=["GET"]),
        Route("/kb/{key}/{lang}/t/{slug}", topic, methods=["GET"]),
        Route("/kb/{key}/{lang}/a/{id:int}/{slug}", article, methods=["GET"]),
    ]

