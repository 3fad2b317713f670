"""The knowledge base: help-centre sites, topics, articles, their revisions, images, events."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    CheckConstraint,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from desk.kb.rules import KB_AUDIENCES, KB_EVENTS, KB_SOURCES, KB_STATUSES
from desk.limits import (
    ARTICLE_DESCRIPTION_MAX,
    ARTICLE_TITLE_MAX,
    CONTENT_TYPE_MAX,
    LANGUAGE_MAX,
    NAME_MAX,
    SLUG_MAX,
)
from desk.models.base import (
    Base,
    _in,
    utcnow,
)


class KbSite(Base):
    """A site's knowledge-base settings: its languages, synonyms, who may publish."""

    __tablename__ = "kb_sites"
    site_id: Mapped[int] = mapped_column(ForeignKey("sites.id", ondelete="CASCADE"),
                                         primary_key=True)
    languages: Mapped[list[str]] = mapped_column(JSON, default=list)
    default_language: Mapped[str] = mapped_column(String(LANGUAGE_MAX), default="en")
    # Off: agents propose (drafts), admins publish. On: agents publish too.
    agents_publish: Mapped[bool] = mapped_column(Boolean, default=False)
    # Groups of words that mean the same to this site's readers (desk.kb.query expands them).
    synonyms: Mapped[list[Any]] = mapped_column(JSON, default=list)


class KbTopic(Base):
    __tablename__ = "kb_topics"
    __table_args__ = (UniqueConstraint("site_id", "slug"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    site_id: Mapped[int] = mapped_column(ForeignKey("sites.id", ondelete="CASCADE"))
    parent_id: Mapped[int | None] = mapped_column(
        ForeignKey("kb_topics.id", ondelete="SET NULL"))
    slug: Mapped[str] = mapped_column(String(SLUG_MAX))
    name: Mapped[str] = mapped_column(String(NAME_MAX))
    position: Mapped[int] = mapped_column(Integer, default=0)


class Article(Base):
    """One article in one language. Translations share ``family_id`` (the first one's id).

    The title and body here are the published revision's (or, before any publishing, the
    latest draft's); every saved version is an ArticleRevision. Only published articles reach
    search, the public pages and agent assist; ``internal`` ones never reach a visitor."""

    __tablename__ = "kb_articles"
    __table_args__ = (
        UniqueConstraint("family_id", "language"),
        CheckConstraint(_in("audience", KB_AUDIENCES), name="audience"),
        CheckConstraint(_in("status", KB_STATUSES), name="status"),
        Index("ix_kb_articles_site_status", "site_id", "status", "language"),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    site_id: Mapped[int] = mapped_column(ForeignKey("sites.id", ondelete="CASCADE"))
    family_id: Mapped[int] = mapped_column(Integer, default=0, index=True)
    topic_id: Mapped[int | None] = mapped_column(ForeignKey("kb_topics.id", ondelete="SET NULL"))
    language: Mapped[str] = mapped_column(String(LANGUAGE_MAX))
    slug: Mapped[str] = mapped_column(String(SLUG_MAX))
    audience: Mapped[str] = mapped_column(String(16), default="public")
    status: Mapped[str] = mapped_column(String(16), default="draft")
    title: Mapped[str] = mapped_column(String(ARTICLE_TITLE_MAX))
    body: Mapped[str] = mapped_column(Text, default="")
    body_html: Mapped[str] = mapped_column(Text, default="")
    body_text: Mapped[str] = mapped_column(Text, default="")
    description: Mapped[str] = mapped_column(String(ARTICLE_DESCRIPTION_MAX), default="")
    # The title's and text's search terms in the article's language (desk.kb.stem), which
    # SQLite's FTS5 index reads (desk.kb.fts); PostgreSQL parses title and text itself.
    search_title: Mapped[str] = mapped_column(Text, default="")
    search_body: Mapped[str] = mapped_column(Text, default="")
    tags: Mapped[list[str]] = mapped_column(JSON, default=list)
    related_ids: Mapped[list[int]] = mapped_column(JSON, default=list)
    revision: Mapped[int] = mapped_column(Integer, default=1)  # the latest revision's number
    published_revision: Mapped[int | None] = mapped_column(Integer)
    created_by: Mapped[int | None] = mapped_column(ForeignKey("agents.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
    published_at: Mapped[datetime | None] = mapped_column()


class ArticleRevision(Base):
    __tablename__ = "kb_revisions"
    __table_args__ = (UniqueConstraint("article_id", "number"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    article_id: Mapped[int] = mapped_column(ForeignKey("kb_articles.id", ondelete="CASCADE"))
    number: Mapped[int] = mapped_column(Integer)
    title: Mapped[str] = mapped_column(String(ARTICLE_TITLE_MAX))
    body: Mapped[str] = mapped_column(Text)
    author_id: Mapped[int | None] = mapped_column(ForeignKey("agents.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class KbImage(Base):
    """An image uploaded for articles, served at /kb/images/<storage_key> (images only)."""

    __tablename__ = "kb_images"
    id: Mapped[int] = mapped_column(primary_key=True)
    site_id: Mapped[int] = mapped_column(ForeignKey("sites.id", ondelete="CASCADE"))
    storage_key: Mapped[str] = mapped_column(String(64), unique=True)
    content_type: Mapped[str] = mapped_column(String(CONTENT_TYPE_MAX))
    size: Mapped[int] = mapped_column(Integer)
    uploaded_by: Mapped[int | None] = mapped_column(ForeignKey("agents.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class KbEvent(Base):
    """What readers did with the knowledge base: the facts knowledge reports count."""

    __tablename__ = "kb_events"
    __table_args__ = (
        CheckConstraint(_in("kind", KB_EVENTS), name="kind"),
        CheckConstraint(_in("source", KB_SOURCES), name="source"),
        Index("ix_kb_events_site_created", "site_id", "created_at"),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    site_id: Mapped[int] = mapped_column(ForeignKey("sites.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(16))
    source: Mapped[str] = mapped_column(String(16))
    article_id: Mapped[int | None] = mapped_column(
        ForeignKey("kb_articles.id", ondelete="SET NULL"))
    conversation_id: Mapped[int | None] = mapped_column(
        ForeignKey("conversations.id", ondelete="CASCADE"), index=True)
    # The widget's random id for one visitor's pre-chat reading (views, then maybe a chat).
    session: Mapped[str | None] = mapped_column(String(64), index=True)
    query: Mapped[str | None] = mapped_column(String(200))
    results: Mapped[int | None] = mapped_column(Integer)
    language: Mapped[str | None] = mapped_column(String(LANGUAGE_MAX))
    agent_id: Mapped[int | None] = mapped_column(ForeignKey("agents.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
