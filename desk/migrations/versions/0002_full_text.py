"""full-text search indexes (hand-written: autogenerate cannot make them)

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

from desk import fts

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    fts.apply(op.get_bind())


def downgrade() -> None:
    fts.drop(op.get_bind())
