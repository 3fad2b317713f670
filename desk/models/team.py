"""Agents talking among themselves: rooms and direct threads, their members and messages.

Never a customer's: nothing here is joined to a conversation, and no visitor path reads it.
A thread numbers its messages with a gap-free ``seq`` (``desk.seq``), as a conversation does,
so a console resumes after the last one it holds and loses nothing across a reconnect.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    CheckConstraint,
    ForeignKey,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from desk.models.base import Base, _in, utcnow

THREAD_KINDS = ("room", "dm")


class TeamThread(Base):
    """A named room, or the one direct thread of two agents (``dm_key`` "<low id>:<high id>")."""

    __tablename__ = "team_threads"
    __table_args__ = (CheckConstraint(_in("kind", THREAD_KINDS), name="kind"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(8))
    name: Mapped[str | None] = mapped_column(String(80))
    dm_key: Mapped[str | None] = mapped_column(String(24), unique=True)
    last_seq: Mapped[int] = mapped_column(Integer, default=0)
    created_by: Mapped[int | None] = mapped_column(ForeignKey("agents.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class TeamMember(Base):
    __tablename__ = "team_members"
    thread_id: Mapped[int] = mapped_column(
        ForeignKey("team_threads.id", ondelete="CASCADE"), primary_key=True)
    agent_id: Mapped[int] = mapped_column(
        ForeignKey("agents.id", ondelete="CASCADE"), primary_key=True, index=True)
    last_read_seq: Mapped[int] = mapped_column(Integer, default=0)


class TeamMessage(Base):
    __tablename__ = "team_messages"
    __table_args__ = (UniqueConstraint("thread_id", "seq"),
                      UniqueConstraint("thread_id", "client_id"))
    id: Mapped[int] = mapped_column(primary_key=True)
    thread_id: Mapped[int] = mapped_column(ForeignKey("team_threads.id", ondelete="CASCADE"))
    seq: Mapped[int] = mapped_column(Integer)
    author_id: Mapped[int | None] = mapped_column(ForeignKey("agents.id", ondelete="SET NULL"))
    author_name: Mapped[str] = mapped_column(String(120))
    text: Mapped[str] = mapped_column(Text)
    client_id: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
