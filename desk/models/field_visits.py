"""Field visits: a technician sent on site from a case (desk.field_visits)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, CheckConstraint, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from desk.limits import NAME_MAX
from desk.models.base import Base, _in, utcnow
from desk.models.work import PHONE_MAX, WHY_MAX

VISIT_STATUSES = ("scheduled", "done", "cancelled")
VISIT_OUTCOMES = ("resolved", "follow_up", "not_resolved", "no_access")
ADDRESS_MAX = 500
INSTRUCTIONS_MAX = 5000
WORK_MAX = 5000


class FieldVisit(Base):
    """A visit order on a case: where, whom to see, what to do, when and who goes; once done,
    the work, the time (a ``time_entries`` row, so the contract counts it) and the outcome.
    ``form`` keeps the visit form's definitions as they were when ordered, so the printed
    order still labels ``fields`` after the admin changes the form."""

    __tablename__ = "field_visits"
    __table_args__ = (
        CheckConstraint(_in("status", VISIT_STATUSES), name="status"),
        CheckConstraint(_in("outcome", VISIT_OUTCOMES), name="outcome"),
        # The visits list: one technician's, by date.
        Index("ix_field_visits_technician_at", "technician_id", "scheduled_at"),
        Index("ix_field_visits_scheduled_at", "scheduled_at"),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    conversation_id: Mapped[int] = mapped_column(
        ForeignKey("conversations.id", ondelete="CASCADE"), index=True)
    address: Mapped[str] = mapped_column(String(ADDRESS_MAX))
    contact_name: Mapped[str | None] = mapped_column(String(NAME_MAX))
    contact_phone: Mapped[str | None] = mapped_column(String(PHONE_MAX))
    instructions: Mapped[str] = mapped_column(Text, default="")
    scheduled_at: Mapped[datetime] = mapped_column()
    duration_min: Mapped[int] = mapped_column(Integer)
    technician_id: Mapped[int] = mapped_column(ForeignKey("agents.id", ondelete="CASCADE"))
    status: Mapped[str] = mapped_column(String(16), default="scheduled")
    form: Mapped[list[Any]] = mapped_column(JSON, default=list)
    fields: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    created_by: Mapped[int | None] = mapped_column(ForeignKey("agents.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    work_done: Mapped[str | None] = mapped_column(Text)
    outcome: Mapped[str | None] = mapped_column(String(16))
    time_entry_id: Mapped[int | None] = mapped_column(
        ForeignKey("time_entries.id", ondelete="SET NULL"))
    cancel_why: Mapped[str | None] = mapped_column(String(WHY_MAX))
    ended_by: Mapped[int | None] = mapped_column(ForeignKey("agents.id", ondelete="SET NULL"))
    ended_at: Mapped[datetime | None] = mapped_column()


class FieldVisitChange(Base):
    """One rescheduling of a visit: who, why, from and to."""

    __tablename__ = "field_visit_changes"
    id: Mapped[int] = mapped_column(primary_key=True)
    visit_id: Mapped[int] = mapped_column(
        ForeignKey("field_visits.id", ondelete="CASCADE"), index=True)
    old_at: Mapped[datetime] = mapped_column()
    new_at: Mapped[datetime] = mapped_column()
    by_id: Mapped[int | None] = mapped_column(ForeignKey("agents.id", ondelete="SET NULL"))
    why: Mapped[str] = mapped_column(String(WHY_MAX))
    at: Mapped[datetime] = mapped_column(default=utcnow)
