"""What agents record about their work besides messages: logged phone calls, commitments on a
case, and internal tasks."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, CheckConstraint, ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from desk.limits import NAME_MAX
from desk.models.base import Base, _in, utcnow

DIRECTIONS = ("inbound", "outbound")
COMMITMENT_STATUSES = ("pending", "done", "cancelled")
PHONE_MAX = 32
RESOLUTION_MAX = 500
WHY_MAX = 500
TASK_STATUSES = ("open", "done")
TITLE_MAX = 200


class CallLog(Base):
    """A phone contact an agent logged (desk.calls); its conversation (channel ``phone``)
    carries the number, the form's fields and the notes."""

    __tablename__ = "call_logs"
    __table_args__ = (CheckConstraint(_in("direction", DIRECTIONS), name="direction"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    conversation_id: Mapped[int] = mapped_column(
        ForeignKey("conversations.id", ondelete="CASCADE"), unique=True)
    direction: Mapped[str] = mapped_column(String(8))
    phone: Mapped[str] = mapped_column(String(PHONE_MAX))
    duration_s: Mapped[int] = mapped_column(Integer)
    resolution: Mapped[str | None] = mapped_column(String(RESOLUTION_MAX))
    agent_id: Mapped[int | None] = mapped_column(ForeignKey("agents.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Commitment(Base):
    """An action an agent committed to on a case (desk.commitments), due by ``due_at``."""

    __tablename__ = "commitments"
    __table_args__ = (
        CheckConstraint(_in("status", COMMITMENT_STATUSES), name="status"),
        # Pending per owner, soonest first.
        Index("ix_commitments_owner_status_due", "owner_id", "status", "due_at"),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    conversation_id: Mapped[int] = mapped_column(
        ForeignKey("conversations.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(NAME_MAX))
    owner_id: Mapped[int] = mapped_column(ForeignKey("agents.id", ondelete="CASCADE"))
    due_at: Mapped[datetime] = mapped_column()
    public: Mapped[bool] = mapped_column(Boolean, default=False)
    status: Mapped[str] = mapped_column(String(16), default="pending")
    created_by: Mapped[int | None] = mapped_column(ForeignKey("agents.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    done_at: Mapped[datetime | None] = mapped_column()


class CommitmentChange(Base):
    """One change of a commitment's due date: who, why, from and to."""

    __tablename__ = "commitment_changes"
    id: Mapped[int] = mapped_column(primary_key=True)
    commitment_id: Mapped[int] = mapped_column(
        ForeignKey("commitments.id", ondelete="CASCADE"), index=True)
    old_due: Mapped[datetime] = mapped_column()
    new_due: Mapped[datetime] = mapped_column()
    by_id: Mapped[int | None] = mapped_column(ForeignKey("agents.id", ondelete="SET NULL"))
    why: Mapped[str] = mapped_column(String(WHY_MAX))
    at: Mapped[datetime] = mapped_column(default=utcnow)


class Task(Base):
    """An internal task (desk.tasks): an owner, a due time, a reminder sent once."""

    __tablename__ = "tasks"
    __table_args__ = (
        CheckConstraint(_in("status", TASK_STATUSES), name="status"),
        Index("ix_tasks_owner_status_due", "owner_id", "status", "due_at"),
        # The reminder sweep (ingest.task_reminders) reads the open tasks whose time came.
        Index("ix_tasks_remind", "reminded_at", "remind_at"),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    title: Mapped[str] = mapped_column(String(TITLE_MAX))
    owner_id: Mapped[int] = mapped_column(ForeignKey("agents.id", ondelete="CASCADE"))
    due_at: Mapped[datetime | None] = mapped_column()
    remind_at: Mapped[datetime | None] = mapped_column()
    reminded_at: Mapped[datetime | None] = mapped_column()
    status: Mapped[str] = mapped_column(String(8), default="open")
    created_by: Mapped[int | None] = mapped_column(ForeignKey("agents.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    done_at: Mapped[datetime | None] = mapped_column()


class TaskLink(Base):
    """A case, chat or call log (all conversations) a task is about."""

    __tablename__ = "task_links"
    task_id: Mapped[int] = mapped_column(ForeignKey("tasks.id", ondelete="CASCADE"),
                                         primary_key=True)
    conversation_id: Mapped[int] = mapped_column(
        ForeignKey("conversations.id", ondelete="CASCADE"), primary_key=True, index=True)
