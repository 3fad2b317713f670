"""Articles in the records: create, revise, publish, translate (I/O over desk.kb.rules).

Every saved version is a revision. An article never published shows its latest revision in
the editor only; once published, the live title and body (what search, the public pages and
agent assist read) change only when someone allowed to publish (``rules.may_publish``)
publishes a revision, so an agent's edit of a published article is a proposal.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from desk.auth import Principal
from desk.errors import Conflict, Forbidden, InvalidInput, NotFound
from desk.kb import render, rules, stem
from desk.kb.rules import ArticleInput
from desk.models import Article, ArticleRevision, KbSite, KbTopic, Site, utcnow

DEFAULT_LANGUAGES = ("en",)


async def kb_site(s: AsyncSession, site_id: int) -> KbSite:
    """The site's KB settings (defaults when never set); NotFound for an unknown site."""
    if await s.get(Site, site_id) is None:
        raise NotFound(f"site {site_id} not found")
    row = await s.get(KbSite, site_id)
    return row or KbSite(site_id=site_id, languages=list(DEFAULT_LANGUAGES),
                         default_language=DEFAULT_LANGUAGES[0], agents_publish=False,
                         synonyms=[])


def kb_site_json(k: KbSite) -> dict[str, Any]:
    return {"site_id": k.site_id, "languages": k.languages,
            "default_language": k.default_language, "agents_publish": k.agents_publish,
            "synonyms": k.synonyms}


def article_json(a: Article, latest: ArticleRevision | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {
        "id": a.id, "site_id": a.site_id, "family_id": a.family_id, "topic_id": a.topic_id,
        "language": a.language, "slug": a.slug, "audience": a.audience, "status": a.status,
        "title": a.title, "body": a.body, "html": a.body_html, "description": a.description,
        "tags": a.tags, "related_ids": a.related_ids, "revision": a.revision,
        "published_revision": a.published_revision,
        "published_at": a.published_at.isoformat() if a.published_at else None,
        "updated_at": a.updated_at.isoformat() if a.updated_at else None,
    }
    if latest is not None:
        out["latest"] = revision_json(latest)
    return out


def revision_json(r: ArticleRevision) -> dict[str, Any]:
    return {"number": r.number, "title": r.title, "body": r.body, "author_id": r.author_id,
            "created_at": r.created_at.isoformat() if r.created_at else None}


async def get_article(s: AsyncSession, article_id: int) -> Article:
    a = await s.get(Article, article_id)
    if a is None:
        raise NotFound(f"article {article_id} not found")
    return a


async def revision(s: AsyncSession, article_id: int, number: int) -> ArticleRevision:
    row = (await s.execute(select(ArticleRevision).where(
        ArticleRevision.article_id == article_id, ArticleRevision.number == number))
    ).scalar_one_or_none()
    if row is None:
        raise NotFound(f"article {article_id} has no revision {number}")
    return row


def _show(a: Article, title: str, body: str, own_origin: str) -> None:
    """Make ``title``/``body`` the article's live content, rendered and sanitised."""
    shown = render.render(body, own_origin)
    a.title, a.body = title, body
    a.body_html, a.body_text, a.description = shown.html, shown.text, shown.description
    a.search_title = " ".join(stem.terms(title, a.language))
    a.search_body = " ".join(stem.terms(shown.text, a.language))


async def _check_links(s: AsyncSession, site_id: int, inp: ArticleInput,
                       self_id: int | None) -> None:
    if inp.topic_id is not None:
        topic = await s.get(KbTopic, inp.topic_id)
        if topic is None or topic.site_id != site_id:
            raise InvalidInput("topic_id must be a topic of this site", "topic_id")
    if inp.related_ids:
        if self_id in inp.related_ids:
            raise InvalidInput("an article is not related to itself", "related_ids")
        found = set((await s.execute(select(Article.id).where(
            Article.id.in_(inp.related_ids), Article.site_id == site_id))).scalars())
        if missing := [i for i in inp.related_ids if i not in found]:
            raise InvalidInput(f"related_ids: no article {missing[0]} on this site",
                               "related_ids")


def _apply_meta(a: Article, inp: ArticleInput) -> None:
    if inp.audience is not None:
        a.audience = inp.audience
    if inp.slug is not None:
        a.slug = inp.slug
    if inp.topic_given:
        a.topic_id = inp.topic_id
    if inp.tags is not None:
        a.tags = list(inp.tags)
    if inp.related_ids is not None:
        a.related_ids = list(inp.related_ids)


async def create(s: AsyncSession, site_id: int, inp: ArticleInput, author: Principal,
                 own_origin: str) -> Article:
    settings = await kb_site(s, site_id)
    if inp.publish and not rules.may_publish(author.role, settings.agents_publish):
        raise Forbidden("only admins publish on this site; save it as a draft")
    assert inp.title is not None and inp.body is not None and inp.language is not None
    family: int | None = None
    if inp.translation_of is not None:
        original = await get_article(s, inp.translation_of)
        if original.site_id != site_id:
            raise InvalidInput("translation_of must be an article of this site",
                               "translation_of")
        family = original.family_id
        taken = (await s.execute(select(func.count()).select_from(Article).where(
            Article.family_id == family, Article.language == inp.language))).scalar_one()
        if taken:
            raise Conflict(f"this article already has a {inp.language} translation")
    await _check_links(s, site_id, inp, None)
    a = Article(site_id=site_id, language=inp.language, status="draft", revision=1,
                slug=inp.slug or render.slugify(inp.title), created_by=author.agent_id,
                audience="public", tags=[], related_ids=[], family_id=family or 0)
    _apply_meta(a, inp)
    _show(a, inp.title, inp.body, own_origin)
    s.add(a)
    await s.flush()
    if family is None:
        a.family_id = a.id
    s.add(ArticleRevision(article_id=a.id, number=1, title=inp.title, body=inp.body,
                          author_id=author.agent_id))
    if inp.publish:
        _publish(a, 1)
    await s.flush()
    return a


async def update(s: AsyncSession, a: Article, inp: ArticleInput, author: Principal,
                 own_origin: str) -> ArticleRevision:
    """Save a new revision (when title or body changed) and the other fields; returns the
    latest revision."""
    settings = await kb_site(s, a.site_id)
    publisher = rules.may_publish(author.role, settings.agents_publish)
    meta = any(x is not None for x in (inp.audience, inp.slug, inp.tags, inp.related_ids))
    if a.status != "draft" and (meta or inp.topic_given) and not publisher:
        raise Forbidden("only admins change a published article's settings; propose a "
                        "revision of its text instead")
    if inp.publish and not publisher:
        raise Forbidden("only admins publish on this site")
    if inp.language is not None and inp.language != a.language:
        raise InvalidInput("an article's language stays; add a translation instead",
                           "language")
    await _check_links(s, a.site_id, inp, a.id)
    latest = await revision(s, a.id, a.revision)
    if inp.title is not None or inp.body is not None:
        title = inp.title if inp.title is not None else latest.title
        body = inp.body if inp.body is not None else latest.body
        latest = ArticleRevision(article_id=a.id, number=a.revision + 1, title=title,
                                 body=body, author_id=author.agent_id)
        s.add(latest)
        a.revision = latest.number
        if a.status == "draft":
            _show(a, title, body, own_origin)
    _apply_meta(a, inp)
    a.updated_at = utcnow()
    if inp.publish:
        _show(a, latest.title, latest.body, own_origin)
        _publish(a, latest.number)
    await s.flush()
    return latest


def _publish(a: Article, number: int) -> None:
    a.status, a.published_revision, a.published_at = "published", number, utcnow()


async def publish(s: AsyncSession, a: Article, number: int | None, author: Principal,
                  own_origin: str) -> None:
    """Make revision ``number`` (default: the latest) the live one."""
    settings = await kb_site(s, a.site_id)
    if not rules.may_publish(author.role, settings.agents_publish):
        raise Forbidden("only admins publish on this site")
    rev = await revision(s, a.id, number if number is not None else a.revision)
    _show(a, rev.title, rev.body, own_origin)
    _publish(a, rev.number)
    await s.flush()


async def archive(s: AsyncSession, a: Article, author: Principal) -> None:
    """Take an article off the public pages, search and assist (its revisions stay)."""
    settings = await kb_site(s, a.site_id)
    if not rules.may_publish(author.role, settings.agents_publish):
        raise Forbidden("only admins unpublish on this site")
    a.status = "archived"
    await s.flush()


async def translations(s: AsyncSession, a: Article) -> list[dict[str, Any]]:
    rows = (await s.execute(select(Article.id, Article.language, Article.status).where(
        Article.family_id == a.family_id, Article.id != a.id).order_by(Article.language)))
    return [{"id": i, "language": lang, "status": st} for i, lang, st in rows]
