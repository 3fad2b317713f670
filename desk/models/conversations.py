"""Conversations and what happens in them: messages, participants, files, routing decisions and
the audit trail.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    CheckConstraint,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from desk.limits import (
    CONTENT_TYPE_MAX,
    FILENAME_MAX,
    LANGUAGE_MAX,
    MESSAGE_ID_MAX,
    NAME_MAX,
    SUBJECT_MAX,
    TAG_MAX,
)
from desk.models.base import (
    AUTHORS,
    CHANNELS,
    STAFF_PUBLIC_SQL,
    STATUSES,
    VISIBILITIES,
    Base,
    _in,
    utcnow,
)


class Conversation(Base):
    __tablename__ = "conversations"
    __table_args__ = (
        CheckConstraint(_in("channel", CHANNELS), name="channel"),
        CheckConstraint(_in("status", STATUSES), name="status"),
        Index("ix_conversations_status_group", "status", "group_id"),
        # The closed-notice sweep (ingest.jobs.requeue_unmailed) reads the last day's closings.
        Index("ix_conversations_closed_at", "closed_at"),
        # Search pages (desk.search) walk conversations newest first by this key; its date
        # range is on updated_at too, so a range is one stretch of this index.
        Index("ix_conversations_updated_at_id", "updated_at", "id"),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    number: Mapped[str] = mapped_column(String(16), unique=True)
    channel: Mapped[str] = mapped_column(String(8))
    status: Mapped[str] = mapped_column(String(16), default="queued")
    priority: Mapped[int] = mapped_column(Integer, default=2)
    sla_due: Mapped[datetime | None] = mapped_column()
    department_id: Mapped[int | None] = mapped_column(
        ForeignKey("departments.id", ondelete="SET NULL")
    )
    group_id: Mapped[int | None] = mapped_column(ForeignKey("groups.id", ondelete="SET NULL"))
    assignee_id: Mapped[int | None] = mapped_column(
        ForeignKey("agents.id", ondelete="SET NULL"), index=True
    )
    contact_id: Mapped[int | None] = mapped_column(
        ForeignKey("contacts.id", ondelete="SET NULL"), index=True
    )
    site_id: Mapped[int | None] = mapped_column(ForeignKey("sites.id", ondelete="SET NULL"))
    parent_id: Mapped[int | None] = mapped_column(
        ForeignKey("conversations.id", ondelete="SET NULL")
    )
    subject: Mapped[str | None] = mapped_column(String(SUBJECT_MAX))
    topic: Mapped[str | None] = mapped_column(String(NAME_MAX))
    required_skills: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    custom_fields: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    # What the customer reads in (desk.i18n): the widget's or form's language; mail about
    # the conversation is written in it. None: the contact's, else English.
    language: Mapped[str | None] = mapped_column(String(LANGUAGE_MAX))
    last_seq: Mapped[int] = mapped_column(Integer, default=0)
    rating: Mapped[int | None] = mapped_column(Integer)
    rating_comment: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
    closed_at: Mapped[datetime | None] = mapped_column()
    # Who closed it, when the customer did on the case page (desk.mail_rules.CLOSED_BY_CONTACT);
    # None otherwise.
    closed_by: Mapped[str | None] = mapped_column(String(16))
    # Merged into another ticket (desk.ticket_work.merge): closed, its messages moved there;
    # its number still leads to the survivor (search, mail threading).
    merged_into_id: Mapped[int | None] = mapped_column(
        ForeignKey("conversations.id", ondelete="SET NULL")
    )
    # What solved it, written by staff when resolving (shown as a previous resolution).
    resolution_note: Mapped[str | None] = mapped_column(Text)


class Message(Base):
    __tablename__ = "messages"
    __table_args__ = (
        UniqueConstraint("conversation_id", "seq"),
        UniqueConstraint("conversation_id", "client_id"),
        CheckConstraint(_in("author_kind", AUTHORS), name="author_kind"),
        CheckConstraint(_in("visibility", VISIBILITIES), name="visibility"),
        # Only mail has a Message-ID: chat messages (the bulk) stay out of this index.
        Index("ix_messages_email_message_id", "email_message_id",
              postgresql_where=text("email_message_id IS NOT NULL"),
              sqlite_where=text("email_message_id IS NOT NULL")),
        # The reply sweep (ingest.jobs.requeue_unmailed) reads the last day's public staff
        # messages not from mail; visitors' chat lines (the bulk) stay out of this index.
        Index("ix_messages_staff_public", "created_at",
              postgresql_where=text(STAFF_PUBLIC_SQL), sqlite_where=text(STAFF_PUBLIC_SQL)),
    )
    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"),
                                    primary_key=True)
    conversation_id: Mapped[int] = mapped_column(
        ForeignKey("conversations.id", ondelete="CASCADE")
    )
    seq: Mapped[int] = mapped_column(Integer)
    author_kind: Mapped[str] = mapped_column(String(16))
    author_id: Mapped[int | None] = mapped_column(Integer)
    author_name: Mapped[str | None] = mapped_column(String(NAME_MAX))
    visibility: Mapped[str] = mapped_column(String(16), default="public")
    client_id: Mapped[str | None] = mapped_column(String(64))
    body: Mapped[str] = mapped_column(Text)
    body_html: Mapped[str | None] = mapped_column(Text)
    # For email: the RFC 5322 Message-ID of the mail this message came from or went out as.
    email_message_id: Mapped[str | None] = mapped_column(String(MESSAGE_ID_MAX))
    # For whispers: the coached agent, the only non-supervisor who may read it.
    whisper_to: Mapped[int | None] = mapped_column(Integer)
    # The message's attachments as every reader is shown them (``desk.attachments.file_ref``:
    # id, name, size, type, preview), written with them, so a replay reads no second table.
    files: Mapped[list[dict[str, Any]] | None] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class ConversationTag(Base):
    """A tag on a conversation (``desk.tags``: lower-cased, 1..TAG_MAX characters)."""

    __tablename__ = "conversation_tags"
    # The search filter asks "which conversations carry this tag".
    __table_args__ = (Index("ix_conversation_tags_tag", "tag"),)
    conversation_id: Mapped[int] = mapped_column(
        ForeignKey("conversations.id", ondelete="CASCADE"), primary_key=True
    )
    tag: Mapped[str] = mapped_column(String(TAG_MAX), primary_key=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Participant(Base):
    """Staff taking part in a conversation besides the assignee: co-chat or silent monitor."""

    __tablename__ = "participants"
    __table_args__ = (CheckConstraint(_in("role", ("cochat", "monitor")), name="role"),)
    conversation_id: Mapped[int] = mapped_column(
        ForeignKey("conversations.id", ondelete="CASCADE"), primary_key=True
    )
    agent_id: Mapped[int] = mapped_column(ForeignKey("agents.id", ondelete="CASCADE"),
                                          primary_key=True)
    role: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Attachment(Base):
    __tablename__ = "attachments"
    id: Mapped[int] = mapped_column(primary_key=True)
    conversation_id: Mapped[int] = mapped_column(
        ForeignKey("conversations.id", ondelete="CASCADE"), index=True
    )
    message_id: Mapped[int | None] = mapped_column(ForeignKey("messages.id", ondelete="CASCADE"))
    storage_key: Mapped[str] = mapped_column(String(64), unique=True)
    filename: Mapped[str] = mapped_column(String(FILENAME_MAX))
    content_type: Mapped[str] = mapped_column(String(CONTENT_TYPE_MAX),
                                              default="application/octet-stream")
    size: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class RoutingDecision(Base):
    """Why a conversation went where it went: candidates considered and the reason."""

    __tablename__ = "routing_decisions"
    id: Mapped[int] = mapped_column(primary_key=True)
    conversation_id: Mapped[int] = mapped_column(
        ForeignKey("conversations.id", ondelete="CASCADE"), index=True
    )
    agent_id: Mapped[int | None] = mapped_column(ForeignKey("agents.id", ondelete="SET NULL"))
    action: Mapped[str] = mapped_column(String(32))
    reason: Mapped[str] = mapped_column(Text, default="")
    candidates: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class AuditEvent(Base):
    __tablename__ = "audit_events"
    # A conversation's timeline reads its rows by target (desk.audit).
    __table_args__ = (Index("ix_audit_events_target", "target"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("agents.id", ondelete="SET NULL"))
    action: Mapped[str] = mapped_column(String(64))
    target: Mapped[str] = mapped_column(String(128), default="")
    data: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
