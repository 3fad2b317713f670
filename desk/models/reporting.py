"""The report facts: one row per event the reports count."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    CheckConstraint,
    Date,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
)
from sqlalchemy.orm import Mapped, mapped_column

from desk.limits import (
    NAME_MAX,
)
from desk.models.base import (
    Base,
    _in,
    utcnow,
)

FACT_KINDS = ("created", "assigned", "transferred", "first_response", "response", "resolved",
              "reopened", "closed", "rating", "sla_met", "sla_breached", "abandoned",
              "time_logged")


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


ROLLUP_DIMENSIONS = ("group", "agent", "channel", "topic", "organisation")


class ReportRollup(Base):
    """One closed local day's facts of one kind, for one value of one dimension in one group
    (desk.report_rollups): their count and their durations' sum and mergeable histogram.
    Rebuilt whole from the day's facts, never updated: the day's ReportRollupDay says which
    facts it holds."""

    __tablename__ = "report_rollups"
    __table_args__ = (
        CheckConstraint(_in("dimension", ROLLUP_DIMENSIONS), name="dimension"),
        Index("ix_report_rollups_read", "zone", "dimension", "day"),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    zone: Mapped[str] = mapped_column(String(64))
    day: Mapped[date] = mapped_column(Date)
    kind: Mapped[str] = mapped_column(String(16))
    dimension: Mapped[str] = mapped_column(String(16))
    # The scope columns (desk.reports.scope): every row has its group; an agent's is in the
    # ``agent`` dimension only.
    group_id: Mapped[int | None] = mapped_column(Integer)
    agent_id: Mapped[int | None] = mapped_column(Integer)
    # The dimension's value as text (a channel, a topic, an organisation's id); none: none.
    key: Mapped[str | None] = mapped_column(String(NAME_MAX))
    facts: Mapped[int] = mapped_column(Integer)
    # The durations (``value``) among them: their sum in microseconds and histogram
    # (desk.report_math.histogram as [bucket, count, least, greatest] rows).
    total_us: Mapped[int] = mapped_column(BigInteger)
    histogram: Mapped[list[list[float]]] = mapped_column(JSON)


class ReportRollupDay(Base):
    """A local day of ``zone`` rolled up: its ReportRollup rows hold its facts with ids up to
    ``through_id`` (a later fact of that day is read from the facts until the next build)."""

    __tablename__ = "report_rollup_days"
    zone: Mapped[str] = mapped_column(String(64), primary_key=True)
    day: Mapped[date] = mapped_column(Date, primary_key=True)
    through_id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"))
    built_at: Mapped[datetime] = mapped_column(default=utcnow)


SCHEDULE_PERIODS = ("daily", "weekly")


class ReportSchedule(Base):
    """A report its owner has mailed to chosen recipients once per day or week, by the worker
    (ingest.report_mail), with the owner's scope. ``last_period`` is the start (a local date)
    of the last period mailed: moving it is the claim that makes each period's mail once."""

    __tablename__ = "report_schedules"
    __table_args__ = (CheckConstraint(_in("period", SCHEDULE_PERIODS), name="period"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    agent_id: Mapped[int] = mapped_column(ForeignKey("agents.id", ondelete="CASCADE"),
                                          index=True)
    period: Mapped[str] = mapped_column(String(8))
    tz: Mapped[str] = mapped_column(String(64))
    recipients: Mapped[list[str]] = mapped_column(JSON)
    group_id: Mapped[int | None] = mapped_column(ForeignKey("groups.id", ondelete="CASCADE"))
    last_period: Mapped[str | None] = mapped_column(String(10))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
