"""The full-text indexes behind desk.search: DDL that autogenerate cannot make.

PostgreSQL: a stored generated column ``messages.body_tsv`` (``to_tsvector('simple', body)``)
with a GIN index, and a GIN expression index on the subject. The database computes both on
every write, whichever path inserts (the append path, the group commit's statement, mail
import): there is nothing to maintain by hand. The body's vector is stored, not only indexed,
because search also checks it row by row (a phrase's recheck, the newest-first walk for a
common word), and parsing bodies again there costs a hundred times more than reading it.
SQLite: FTS5 tables over the same columns (external content: the text is not stored twice)
kept current by triggers, again on every path. ``simple`` and
``unicode61`` both fold case and split on what is not a letter or digit, and neither stems, so
a word matches the same messages on both.

Applied by migration 0002 and by ``desk.schema.create_all``; ``is_fts_name`` tells migrations
and their test to leave these objects alone (the models do not describe them).
"""

from __future__ import annotations

from sqlalchemy import text
from sqlalchemy.engine import Connection

from desk.kb import fts as kb_fts

PG_CONFIG = "'simple'::regconfig"
# Searched exactly as indexed: the planner only uses an expression index for the same expression.
PG_BODY_COLUMN = "body_tsv"
PG_SUBJECT = f"to_tsvector({PG_CONFIG}, coalesce(subject, ''))"

_PG = (
    f"ALTER TABLE messages ADD COLUMN IF NOT EXISTS {PG_BODY_COLUMN} tsvector "
    f"GENERATED ALWAYS AS (to_tsvector({PG_CONFIG}, body)) STORED",
    f"CREATE INDEX IF NOT EXISTS ix_messages_body_fts ON messages USING gin ({PG_BODY_COLUMN})",
    f"CREATE INDEX IF NOT EXISTS ix_conversations_subject_fts ON conversations "
    f"USING gin ({PG_SUBJECT})",
)


def _sqlite_fts(table: str, column: str, fts: str) -> tuple[str, ...]:
    remove = (f"INSERT INTO {fts}({fts}, rowid, {column}) "
              f"VALUES ('delete', old.id, old.{column});")
    add = f"INSERT INTO {fts}(rowid, {column}) VALUES (new.id, new.{column});"
    return (
        f"CREATE VIRTUAL TABLE IF NOT EXISTS {fts} USING fts5({column}, content='{table}', "
        f"content_rowid='id', tokenize='unicode61 remove_diacritics 2')",
        f"CREATE TRIGGER IF NOT EXISTS {fts}_ai AFTER INSERT ON {table} BEGIN {add} END",
        f"CREATE TRIGGER IF NOT EXISTS {fts}_ad AFTER DELETE ON {table} BEGIN {remove} END",
        # Only a change of the indexed column: conversations are updated on every message.
        f"CREATE TRIGGER IF NOT EXISTS {fts}_au AFTER UPDATE OF {column} ON {table} "
        f"BEGIN {remove} {add} END",
        # Rows written before the index existed (a migrated database).
        f"INSERT INTO {fts}({fts}) VALUES ('rebuild')",
    )


SQLITE_MESSAGES = "messages_fts"
SQLITE_SUBJECTS = "conversations_fts"
_SQLITE = (*_sqlite_fts("messages", "body", SQLITE_MESSAGES),
           *_sqlite_fts("conversations", "subject", SQLITE_SUBJECTS))
_NAMES = ("ix_messages_body_fts", "ix_conversations_subject_fts", SQLITE_MESSAGES,
          SQLITE_SUBJECTS, PG_BODY_COLUMN)


def statements(dialect: str) -> tuple[str, ...]:
    return _PG if dialect == "postgresql" else _SQLITE


def apply(conn: Connection) -> None:
    """Create the full-text indexes (idempotent) on a synchronous connection."""
    for sql in statements(conn.dialect.name):
        conn.execute(text(sql))


def drop(conn: Connection) -> None:
    """Remove them again (the migration's downgrade)."""
    if conn.dialect.name == "postgresql":
        for name in _NAMES[:2]:
            conn.execute(text(f"DROP INDEX IF EXISTS {name}"))
        conn.execute(text(f"ALTER TABLE messages DROP COLUMN IF EXISTS {PG_BODY_COLUMN}"))
        return
    for fts in (SQLITE_MESSAGES, SQLITE_SUBJECTS):
        for suffix in ("ai", "ad", "au"):
            conn.execute(text(f"DROP TRIGGER IF EXISTS {fts}_{suffix}"))
        conn.execute(text(f"DROP TABLE IF EXISTS {fts}"))


def is_fts_name(name: str | None) -> bool:
    """An object of these indexes or the knowledge base's (desk.kb.fts, migration 0003);
    FTS5 also makes ``<table>_data``, ``_idx`` ..."""
    return name is not None and name.startswith(_NAMES + kb_fts.NAMES)


def include_name(name: str | None, kind: str, _parents: object) -> bool:
    """Alembic's ``include_name``: compare and autogenerate leave these objects alone."""
    return not (kind in {"table", "index", "column"} and is_fts_name(name))
