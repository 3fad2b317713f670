"""What readers get: articles chosen per language, scoped by ``rules.audiences`` (I/O).

Every path that shows or lists articles outside the editor — the public pages, the widget's
endpoints, search, agent assist — takes its conditions from ``readable``, so an internal or
unpublished article never answers a visitor's or customer's request.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, and_, select
from sqlalchemy.ext.asyncio import AsyncSession

from desk.kb import rules
from desk.kb.articles import kb_site
from desk.kb.render import IMAGE_KEY, IMAGE_PATH
from desk.kb.rules import Reader
from desk.limits import is_site_key
from desk.models import Article, KbEvent, KbImage, KbSite, KbTopic, Site

SESSION = re.compile(r"^[A-Za-z0-9_-]{16,64}$")


def readable(reader: Reader) -> ColumnElement[bool]:
    """``rules.may_read`` as SQL: published, and an audience the reader may see."""
    return and_(Article.status == "published", Article.audience.in_(rules.audiences(reader)))


@dataclass(frozen=True, slots=True)
class SiteView:
    site: Site
    kb: KbSite

    @property
    def languages(self) -> list[str]:
        return list(self.kb.languages)


async def site_by_key(s: AsyncSession, key: str) -> SiteView | None:
    if not is_site_key(key):
        return None
    site = (await s.execute(select(Site).where(Site.key == key))).scalar_one_or_none()
    return None if site is None else SiteView(site, await kb_site(s, site.id))


async def in_language(s: AsyncSession, site_id: int, language: str, default: str,
                      reader: Reader, topic_id: int | None = None,
                      limit: int = 500) -> list[Article]:
    """One article per family: the one in ``language`` if readable, else the default
    language's (the fallback), ordered by title."""
    q = select(Article).where(Article.site_id == site_id, readable(reader),
                              Article.language.in_({language, default}))
    if topic_id is not None:
        q = q.where(Article.topic_id == topic_id)
    chosen: dict[int, Article] = {}
    for a in (await s.execute(q.limit(limit * 2))).scalars():
        held = chosen.get(a.family_id)
        if held is None or (a.language == language and held.language != language):
            chosen[a.family_id] = a
    return sorted(chosen.values(), key=lambda a: a.title.casefold())[:limit]


async def article(s: AsyncSession, site_id: int, article_id: int,
                  reader: Reader) -> Article | None:
    return (await s.execute(select(Article).where(
        Article.id == article_id, Article.site_id == site_id, readable(reader)))
    ).scalar_one_or_none()


async def translations(s: AsyncSession, a: Article, reader: Reader) -> list[Article]:
    return list((await s.execute(select(Article).where(
        Article.family_id == a.family_id, Article.id != a.id, readable(reader))
        .order_by(Article.language))).scalars())


async def related(s: AsyncSession, a: Article, language: str, reader: Reader) -> list[Article]:
    """The related articles, each in the reader's language where it has one."""
    if not a.related_ids:
        return []
    bases = (await s.execute(select(Article.family_id).where(
        Article.id.in_(a.related_ids), Article.site_id == a.site_id))).scalars()
    rows = (await s.execute(select(Article).where(
        Article.family_id.in_(set(bases)), readable(reader)))).scalars()
    chosen: dict[int, Article] = {}
    for r in rows:
        held = chosen.get(r.family_id)
        if held is None or r.language == language:
            chosen[r.family_id] = r
    return list(chosen.values())


async def topics(s: AsyncSession, site_id: int) -> list[KbTopic]:
    return list((await s.execute(select(KbTopic).where(KbTopic.site_id == site_id)
                                 .order_by(KbTopic.position, KbTopic.name))).scalars())


async def image(s: AsyncSession, key: str, reader: Reader) -> KbImage | None:
    """THE rule for an uploaded image: staff see every one; anyone else only an image that a
    ``readable`` article of its site shows (its live, rendered body links it), so an image
    of an internal, draft or archived article stays as private as the article."""
    if re.fullmatch(IMAGE_KEY, key) is None:
        return None
    row = (await s.execute(select(KbImage).where(KbImage.storage_key == key))
           ).scalar_one_or_none()
    if row is None or reader is Reader.STAFF:
        return row
    # The key is 40 hex digits (checked above), so it is safe inside a LIKE pattern. Only a
    # real image's key gets this far, and the scan is bounded by the site's articles.
    shown = (await s.execute(select(Article.id).where(
        Article.site_id == row.site_id, readable(reader),
        Article.body_html.like(f"%{IMAGE_PATH}{key}%")).limit(1))).first()
    return row if shown is not None else None


def session_id(raw: str | None) -> str | None:
    """The widget's reading-session id when well formed (anything else: no session)."""
    return raw if raw is not None and SESSION.match(raw) else None


async def went_on(s: AsyncSession, site_id: int, session: str, conversation_id: int) -> None:
    """This reading session went on to a conversation (a chat, or a case from the web form):
    so it was not deflected, and the agent sees what it read. Once per session."""
    seen = (await s.execute(select(KbEvent.id).where(
        KbEvent.kind == "chat", KbEvent.session == session).limit(1))).first()
    if seen is None:
        await record(s, site_id, "chat", "widget", session=session,
                     conversation_id=conversation_id)


async def record(s: AsyncSession, site_id: int, kind: str, source: str, *,
                 at: datetime | None = None, **fields: Any) -> None:
    """One KB event (the facts knowledge reports count), in the caller's transaction."""
    s.add(KbEvent(site_id=site_id, kind=kind, source=source,
                  **({"created_at": at} if at else {}), **fields))
