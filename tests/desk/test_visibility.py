"""desk.visibility: the one rule for who reads which message (the records and the live sockets)."""

from __future__ import annotations

import pytest

from desk.visibility import readable


@pytest.mark.parametrize(
    ("kind", "target", "public", "internal", "whisper"),
    [
        ("contact", False, True, False, False),
        ("contact", True, True, False, False),  # never a whisper, even one "to" the contact
        ("agent", True, True, True, True),  # the coached agent
        ("agent", False, True, True, False),  # a whisper to another (or a previous) agent
        ("supervisor", False, True, True, True),
        ("bot", True, True, False, False),  # an unknown kind: public only
    ],
)
def test_table(kind: str, target: bool, public: bool, internal: bool, whisper: bool) -> None:
    assert readable(kind, "public", target) is public
    assert readable(kind, "internal", target) is internal
    assert readable(kind, "whisper", target) is whisper
    assert readable(kind, "bogus", target) is False
