"""The records: every conversation, message, ticket, routing decision and audit event.

SQLAlchemy 2 declarative models, portable between SQLite (embedded default) and PostgreSQL.
Enumerations are stored as short strings checked by constraints so both backends agree.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    CheckConstraint,
    Date,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

from desk.contracts import KINDS as CONTRACT_KINDS
from desk.kb.rules import KB_AUDIENCES, KB_EVENTS, KB_SOURCES, KB_STATUSES
from desk.limits import (
    ARTICLE_DESCRIPTION_MAX,
    ARTICLE_TITLE_MAX,
    CONTENT_TYPE_MAX,
    EMAIL_MAX,
    EXTERNAL_ID_MAX,
    FILENAME_MAX,
    IDENTITY_SECRET_MAX,
    LANGUAGE_MAX,
    MAILBOX_TEXT_MAX,
    MESSAGE_ID_MAX,
    NAME_MAX,
    SLUG_MAX,
    SUBJECT_MAX,
)
from desk.mail_rules import NOTIFY_MODES, STAFF_AUTHORS

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

ROLES = ("agent", "supervisor", "admin")
CHANNELS = ("chat", "email", "portal")
# ``noise``: an auto-reply or bulk mail that joined no ticket; never routed until promoted.
STATUSES = ("queued", "offered", "active", "pending", "resolved", "closed", "noise")
AUTHORS = ("contact", "agent", "supervisor", "system")
VISIBILITIES = ("public", "internal", "whisper")
POLICIES = ("least_loaded", "round_robin", "manual")
MAILBOX_SECURITY = ("none", "starttls", "tls")

def utcnow() -> datetime:
    return datetime.now(UTC)


def _in(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


# The SQL side of ``desk.mail_rules.reply_is_mailed`` for the message alone (the channel is the
# conversation's): what the reply sweep's index holds.
STAFF_PUBLIC_SQL = (f"{_in('author_kind', tuple(sorted(STAFF_AUTHORS)))} "
                    "AND visibility = 'public' AND email_message_id IS NULL")


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)
    type_annotation_map = {datetime: DateTime(timezone=True), dict[str, Any]: JSON}


class Site(Base):
    """A website embedding the widget: its public key and the origins allowed to open sockets."""

    __tablename__ = "sites"
    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(NAME_MAX), unique=True)
    allowed_origins: Mapped[list[str]] = mapped_column(JSON, default=list)
    typing_preview: Mapped[bool] = mapped_column(Boolean, default=True)
    # Pre-chat form: departments offered, topic tree, per-topic questionnaire fields.
    config: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    # The host site signs the identities it passes to the widget with it (desk.identity);
    # None: identity verification off. Never returned whole by the API.
    identity_secret: Mapped[str | None] = mapped_column(String(IDENTITY_SECRET_MAX))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Department(Base):
    __tablename__ = "departments"
    __table_args__ = (CheckConstraint(_in("notify_mode", NOTIFY_MODES), name="notify_mode"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(NAME_MAX), unique=True)
    email_address: Mapped[str | None] = mapped_column(String(EMAIL_MAX))
    # What a mail about new activity on a case carries (desk.mail_rules.NOTIFY_MODES): the
    # reply's text ("full") or only word of it and the case link ("link").
    notify_mode: Mapped[str] = mapped_column(String(8), default="full")
    front_group_id: Mapped[int | None] = mapped_column(
        ForeignKey("groups.id", use_alter=True, ondelete="SET NULL")
    )
    # The inactivity ladder (desk.inactivity): None is the default 7/14/21 days, [] none.
    ladder: Mapped[list[Any] | None] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Group(Base):
    __tablename__ = "groups"
    __table_args__ = (
        UniqueConstraint("department_id", "name"),
        CheckConstraint(_in("policy", POLICIES), name="policy"),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    department_id: Mapped[int] = mapped_column(ForeignKey("departments.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(NAME_MAX))
    policy: Mapped[str] = mapped_column(String(16), default="least_loaded")
    offer_timeout_s: Mapped[int] = mapped_column(Integer, default=30)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Agent(Base):
    __tablename__ = "agents"
    __table_args__ = (CheckConstraint(_in("role", ROLES), name="role"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(EMAIL_MAX), unique=True)
    display_name: Mapped[str] = mapped_column(String(NAME_MAX))
    password_hash: Mapped[str] = mapped_column(String(255))
    role: Mapped[str] = mapped_column(String(16), default="agent")
    chat_capacity: Mapped[int] = mapped_column(Integer, default=3)
    ticket_capacity: Mapped[int] = mapped_column(Integer, default=10)
    # Bumped on password change and forced logout: every session signed with an older value dies.
    session_version: Mapped[int] = mapped_column(Integer, default=1)
    is_active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    groups: Mapped[list[AgentGroup]] = relationship(cascade="all, delete-orphan", lazy="selectin")
    skills: Mapped[list[AgentSkill]] = relationship(cascade="all, delete-orphan", lazy="selectin")


class AgentGroup(Base):
    __tablename__ = "agent_groups"
    agent_id: Mapped[int] = mapped_column(ForeignKey("agents.id", ondelete="CASCADE"),
                                          primary_key=True)
    group_id: Mapped[int] = mapped_column(ForeignKey("groups.id", ondelete="CASCADE"),
                                          primary_key=True)
    # The agent's own on/off toggle for this group; kept here so a Redis rebuild restores it.
    active: Mapped[bool] = mapped_column(Boolean, default=False)


class Skill(Base):
    __tablename__ = "skills"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)


class AgentSkill(Base):
    __tablename__ = "agent_skills"
    __table_args__ = (CheckConstraint("level BETWEEN 1 AND 10", name="level"),)
    agent_id: Mapped[int] = mapped_column(ForeignKey("agents.id", ondelete="CASCADE"),
                                          primary_key=True)
    skill_id: Mapped[int] = mapped_column(ForeignKey("skills.id", ondelete="CASCADE"),
                                          primary_key=True)
    level: Mapped[int] = mapped_column(Integer, default=1)


class Organisation(Base):
    """A customer company; contacts join it by email domain or phone match."""

    __tablename__ = "organisations"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(NAME_MAX), unique=True)
    domains: Mapped[list[str]] = mapped_column(JSON, default=list)
    phones: Mapped[list[str]] = mapped_column(JSON, default=list)
    priority: Mapped[int] = mapped_column(Integer, default=2)
    # Members signed in to the case page see every case of the organisation (desk.portal).
    share_cases: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Contact(Base):
    """A visitor or customer. ``email`` is only trusted when ``email_verified``.

    ``site_id`` + ``external_id``: the host site's own user id, from an identity the site
    signed (desk.identity); ``site_id`` + ``visitor_key``: the hash of the visitor id a
    browser keeps, on the anonymous contact that browser's widget made (desk.contacts)."""

    __tablename__ = "contacts"
    __table_args__ = (UniqueConstraint("site_id", "external_id"),
                      UniqueConstraint("site_id", "visitor_key"))
    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str | None] = mapped_column(String(EMAIL_MAX), index=True)
    email_verified: Mapped[bool] = mapped_column(Boolean, default=False)
    name: Mapped[str | None] = mapped_column(String(NAME_MAX))
    phone: Mapped[str | None] = mapped_column(String(32))
    organisation_id: Mapped[int | None] = mapped_column(
        ForeignKey("organisations.id", ondelete="SET NULL")
    )
    undeliverable: Mapped[bool] = mapped_column(Boolean, default=False)
    # Per-contact random value mixed into visitor tokens so one can be revoked alone.
    token_nonce: Mapped[str] = mapped_column(String(32), default="")
    site_id: Mapped[int | None] = mapped_column(ForeignKey("sites.id", ondelete="SET NULL"))
    external_id: Mapped[str | None] = mapped_column(String(EXTERNAL_ID_MAX))
    visitor_key: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


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
    last_seq: Mapped[int] = mapped_column(Integer, default=0)
    rating: Mapped[int | None] = mapped_column(Integer)
    rating_comment: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
    closed_at: Mapped[datetime | None] = mapped_column()
    # Who closed it, when the customer did on the case page (desk.mail_rules.CLOSED_BY_CONTACT);
    # None otherwise.
    closed_by: Mapped[str | None] = mapped_column(String(16))


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


class AgentSession(Base):
    """A login. The cookie carries a signed random id; revoking the row ends the session."""

    __tablename__ = "agent_sessions"
    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    agent_id: Mapped[int] = mapped_column(ForeignKey("agents.id", ondelete="CASCADE"), index=True)
    csrf_token: Mapped[str] = mapped_column(String(64))
    session_version: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime] = mapped_column()
    revoked_at: Mapped[datetime | None] = mapped_column()


class LoginAttempt(Base):
    """Failed logins, counted per email and per client address for rate limiting."""

    __tablename__ = "login_attempts"
    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(EMAIL_MAX), index=True)
    client: Mapped[str] = mapped_column(String(64), index=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)


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


class Mailbox(Base):
    """A department's IMAP mailbox. ``password`` is never logged or returned by the API."""

    __tablename__ = "mailboxes"
    __table_args__ = (CheckConstraint(_in("security", MAILBOX_SECURITY), name="security"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    department_id: Mapped[int] = mapped_column(ForeignKey("departments.id", ondelete="CASCADE"))
    host: Mapped[str] = mapped_column(String(MAILBOX_TEXT_MAX))
    port: Mapped[int] = mapped_column(Integer, default=993)
    security: Mapped[str] = mapped_column(String(16), default="tls")
    username: Mapped[str] = mapped_column(String(MAILBOX_TEXT_MAX))
    password: Mapped[str] = mapped_column(String(MAILBOX_TEXT_MAX))
    folder: Mapped[str] = mapped_column(String(MAILBOX_TEXT_MAX), default="INBOX")
    poll_interval_s: Mapped[int] = mapped_column(Integer, default=60)
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    uidvalidity: Mapped[int | None] = mapped_column(BigInteger)
    last_uid: Mapped[int] = mapped_column(BigInteger, default=0)
    last_error: Mapped[str | None] = mapped_column(Text)
    # Ticket rules (desk.ticket_rules): keyword / sender domain -> priority and required skills.
    rules: Mapped[list[Any]] = mapped_column(JSON, default=list)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class InboundMail(Base):
    """One imported (or quarantined/ignored) mail; the unique key makes import exactly-once."""

    __tablename__ = "inbound_mails"
    __table_args__ = (UniqueConstraint("mailbox_id", "message_key"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    mailbox_id: Mapped[int] = mapped_column(ForeignKey("mailboxes.id", ondelete="CASCADE"))
    message_key: Mapped[str] = mapped_column(String(MESSAGE_ID_MAX))
    uidvalidity: Mapped[int | None] = mapped_column(BigInteger)
    uid: Mapped[int | None] = mapped_column(BigInteger)
    status: Mapped[str] = mapped_column(String(16), default="imported")
    conversation_id: Mapped[int | None] = mapped_column(
        ForeignKey("conversations.id", ondelete="SET NULL")
    )
    raw: Mapped[bytes | None] = mapped_column(LargeBinary)
    error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class OutboundMail(Base):
    """A mail to send; ``message_id`` is the idempotency key of the sending job."""

    __tablename__ = "outbound_mails"
    id: Mapped[int] = mapped_column(primary_key=True)
    message_id: Mapped[str] = mapped_column(String(MESSAGE_ID_MAX), unique=True)
    conversation_id: Mapped[int | None] = mapped_column(
        ForeignKey("conversations.id", ondelete="CASCADE"), index=True
    )
    kind: Mapped[str] = mapped_column(String(32))
    # What of the conversation it carries (``seq-<n>`` for a reply, the closing for a closed
    # notice): the sweep that mails what no job did looks rows up by it.
    key: Mapped[str | None] = mapped_column(String(64))
    to_address: Mapped[str] = mapped_column(String(EMAIL_MAX))
    subject: Mapped[str] = mapped_column(String(SUBJECT_MAX))
    body: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(16), default="queued")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    # While ``sending``: the worker holding it (its attempt) renews this; past it, another takes
    # the mail over (ingest.outbound.take).
    lease_until: Mapped[datetime | None] = mapped_column()
    last_error: Mapped[str | None] = mapped_column(Text)
    sent_at: Mapped[datetime | None] = mapped_column()
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    # The attachments it carries (ids), fixed when queued like the threading headers.
    attachment_ids: Mapped[list[int] | None] = mapped_column(JSON)
    # Threading headers fixed when the mail is queued, so every retry sends identical bytes.
    in_reply_to: Mapped[str | None] = mapped_column(String(MESSAGE_ID_MAX))
    references: Mapped[str | None] = mapped_column(Text)


class CannedResponse(Base):
    __tablename__ = "canned_responses"
    __table_args__ = (UniqueConstraint("department_id", "shortcut"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    department_id: Mapped[int] = mapped_column(ForeignKey("departments.id", ondelete="CASCADE"))
    shortcut: Mapped[str] = mapped_column(String(32))
    title: Mapped[str] = mapped_column(String(NAME_MAX))
    body: Mapped[str] = mapped_column(Text)


class EmailParticipant(Base):
    """Addresses that have written into (or been copied on) an email conversation.

    Only these may continue the conversation by replying; anyone else who names its number or
    Message-ID gets a new linked ticket (ingest.threading).
    """

    __tablename__ = "email_participants"
    conversation_id: Mapped[int] = mapped_column(
        ForeignKey("conversations.id", ondelete="CASCADE"), primary_key=True
    )
    email: Mapped[str] = mapped_column(String(EMAIL_MAX), primary_key=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


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


class BusinessCalendar(Base):
    """Opening hours, time zone and holidays (desk.business_hours parses ``definition``)."""

    __tablename__ = "business_calendars"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(NAME_MAX), unique=True)
    definition: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class SlaPolicy(Base):
    """Targets in business seconds on ``calendar_id`` (None: 24/7), for a department (None:
    all) under ``conditions`` (desk.sla); the first match in order wins."""

    __tablename__ = "sla_policies"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(NAME_MAX), unique=True)
    department_id: Mapped[int | None] = mapped_column(
        ForeignKey("departments.id", ondelete="CASCADE"))
    position: Mapped[int] = mapped_column(Integer, default=0)
    conditions: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    targets: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    calendar_id: Mapped[int | None] = mapped_column(
        ForeignKey("business_calendars.id", ondelete="RESTRICT"))
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


FACT_KINDS = ("created", "assigned", "transferred", "first_response", "response", "resolved",
              "reopened", "closed", "rating", "sla_met", "sla_breached", "abandoned")


class ReportFact(Base):
    """One reporting event, written in the transaction of what it records (desk.facts).

    The dimensions are copied from the conversation at the time of the event, so a report of
    last month keeps counting a conversation where it was then, after a transfer."""

    __tablename__ = "report_facts"
    __table_args__ = (
        CheckConstraint(_in("kind", FACT_KINDS), name="kind"),
        # Every report reads one kind over a date range (desk.reports).
        Index("ix_report_facts_kind_at", "kind", "at"),
        Index("ix_report_facts_conversation", "conversation_id"),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))
    conversation_id: Mapped[int] = mapped_column(
        ForeignKey("conversations.id", ondelete="CASCADE"))
    at: Mapped[datetime] = mapped_column()
    channel: Mapped[str] = mapped_column(String(8))
    department_id: Mapped[int | None] = mapped_column(Integer)
    group_id: Mapped[int | None] = mapped_column(Integer)
    agent_id: Mapped[int | None] = mapped_column(Integer)
    topic: Mapped[str | None] = mapped_column(String(NAME_MAX))
    organisation_id: Mapped[int | None] = mapped_column(Integer)
    priority: Mapped[int] = mapped_column(Integer, default=2)
    # Seconds: the wait, response, resolution or handle time the fact measures; or the rating.
    value: Mapped[float | None] = mapped_column(Float)
    data: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)


class ConversationSla(Base):
    """A conversation's service-level clocks (desk.sla.Clock per target, column per field)
    and its inactivity-ladder anchor."""

    __tablename__ = "conversation_slas"
    conversation_id: Mapped[int] = mapped_column(
        ForeignKey("conversations.id", ondelete="CASCADE"), primary_key=True)
    policy_id: Mapped[int | None] = mapped_column(
        ForeignKey("sla_policies.id", ondelete="SET NULL"))
    calendar_id: Mapped[int | None] = mapped_column(
        ForeignKey("business_calendars.id", ondelete="SET NULL"))
    paused: Mapped[bool] = mapped_column(Boolean, default=False)
    pending_since: Mapped[datetime | None] = mapped_column()
    first_response_target_s: Mapped[int | None] = mapped_column(Integer)
    first_response_started_at: Mapped[datetime | None] = mapped_column()
    first_response_used_s: Mapped[float] = mapped_column(Float, default=0.0)
    first_response_running_since: Mapped[datetime | None] = mapped_column()
    first_response_due: Mapped[datetime | None] = mapped_column()
    first_response_met_at: Mapped[datetime | None] = mapped_column()
    first_response_breached_at: Mapped[datetime | None] = mapped_column()
    next_response_target_s: Mapped[int | None] = mapped_column(Integer)
    next_response_started_at: Mapped[datetime | None] = mapped_column()
    next_response_used_s: Mapped[float] = mapped_column(Float, default=0.0)
    next_response_running_since: Mapped[datetime | None] = mapped_column()
    next_response_due: Mapped[datetime | None] = mapped_column()
    next_response_met_at: Mapped[datetime | None] = mapped_column()
    next_response_breached_at: Mapped[datetime | None] = mapped_column()
    resolution_target_s: Mapped[int | None] = mapped_column(Integer)
    resolution_started_at: Mapped[datetime | None] = mapped_column()
    resolution_used_s: Mapped[float] = mapped_column(Float, default=0.0)
    resolution_running_since: Mapped[datetime | None] = mapped_column()
    resolution_due: Mapped[datetime | None] = mapped_column()
    resolution_met_at: Mapped[datetime | None] = mapped_column()
    resolution_breached_at: Mapped[datetime | None] = mapped_column()


class DueTimer(Base):
    """The index of what comes due: one row per (conversation, kind), read by due_at.

    ``instance`` names the cycle the timer belongs to (a clock's start, a ladder anchor and
    step); a firing is recorded under it (TimerFiring), so it happens once."""

    __tablename__ = "due_timers"
    __table_args__ = (UniqueConstraint("conversation_id", "kind"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    conversation_id: Mapped[int] = mapped_column(
        ForeignKey("conversations.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(48))
    instance: Mapped[str] = mapped_column(String(96))
    due_at: Mapped[datetime] = mapped_column(index=True)


class TimerFiring(Base):
    """Every timer that fired; the unique key is the idempotency key of the firing."""

    __tablename__ = "timer_firings"
    __table_args__ = (UniqueConstraint("kind", "conversation_id", "instance"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(48))
    conversation_id: Mapped[int] = mapped_column(
        ForeignKey("conversations.id", ondelete="CASCADE"))
    instance: Mapped[str] = mapped_column(String(96))
    due_at: Mapped[datetime] = mapped_column()
    fired_at: Mapped[datetime] = mapped_column(default=utcnow)
    outcome: Mapped[str] = mapped_column(String(255), default="")


class AutomationRule(Base):
    """An admin-defined rule (desk.automation); every change is kept as a RuleVersion."""

    __tablename__ = "automation_rules"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(NAME_MAX), unique=True)
    version: Mapped[int] = mapped_column(Integer, default=1)
    enabled: Mapped[bool] = mapped_column(Boolean, default=False)
    # Why the desk turned it off (a group it names was deleted, ...): shown to admins.
    disabled_reason: Mapped[str | None] = mapped_column(Text)
    definition: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class RuleVersion(Base):
    __tablename__ = "rule_versions"
    rule_id: Mapped[int] = mapped_column(
        ForeignKey("automation_rules.id", ondelete="CASCADE"), primary_key=True)
    version: Mapped[int] = mapped_column(Integer, primary_key=True)
    definition: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("agents.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Contract(Base):
    """An organisation's support contract (hours bought) or warranty (desk.contracts)."""

    __tablename__ = "contracts"
    __table_args__ = (CheckConstraint(_in("kind", CONTRACT_KINDS), name="kind"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    organisation_id: Mapped[int] = mapped_column(
        ForeignKey("organisations.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(16))
    name: Mapped[str] = mapped_column(String(NAME_MAX))
    starts_on: Mapped[date] = mapped_column(Date)
    ends_on: Mapped[date | None] = mapped_column(Date)  # inclusive; none: open-ended
    minutes_contracted: Mapped[int | None] = mapped_column(Integer)  # none: no hours
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class TimeEntry(Base):
    """Minutes an agent spent on a conversation, counted against a contract when one was in
    force (``desk.contracts.charged_to``)."""

    __tablename__ = "time_entries"
    id: Mapped[int] = mapped_column(primary_key=True)
    conversation_id: Mapped[int] = mapped_column(
        ForeignKey("conversations.id", ondelete="CASCADE"), index=True)
    agent_id: Mapped[int | None] = mapped_column(ForeignKey("agents.id", ondelete="SET NULL"))
    contract_id: Mapped[int | None] = mapped_column(
        ForeignKey("contracts.id", ondelete="SET NULL"), index=True)
    minutes: Mapped[int] = mapped_column(Integer)
    note: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
