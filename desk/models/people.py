"""Who works the desk and whom it serves: sites, departments, groups, agents and their skills,
organisations, contacts, logins and canned responses.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    CheckConstraint,
    ForeignKey,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from desk.limits import (
    EMAIL_MAX,
    EXTERNAL_ID_MAX,
    IDENTITY_SECRET_MAX,
    LANGUAGE_MAX,
    NAME_MAX,
)
from desk.mail_rules import NOTIFY_MODES
from desk.models.base import (
    POLICIES,
    ROLES,
    Base,
    _in,
    utcnow,
)


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
    # Its external lookup provider (desk.lookup_rules.Provider: url, secret, timeout, cache
    # TTL); None: none. The secret is never returned whole by the API.
    lookup: Mapped[dict[str, Any] | None] = mapped_column(JSON)
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
    # Its own outbound SMTP relay (desk.smtp_relay, password included); None: the deployment's.
    smtp: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    # The ticket fields agents fill in (desk.ticket_fields: name, label, type, options,
    # required before resolving).
    fields: Mapped[list[Any]] = mapped_column(JSON, default=list)
    # The call form (desk.calls): definitions of the same shape, required ones at logging.
    call_fields: Mapped[list[Any]] = mapped_column(JSON, default=list)
    # The visit form (desk.field_visits): the same shape again, required ones when ordered.
    visit_fields: Mapped[list[Any]] = mapped_column(JSON, default=list)
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
    # The language of the contact's last form (desk.i18n), for mail outside a conversation.
    language: Mapped[str | None] = mapped_column(String(LANGUAGE_MAX))
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


class CannedResponse(Base):
    __tablename__ = "canned_responses"
    __table_args__ = (UniqueConstraint("department_id", "shortcut"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    department_id: Mapped[int] = mapped_column(ForeignKey("departments.id", ondelete="CASCADE"))
    shortcut: Mapped[str] = mapped_column(String(32))
    title: Mapped[str] = mapped_column(String(NAME_MAX))
    body: Mapped[str] = mapped_column(Text)
