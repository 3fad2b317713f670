"""The range of a record id: what the id columns store, so the most any input may name.

Every id column is INTEGER (PostgreSQL int4: at most 2**31 - 1; ``messages.id`` and the key
referring to it are BIGINT, and no client names a message by id), and so are ``seq`` and
``last_seq`` (``tests/desk/test_ids.py`` holds the columns to it). An id or seq
beyond that range cannot exist, and handed to the database driver it is not a miss but an
``OverflowError``, so every path, query, body and frame field checks against this one range
before it reaches a query. Pure module: the wire protocol imports it.
"""

from __future__ import annotations

ID_MIN = 1
INT_MAX = 2**31 - 1  # an INTEGER column's largest value
ID_MAX = INT_MAX
SEQ_MAX = INT_MAX  # ``seq`` and ``last_seq`` are INTEGER too


def is_id(value: object) -> bool:
    """An integer (not a bool) that an id column can hold."""
    return type(value) is int and ID_MIN <= value <= ID_MAX
