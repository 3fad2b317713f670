"""Who's On invitations as the reports count them (the visits themselves are live state in
Redis only, never records)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from desk.models.base import Base, _in, utcnow

INVITATION_OUTCOMES = ("open", "accepted", "declined")


class Invitation(Base):
    """One invitation shown to a visitor: by an agent (``agent_id``) or an auto-invite rule
    (``rule``, its index in the site's ``auto_invites``), and how it was answered (an open one
    was never answered: it lapsed)."""

    __tablename__ = "invitations"
    __table_args__ = (CheckConstraint(_in("outcome", INVITATION_OUTCOMES), name="outcome"),
                      Index("ix_invitations_sent_at", "sent_at"))
    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(String(32), unique=True)
    site_id: Mapped[int | None] = mapped_column(ForeignKey("sites.id", ondelete="SET NULL"))
    agent_id: Mapped[int | None] = mapped_column(ForeignKey("agents.id", ondelete="SET NULL"))
    rule: Mapped[int | None] = mapped_column(Integer)
    outcome: Mapped[str] = mapped_column(String(8), default="open")
    conversation_id: Mapped[int | None] = mapped_column(
        ForeignKey("conversations.id", ondelete="SET NULL"))
    sent_at: Mapped[datetime] = mapped_column(default=utcnow)
    answered_at: Mapped[datetime | None] = mapped_column()
