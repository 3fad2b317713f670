"""Mailboxes and the mail that passes through them, in and out."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    CheckConstraint,
    ForeignKey,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from desk.limits import (
    EMAIL_MAX,
    MAILBOX_TEXT_MAX,
    MESSAGE_ID_MAX,
    SUBJECT_MAX,
)
from desk.mail_rules import PARTICIPANT_ROLES
from desk.models.base import (
    MAILBOX_SECURITY,
    Base,
    _in,
    utcnow,
)


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
    # Copies (the conversation's ``cc`` participants when queued), fixed like the headers.
    cc: Mapped[list[str] | None] = mapped_column(JSON)
    # Threading headers fixed when the mail is queued, so every retry sends identical bytes.
    in_reply_to: Mapped[str | None] = mapped_column(String(MESSAGE_ID_MAX))
    references: Mapped[str | None] = mapped_column(Text)


class EmailParticipant(Base):
    """Addresses that have written into (or been copied on) an email conversation.

    Only these may continue the conversation by replying; anyone else who names its number or
    Message-ID gets a new linked ticket (ingest.threading).
    """

    __tablename__ = "email_participants"
    __table_args__ = (CheckConstraint(_in("role", PARTICIPANT_ROLES), name="role"),)
    conversation_id: Mapped[int] = mapped_column(
        ForeignKey("conversations.id", ondelete="CASCADE"), primary_key=True
    )
    email: Mapped[str] = mapped_column(String(EMAIL_MAX), primary_key=True)
    # How the address came to the conversation (desk.mail_rules.PARTICIPANT_ROLES): it wrote
    # or was copied on a mail (``mail``), staff copy it on every reply (``cc``), or a ticket
    # was forwarded to it (``outside``: its answers are internal notes).
    role: Mapped[str] = mapped_column(String(8), default="mail")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
