"""knowledge base full-text index (hand-written: autogenerate cannot make it)

Revision ID: 0003
Revises: 0002
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

from desk.kb import fts

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    fts.apply(op.get_bind())


def downgrade() -> None:
    fts.drop(op.get_bind())
