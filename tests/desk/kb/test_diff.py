"""desk.kb.diff: the editor's comparison of two revisions."""

from __future__ import annotations

from desk.kb.diff import lines


def test_changed_lines_with_context() -> None:
    old = "\n".join(f"line {i}" for i in range(20))
    new = old.replace("line 10", "line ten") + "\nthe end"
    assert lines(old, new) == [
        ("…", "7"), ("=", "line 7"), ("=", "line 8"), ("=", "line 9"),
        ("-", "line 10"), ("+", "line ten"),
        ("=", "line 11"), ("=", "line 12"), ("=", "line 13"), ("…", "6"),
        ("+", "the end")]


def test_same_empty_and_short_texts() -> None:
    assert lines("a\nb", "a\nb") == [("…", "2")]
    assert lines("", "new") == [("+", "new")]
    assert lines("old", "") == [("-", "old")]
    assert lines("a\nb\nc", "a\nX\nc") == [("=", "a"), ("-", "b"), ("+", "X"), ("=", "c")]
