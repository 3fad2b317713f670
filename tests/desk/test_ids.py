"""The id range that inputs are checked against is the one the columns store."""

from __future__ import annotations

from sqlalchemy.dialects import postgresql

from desk.limits import ID_MAX, SEQ_MAX, is_id
from desk.models import Base

WIDER = "messages.id"  # BIGINT on purpose (and what refers to it); no client names a message
NAMED = ("seq", "last_seq", "author_id", "whisper_to")  # not keys, but ids/seqs all the same


def test_every_id_column_is_the_integer_the_range_describes() -> None:
    assert ID_MAX == SEQ_MAX == 2**31 - 1  # PostgreSQL INTEGER
    pg = postgresql.dialect()
    checked = 0
    for table in Base.metadata.sorted_tables:
        for column in table.columns:
            if not (column.primary_key or column.foreign_keys or column.name in NAMED):
                continue
            sql = column.type.compile(dialect=pg)
            if sql not in ("INTEGER", "BIGINT"):
                continue  # string keys (sessions) and composite parts of other types
            checked += 1
            wide = f"{table.name}.{column.name}" == WIDER or any(
                fk.target_fullname == WIDER for fk in column.foreign_keys)
            expected = "BIGINT" if wide else "INTEGER"
            assert sql == expected, (table.name, column.name, sql)
    assert checked > 20


def test_is_id() -> None:
    assert is_id(1) and is_id(ID_MAX)
    for bad in (0, -1, ID_MAX + 1, 2**63, True, 1.0, "1", None):
        assert not is_id(bad), bad
