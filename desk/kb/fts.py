"""The knowledge base's full-text index: DDL that autogenerate cannot make.

PostgreSQL: ``kb_articles.search_tsv``, a stored generated ``tsvector`` of the title (weight A)
and the text (weight B), each parsed with the text search configuration of the article's own
language (``desk.kb.stem.PG_CONFIGS``: ``english``, ``german``...; ``simple`` for the rest),
with a GIN index. The database keeps it current on every write. The row keeps the vector and
moves the long texts out of line (``TOAST_TARGET``), so ranking the matches reads few pages.

SQLite: an FTS5 table ``kb_fts`` over ``search_title`` and ``search_body`` (external content:
the terms ``desk.kb.stem`` made, stemmed per language, which the articles' rows carry), kept
current by triggers.

Applied by migration 0003 and by ``desk.schema.create_all``; ``desk.fts.include_name``
leaves these objects out of autogenerate and the migrations' test.
"""

from __future__ import annotations

from sqlalchemy import text
from sqlalchemy.engine import Connection

from desk.kb.stem import PG_CONFIGS

PG_COLUMN = "search_tsv"
PG_INDEX = "ix_kb_articles_search_fts"
SQLITE_TABLE = "kb_fts"
SQLITE_COLUMNS = ("search_title", "search_body")
NAMES = (PG_COLUMN, PG_INDEX, SQLITE_TABLE)


def _pg_config_of_row() -> str:
    cases = " ".join(f"WHEN '{lang}' THEN '{cfg}'::regconfig"
                     for lang, cfg in sorted(PG_CONFIGS.items()))
    return f"CASE split_part(language, '-', 1) {cases} ELSE 'simple'::regconfig END"


_PG_VECTOR = (f"setweight(to_tsvector({_pg_config_of_row()}, title), 'A') || "
              f"setweight(to_tsvector({_pg_config_of_row()}, body_text), 'B')")
# A search reads the row of every match (its vector, to rank it): the long texts go out of
# line (TOAST, EXTERNAL: uncompressed, which moved them out where compression kept them in the
# row) past TOAST_TARGET bytes, so those rows stay about a kilobyte, many to a page, while the
# vector stays in the row (MAIN). An article page reads its texts from TOAST. In bench.kb this
# halved the pages a search reads, then halved them again (1.1 M, 0.54 M, 0.29 M for 500).
TOAST_TARGET = 256
LONG_TEXTS = ("body", "body_html", "body_text", "search_title", "search_body")
_PG = (
    f"ALTER TABLE kb_articles ADD COLUMN IF NOT EXISTS {PG_COLUMN} tsvector "
    f"GENERATED ALWAYS AS ({_PG_VECTOR}) STORED",
    f"CREATE INDEX IF NOT EXISTS {PG_INDEX} ON kb_articles USING gin ({PG_COLUMN})",
    f"ALTER TABLE kb_articles SET (toast_tuple_target = {TOAST_TARGET})",
    f"ALTER TABLE kb_articles ALTER COLUMN {PG_COLUMN} SET STORAGE MAIN, "
    + ", ".join(f"ALTER COLUMN {c} SET STORAGE EXTERNAL" for c in LONG_TEXTS),
)


def _sqlite() -> tuple[str, ...]:
    cols = ", ".join(SQLITE_COLUMNS)
    new = ", ".join(f"new.{c}" for c in SQLITE_COLUMNS)
    old = ", ".join(f"old.{c}" for c in SQLITE_COLUMNS)
    fts = SQLITE_TABLE
    remove = f"INSERT INTO {fts}({fts}, rowid, {cols}) VALUES ('delete', old.id, {old});"
    add = f"INSERT INTO {fts}(rowid, {cols}) VALUES (new.id, {new});"
    return (
        f"CREATE VIRTUAL TABLE IF NOT EXISTS {fts} USING fts5({cols}, content='kb_articles', "
        f"content_rowid='id', tokenize='unicode61 remove_diacritics 2')",
        f"CREATE TRIGGER IF NOT EXISTS {fts}_ai AFTER INSERT ON kb_articles BEGIN {add} END",
        f"CREATE TRIGGER IF NOT EXISTS {fts}_ad AFTER DELETE ON kb_articles BEGIN {remove} END",
        f"CREATE TRIGGER IF NOT EXISTS {fts}_au AFTER UPDATE OF {cols} ON kb_articles "
        f"BEGIN {remove} {add} END",
        f"INSERT INTO {fts}({fts}) VALUES ('rebuild')",
    )


def statements(dialect: str) -> tuple[str, ...]:
    return _PG if dialect == "postgresql" else _sqlite()


def apply(conn: Connection) -> None:
    """Create the index (idempotent) on a synchronous connection."""
    for sql in statements(conn.dialect.name):
        conn.execute(text(sql))


def drop(conn: Connection) -> None:
    if conn.dialect.name == "postgresql":
        conn.execute(text("ALTER TABLE kb_articles RESET (toast_tuple_target)"))
        conn.execute(text(f"DROP INDEX IF EXISTS {PG_INDEX}"))
        conn.execute(text(f"ALTER TABLE kb_articles DROP COLUMN IF EXISTS {PG_COLUMN}"))
        return
    for suffix in ("ai", "ad", "au"):
        conn.execute(text(f"DROP TRIGGER IF EXISTS {SQLITE_TABLE}_{suffix}"))
    conn.execute(text(f"DROP TABLE IF EXISTS {SQLITE_TABLE}"))
