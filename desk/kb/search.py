"""Knowledge-base search with the database's own full-text engine (I/O).

SQLite: FTS5 over the stemmed terms (desk.kb.fts), ranked by ``bm25`` with the title weighted
``TITLE_WEIGHT`` times the body. PostgreSQL: ``search_tsv @@`` the query in the language's
configuration, ranked by ``ts_rank`` (title weight A, text B; ``ts_rank_cd``'s cover
density cost five times as much per match and ranked no better in bench.kb). Both filter by
``reading.readable`` (published, the reader's audiences). A reader whose language has too few
matches also gets the site default language's (the fallback), one article per family.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Integer, func, literal_column, select, table, text
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import load_only
from sqlalchemy.sql.elements import ColumnClause

from desk.kb import fts, query, rules, stem
from desk.kb.reading import readable, record
from desk.kb.rules import Reader
from desk.models import Article, KbEvent, utcnow
from desk.reports import aware

TITLE_WEIGHT = 4.0
LIMIT_MAX = 20
INNER_FACTOR = 20
_BM25: ColumnClause[float] = literal_column(f"bm25({fts.SQLITE_TABLE}, {TITLE_WEIGHT}, 1.0)")
# What readers of a hit use; the long text columns stay in the database.
_SHOWN = (Article.id, Article.site_id, Article.family_id, Article.topic_id, Article.language,
          Article.slug, Article.audience, Article.status, Article.title, Article.description,
          Article.body_text)


@dataclass(frozen=True, slots=True)
class Hit:
    article: Article
    score: float


def _rows(stmt: Any) -> Any:
    """The hit's article columns (the long text ones stay in the database) with its score."""
    return stmt.options(load_only(*_SHOWN, raiseload=True))


async def _ranked(s: AsyncSession, site_id: int, q: query.KbQuery, reader: Reader,
                  limit: int) -> list[Hit]:
    where = [Article.site_id == site_id, Article.language == q.language, readable(reader)]
    if s.get_bind().dialect.name == "postgresql":
        cfg: ColumnClause[Any] = literal_column(f"'{stem.pg_config(q.language)}'::regconfig")
        tsq: Any = None
        for word in q.pg_words():
            part = func.plainto_tsquery(cfg, word)
            tsq = part if tsq is None else tsq.op("||")(part)
        # Built once per query (an InitPlan): inline, a prepared statement's generic plan
        # would parse every alternative again for every row it ranks.
        once = select(tsq).scalar_subquery()
        vector: ColumnClause[Any] = literal_column(f"kb_articles.{fts.PG_COLUMN}")
        score = func.ts_rank(vector, once)
        stmt = _rows(select(Article, score).where(*where, vector.op("@@")(once))
                     .order_by(score.desc(), Article.id).limit(limit))
        return [Hit(a, float(sc)) for a, sc in await s.execute(stmt)]
    # The index ranks every match; only the best few are joined to their rows and filtered
    # (site, language, audience), unless that leaves too few.
    match = text(f"{fts.SQLITE_TABLE} MATCH :kb_match").bindparams(kb_match=q.fts5())
    for inner in (limit * INNER_FACTOR, None):
        ranked = (select(literal_column("rowid", Integer).label("rowid"), _BM25.label("rank"))
                  .select_from(table(fts.SQLITE_TABLE)).where(match)
                  .order_by(literal_column("rank")))
        best = (ranked.limit(inner) if inner is not None else ranked).subquery()
        stmt = _rows(select(Article, best.c.rank).join(best, Article.id == best.c.rowid)
                     .where(*where).order_by(best.c.rank, Article.id).limit(limit))
        hits = [Hit(a, -float(r)) for a, r in await s.execute(stmt)]
        if len(hits) >= limit or inner is None:
            return hits
        matches = await s.execute(select(func.count()).select_from(
            table(fts.SQLITE_TABLE)).where(match))
        if (matches.scalar() or 0) <= inner:
            return hits
    return []


async def search(s: AsyncSession, site_id: int, raw: str, language: str, default: str,
                 synonyms: Sequence[Sequence[str]], reader: Reader,
                 limit: int = 10) -> list[Hit]:
    """The best ``limit`` readable articles for ``raw`` (BadQuery past the text limits)."""
    limit = max(1, min(limit, LIMIT_MAX))
    hits: list[Hit] = []
    families: set[int] = set()
    for lang in dict.fromkeys((language, default)):
        q = query.build(raw, lang, synonyms)
        if q.empty:
            continue
        for hit in await _ranked(s, site_id, q, reader, limit):
            if hit.article.family_id not in families:
                families.add(hit.article.family_id)
                hits.append(hit)
        if len(hits) >= limit:
            break
    return hits[:limit]


async def search_logged(s: AsyncSession, site_id: int, raw: str, language: str, default: str,
                        synonyms: Sequence[Sequence[str]], reader: Reader, source: str,
                        limit: int = 10, session: str | None = None) -> list[Hit]:
    """``search`` and its event (the query and how many it found, for the reports). A reading
    session's search that carries on its previous one (``rules.same_search``: the visitor is
    still typing) replaces that event, so each question is counted once, as settled."""
    hits = await search(s, site_id, raw, language, default, synonyms, reader, limit)
    if not raw.strip():
        return hits
    text = " ".join(raw.split())[:200]
    now = utcnow()
    if session is not None:
        last = (await s.execute(select(KbEvent).where(
            KbEvent.session == session, KbEvent.kind == "search")
            .order_by(KbEvent.id.desc()).limit(1))).scalar_one_or_none()
        if last is not None and rules.same_search(last.query or "", aware(last.created_at),
                                                  text, now):
            last.query, last.results, last.language, last.created_at = (
                text, len(hits), language, now)
            return hits
    await record(s, site_id, "search", source, query=text, results=len(hits),
                 language=language, session=session, at=now)
    return hits
