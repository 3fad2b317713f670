"""An organisation's contracts and warranties, and the time logged against them."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import (
    CheckConstraint,
    Date,
    ForeignKey,
    Integer,
    String,
    Text,
)
from sqlalchemy.orm import Mapped, mapped_column

from desk.contracts import KINDS as CONTRACT_KINDS
from desk.limits import (
    NAME_MAX,
)
from desk.models.base import (
    Base,
    _in,
    utcnow,
)


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
