"""Hub envelopes: every kind survives encode/decode unchanged and keeps its short wire keys;
what another process cannot read is refused as ValueError, never a KeyError in the hub."""

from __future__ import annotations

import orjson
import pytest

from realtime import envelopes as env
from realtime.connection import StoredMessage

EVERY_KIND: list[env.Envelope] = [
    StoredMessage(1, 2, "public", None, '{"type":"message"}'),
    StoredMessage(1, 3, "whisper", 7, "x"),
    env.Typing(1, 9, "agent", "agent", "Ana", True, False, "hel", True),
    env.Event(1, env.AUDIENCE_STAFF, True, '{"type":"ended"}'),
    env.ToAgent(7, "{}"),
    env.ToSupervisors("{}"),
    env.Grant(7, 1, "cochat"),
    env.Grant(7, 1, None),
    env.SessionEnded(7, "sid"),
    env.SessionEnded(7, None),
    env.RightsChanged(7),
    env.ConversationChanged(1),
    env.Beat(7),
]


@pytest.mark.parametrize("value", EVERY_KIND, ids=repr)
def test_round_trip(value: env.Envelope) -> None:
    raw = orjson.loads(env.encode(value, "node1"))
    assert raw["n"] == "node1"
    assert env.decode(raw) == value


def test_wire_keys_of_a_message() -> None:
    raw = orjson.loads(env.encode(StoredMessage(1, 2, "public", None, "f"), "n"))
    assert raw == {"k": "m", "c": 1, "q": 2, "v": "public", "w": None, "f": "f", "n": "n"}


@pytest.mark.parametrize("raw", [{}, {"k": "?"}, {"k": "m", "c": 1}, {"k": "x", "op": "?"},
                                 {"k": "x"}, [], 3])
def test_unreadable_envelopes_are_value_errors(raw: object) -> None:
    with pytest.raises(ValueError):
        env.decode(raw)  # type: ignore[arg-type]
