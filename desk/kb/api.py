"""Staff HTTP API of the knowledge base: site settings, topics, articles, revisions, images.

Any signed-in staff member lists the sites' KB settings (with ``may_publish`` for them),
previews Markdown through the renderer articles use, compares revisions (``desk.kb.diff``),
reads every article (internal ones too) and proposes drafts and
revisions; publishing, unpublishing and changing a published article's settings need
``rules.may_publish`` (admins, or everyone where the site's ``agents_publish`` is on). Site
settings and topics are admin writes.
"""

from __future__ import annotations

import secrets
from typing import Any

from sqlalchemy import select
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from desk import validate
from desk.errors import InvalidInput, NotFound
from desk.http import (
    JSONResponse,
    api,
    commit_unique,
    current_principal,
    deps,
    get_or_404,
    path_int,
    query_int,
    read_json,
    require_admin,
)
from desk.kb import articles, diff, images, render, rules
from desk.limits import SEQ_MAX
from desk.models import Article, ArticleRevision, KbSite, KbTopic, Site


def _site_id(request: Request) -> int:
    site_id = query_int(request, "site_id")
    if site_id is None:
        raise InvalidInput("query parameter site_id is required", "site_id")
    return site_id


@api
async def list_kb_sites(request: Request) -> Response:
    """Every site with its KB settings, and whether the caller may publish there."""
    p = await current_principal(request)
    async with deps(request).sm() as s:
        out = []
        for site in (await s.execute(select(Site).order_by(Site.id))).scalars():
            kb = await articles.kb_site(s, site.id)
            out.append({**articles.kb_site_json(kb), "name": site.name, "key": site.key,
                        "may_publish": rules.may_publish(p.role, kb.agents_publish)})
        return JSONResponse(out)


@api
async def get_kb_site(request: Request) -> Response:
    """The site's knowledge-base settings."""
    await current_principal(request)
    async with deps(request).sm() as s:
        return JSONResponse(articles.kb_site_json(
            await articles.kb_site(s, path_int(request, "site_id"))))


@validate.described(rules.KB_SITE)
@api
async def put_kb_site(request: Request) -> Response:
    """Set the site's KB languages, default language, agents_publish and synonyms."""
    await require_admin(request)
    inp = rules.check_kb_site(await read_json(request))
    site_id = path_int(request, "site_id")
    async with deps(request).sm() as s:
        await articles.kb_site(s, site_id)
        row = await s.get(KbSite, site_id) or KbSite(site_id=site_id)
        row.languages, row.default_language = list(inp.languages), inp.default_language
        row.agents_publish, row.synonyms = inp.agents_publish, [list(g) for g in inp.synonyms]
        s.add(row)
        await s.commit()
        return JSONResponse(articles.kb_site_json(row))


def topic_json(t: KbTopic) -> dict[str, Any]:
    return {"id": t.id, "site_id": t.site_id, "parent_id": t.parent_id, "slug": t.slug,
            "name": t.name, "position": t.position}


@api
async def list_topics(request: Request) -> Response:
    await current_principal(request)
    site_id = _site_id(request)
    async with deps(request).sm() as s:
        rows = await s.execute(select(KbTopic).where(KbTopic.site_id == site_id)
                               .order_by(KbTopic.position, KbTopic.id))
        return JSONResponse([topic_json(t) for t in rows.scalars()])


@validate.described(rules.TOPIC, status=201)
@api
async def create_topic(request: Request) -> Response:
    await require_admin(request)
    data = await read_json(request)
    site_id: int = rules.TOPIC.read(data, "site_id")
    name: str = rules.TOPIC.read(data, "name")
    slug = rules.TOPIC.read(data, "slug")
    parent_id = rules.TOPIC.read(data, "parent_id")
    position = rules.TOPIC.read(data, "position")
    async with deps(request).sm() as s:
        await articles.kb_site(s, site_id)
        if parent_id is not None:
            parent = await s.get(KbTopic, parent_id)
            if parent is None or parent.site_id != site_id:
                raise InvalidInput("parent_id must be a topic of this site", "parent_id")
        t = KbTopic(site_id=site_id, name=name, slug=slug or render.slugify(name),
                    parent_id=parent_id, position=position or 0)
        s.add(t)
        await s.commit()
        return JSONResponse(topic_json(t), status_code=201)


@validate.described(rules.TOPIC_UPDATE)
@api
async def update_topic(request: Request) -> Response:
    """Rename a topic, change its slug or its place in the list."""
    await require_admin(request)
    data = await read_json(request)
    async with deps(request).sm() as s:
        t = await get_or_404(s, KbTopic, path_int(request, "id"), "topic")
        t.name = rules.TOPIC_UPDATE.read(data, "name") or t.name
        t.slug = rules.TOPIC_UPDATE.read(data, "slug") or t.slug
        position = rules.TOPIC_UPDATE.read(data, "position")
        t.position = t.position if position is None else position
        await commit_unique(s, "topic slug")
        return JSONResponse(topic_json(t))


@api
async def delete_topic(request: Request) -> Response:
    await require_admin(request)
    async with deps(request).sm() as s:
        t = await s.get(KbTopic, path_int(request, "id"))
        if t is None:
            raise NotFound("topic not found")
        await s.delete(t)
        await s.commit()
    return JSONResponse({"ok": True})


@api
async def list_articles(request: Request) -> Response:
    """Articles of a site, every status and audience (staff), filtered."""
    await current_principal(request)
    site_id = _site_id(request)
    q = select(Article).where(Article.site_id == site_id).order_by(Article.id)
    status = request.query_params.get("status")
    if status:
        if status not in rules.KB_STATUSES:
            raise InvalidInput(f"status must be one of {', '.join(rules.KB_STATUSES)}", "status")
        q = q.where(Article.status == status)
    if language := request.query_params.get("language"):
        q = q.where(Article.language == language[:8].lower())
    if (topic := query_int(request, "topic_id")) is not None:
        q = q.where(Article.topic_id == topic)
    limit = query_int(request, "limit", lo=1, hi=500) or 100
    async with deps(request).sm() as s:
        rows = (await s.execute(q.limit(limit))).scalars()
        return JSONResponse([{k: v for k, v in articles.article_json(a).items()
                              if k not in {"body", "html"}} for a in rows])


@validate.described(rules.ARTICLE_CREATE, status=201)
@api
async def create_article(request: Request) -> Response:
    """Write an article (a draft unless ``publish`` and the right to publish)."""
    p = await current_principal(request)
    data = await read_json(request)
    site_id: int = rules.ARTICLE_CREATE.read(data, "site_id")
    d = deps(request)
    async with d.sm() as s:
        settings = await articles.kb_site(s, site_id)
        inp = rules.check_article({k: v for k, v in data.items() if k != "site_id"},
                                  languages=settings.languages, creating=True)
        a = await articles.create(s, site_id, inp, p, d.settings.public_url)
        await s.commit()
        return JSONResponse(articles.article_json(a), status_code=201)


@api
async def get_article(request: Request) -> Response:
    """An article with its latest revision and its translations."""
    await current_principal(request)
    async with deps(request).sm() as s:
        a = await articles.get_article(s, path_int(request, "id"))
        out = articles.article_json(a, await articles.revision(s, a.id, a.revision))
        out["translations"] = await articles.translations(s, a)
        return JSONResponse(out)


@validate.described(rules.ARTICLE)
@api
async def update_article(request: Request) -> Response:
    """Save a revision (a proposal on a published article) and the article's settings."""
    p = await current_principal(request)
    data = await read_json(request)
    d = deps(request)
    async with d.sm() as s:
        a = await articles.get_article(s, path_int(request, "id"))
        settings = await articles.kb_site(s, a.site_id)
        inp = rules.check_article(data, languages=settings.languages, creating=False)
        latest = await articles.update(s, a, inp, p, d.settings.public_url)
        await s.commit()
        return JSONResponse(articles.article_json(a, latest))


@api
async def list_revisions(request: Request) -> Response:
    await current_principal(request)
    article_id = path_int(request, "id")
    async with deps(request).sm() as s:
        await articles.get_article(s, article_id)
        rows = await s.execute(select(ArticleRevision).where(
            ArticleRevision.article_id == article_id).order_by(ArticleRevision.number.desc()))
        return JSONResponse([articles.revision_json(r) for r in rows.scalars()])


@api
async def diff_revisions(request: Request) -> Response:
    """What changed from revision ``from`` to ``to`` (default: the live one to the latest)."""
    await current_principal(request)
    async with deps(request).sm() as s:
        a = await articles.get_article(s, path_int(request, "id"))
        older = query_int(request, "from", lo=1, hi=SEQ_MAX) or a.published_revision or 1
        newer = query_int(request, "to", lo=1, hi=SEQ_MAX) or a.revision
        old, new = (await articles.revision(s, a.id, older),
                    await articles.revision(s, a.id, newer))
        return JSONResponse({"from": older, "to": newer,
                             "title": diff.lines(old.title, new.title),
                             "body": diff.lines(old.body, new.body)})


PREVIEW = validate.Body({"body": validate.Custom(lambda d, k: render.check_body(d.get(k)),
                                                rules.ARTICLE.fields["body"].schema)},
                       required=("body",))
PUBLISH = validate.Body({"revision": validate.Integer(1, SEQ_MAX)})


@validate.described(PREVIEW)
@api
async def preview(request: Request) -> Response:
    """Markdown rendered and sanitised exactly as an article's body would be (nothing saved)."""
    await current_principal(request)
    data = await read_json(request)
    shown = render.render(PREVIEW.read(data, "body"), deps(request).settings.public_url)
    return JSONResponse({"html": shown.html, "description": shown.description})


@validate.described(PUBLISH)
@api
async def publish_article(request: Request) -> Response:
    """Publish a revision (``{"revision": n}``; the latest when not given)."""
    p = await current_principal(request)
    data = await read_json(request)
    number = PUBLISH.read(data, "revision")
    d = deps(request)
    async with d.sm() as s:
        a = await articles.get_article(s, path_int(request, "id"))
        await articles.publish(s, a, number, p, d.settings.public_url)
        await s.commit()
        return JSONResponse(articles.article_json(a))


@api
async def archive_article(request: Request) -> Response:
    """Unpublish: off the public pages, search and assist."""
    p = await current_principal(request)
    async with deps(request).sm() as s:
        a = await articles.get_article(s, path_int(request, "id"))
        await articles.archive(s, a, p)
        await s.commit()
        return JSONResponse(articles.article_json(a))


@api
async def upload_image(request: Request) -> Response:
    """Upload an article image (PNG, JPEG, GIF or WebP as the raw body); answers its URL."""
    p = await current_principal(request)
    site_id = _site_id(request)
    d = deps(request)
    data = await images.read_body(request)
    async with d.sm() as s:
        await articles.kb_site(s, site_id)
        row = await images.store(s, d.settings.data_dir, site_id, data,
                                 request.headers.get("content-type", ""), p.agent_id,
                                 secrets.token_hex(20))
        await s.commit()
    return JSONResponse({"url": images.url(row.storage_key), "size": row.size}, status_code=201)


routes = [
    Route("/api/kb/sites", list_kb_sites, methods=["GET"]),
    Route("/api/kb/sites/{site_id:int}", get_kb_site, methods=["GET"]),
    Route("/api/kb/sites/{site_id:int}", put_kb_site, methods=["PUT"], name="put_kb_site"),
    Route("/api/kb/topics", list_topics, methods=["GET"]),
    Route("/api/kb/topics", create_topic, methods=["POST"]),
    Route("/api/kb/topics/{id:int}", update_topic, methods=["PATCH"]),
    Route("/api/kb/topics/{id:int}", delete_topic, methods=["DELETE"]),
    Route("/api/kb/articles", list_articles, methods=["GET"]),
    Route("/api/kb/articles", create_article, methods=["POST"]),
    Route("/api/kb/articles/{id:int}", get_article, methods=["GET"]),
    Route("/api/kb/articles/{id:int}", update_article, methods=["PATCH"]),
    Route("/api/kb/articles/{id:int}/revisions", list_revisions, methods=["GET"]),
    Route("/api/kb/articles/{id:int}/diff", diff_revisions, methods=["GET"]),
    Route("/api/kb/articles/{id:int}/publish", publish_article, methods=["POST"]),
    Route("/api/kb/articles/{id:int}/archive", archive_article, methods=["POST"]),
    Route("/api/kb/images", upload_image, methods=["POST"]),
    Route("/api/kb/preview", preview, methods=["POST"]),
]
