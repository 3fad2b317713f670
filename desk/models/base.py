"""The declarative base, naming convention and the enumerations the records share.

SQLAlchemy 2 declarative models, portable between SQLite (embedded default) and PostgreSQL.
Enumerations are stored as short strings checked by constraints so both backends agree.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    DateTime,
    MetaData,
)
from sqlalchemy.orm import DeclarativeBase

from desk.mail_rules import STAFF_AUTHORS

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

ROLES = ("agent", "supervisor", "admin")
# ``phone``: a call an agent logged (desk.calls); it continues by mail or the case page.
CHANNELS = ("chat", "email", "portal", "phone")
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
