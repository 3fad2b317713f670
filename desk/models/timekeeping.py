"""What keeps time: business calendars, SLA policies and clocks, due timers and their firings,
automation rules and their versions.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    Float,
    ForeignKey,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from desk.limits import (
    NAME_MAX,
)
from desk.models.base import (
    Base,
    utcnow,
)


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


class RuleOutbox(Base):
    """A rule action done outside the firing's transaction (an assignment through the router,
    a console notice), written IN that transaction, so a worker that dies after the commit
    leaves it to be done (``ingest.rule_outbox``). The row is deleted once it is done; an
    assignment's in the router's own transaction, so it is done at most once and, being
    retried until then, exactly once. ``lease_until``: a worker is doing it."""

    __tablename__ = "rule_outbox"
    id: Mapped[int] = mapped_column(primary_key=True)
    firing_id: Mapped[int] = mapped_column(ForeignKey("timer_firings.id", ondelete="CASCADE"))
    conversation_id: Mapped[int] = mapped_column(
        ForeignKey("conversations.id", ondelete="CASCADE"))
    rule_id: Mapped[int] = mapped_column(Integer)
    kind: Mapped[str] = mapped_column(String(16))  # assign | notice
    agent_id: Mapped[int] = mapped_column(Integer)
    number: Mapped[str] = mapped_column(String(32), default="")
    text: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    lease_until: Mapped[datetime | None] = mapped_column(default=None)
