"""Pure tests of the wire protocol: every frame type parses, every bad input gets its code."""

from __future__ import annotations

from dataclasses import fields
from typing import Any

import orjson
import pytest

from realtime import protocol as p
from realtime import protocol_im as im
from realtime import protocol_visits as pv
from realtime.errors import (
    CLOSE_BAD_DATA,
    CLOSE_TOO_BIG,
    BadEncoding,
    FrameTooLarge,
    ProtocolError,
)

GOOD: dict[str, dict[str, Any]] = {
    "auth": {"token": "t"},
    "ping": {},
    "start_chat": {"client_id": "c1", "text": "hello", "department_id": 2, "topic": "billing",
                   "answers": {"order": "42"}, "name": "Ann", "email": "a@example.org"},
    "message": {"conversation_id": 1, "client_id": "c", "text": "hi", "internal": True},
    "whisper": {"conversation_id": 1, "client_id": "c", "text": "psst"},
    "typing": {"conversation_id": 1, "draft": "hel"},
    "read": {"conversation_id": 1, "seq": 0},
    "end": {"conversation_id": 1},
    "resume": {"conversation_id": 1, "after_seq": 7},
    "transcript": {"conversation_id": 1, "email": "a@example.org"},
    "rate": {"conversation_id": 1, "rating": 5, "comment": "great"},
    "list_live": {},
    "monitor": {"conversation_id": 1},
    "unmonitor": {"conversation_id": 1},
    "join": {"conversation_id": 1},
    "leave": {"conversation_id": 1},
    "accept": {"conversation_id": 1},
    "assign": {"conversation_id": 1, "agent_id": 2},
    "decline": {"conversation_id": 1},
    "transfer": {"conversation_id": 1, "group_id": 3, "note": "billing question"},
    "invite": {"conversation_id": 1, "agent_id": 9},
    "close": {"conversation_id": 1},
    "presence": {"status": "away"},
    "active_groups": {"group_ids": [3, 4]},
    "board": {"follow": True},
    "page_view": {"url": "https://shop/a", "title": "A", "referrer": "", "lang": "en"},
    "watch_visitors": {"site_id": 1, "offset": 50, "limit": 50},
    "unwatch_visitors": {},
    "invite_visitor": {"site_id": 1, "visitor_id": 2, "text": "Hi"},
    "invitation_answer": {"invitation_id": "ab12", "accept": True, "client_id": "c"},
    "team_list": {},
    "team_open_dm": {"agent_id": 2},
    "team_create_room": {"name": "Sales", "member_ids": [2, 3]},
    "team_send": {"thread_id": 1, "client_id": "c", "text": "hi"},
    "team_resume": {"thread_id": 1, "after_seq": 4},
    "team_read": {"thread_id": 1, "seq": 4},
}


def test_every_client_frame_type_is_covered() -> None:
    assert set(GOOD) == set(p.CLIENT_FRAMES)


@pytest.mark.parametrize("kind", sorted(GOOD))
def test_good_frames_parse_to_their_dataclass(kind: str) -> None:
    frame = p.parse(orjson.dumps({"type": kind, **GOOD[kind]}))
    assert type(frame) is p.CLIENT_FRAMES[kind]
    for name, value in GOOD[kind].items():
        assert getattr(frame, name) == (tuple(value) if isinstance(value, list) else value)


def test_str_and_bytes_give_the_same_frame() -> None:
    raw = orjson.dumps({"type": "message", **GOOD["message"]})
    assert p.parse(raw) == p.parse(raw.decode())


def test_defaults_fill_optional_fields() -> None:
    frame = p.parse('{"type":"message","conversation_id":1,"client_id":"c","text":"x"}')
    assert frame == p.SendMessage(1, "c", "x", internal=False)
    assert p.parse('{"type":"resume","conversation_id":4}') == p.Resume(4, 0)


def _code(data: str | bytes, max_bytes: int = p.DEFAULT_MAX_BYTES) -> str:
    with pytest.raises(ProtocolError) as info:
        p.parse(data, max_bytes)
    return info.value.code


@pytest.mark.parametrize(
    ("data", "code"),
    [
        ("", "not_json"),
        ("hello", "not_json"),
        ("{", "not_json"),
        ('{"type":"ping"} trailing', "not_json"),
        ("[]", "not_object"),
        ('[{"type":"ping"}]', "not_object"),
        ("42", "not_object"),
        ('"ping"', "not_object"),
        ("null", "not_object"),
        ("{}", "missing_field"),
        ('{"type":1}', "missing_field"),
        ('{"type":null}', "missing_field"),
        ('{"type":"nope"}', "unknown_type"),
        ('{"type":"Message"}', "unknown_type"),
        ('{"type":"ack","conversation_id":1}', "unknown_type"),  # server frame, not client
        ('{"type":"message","conversation_id":1,"text":"x"}', "missing_field"),
        ('{"type":"message","conversation_id":"1","client_id":"c","text":"x"}', "bad_field"),
        ('{"type":"message","conversation_id":1.5,"client_id":"c","text":"x"}', "bad_field"),
        ('{"type":"message","conversation_id":true,"client_id":"c","text":"x"}', "bad_field"),
        ('{"type":"message","conversation_id":0,"client_id":"c","text":"x"}', "bad_field"),
        ('{"type":"message","conversation_id":-3,"client_id":"c","text":"x"}', "bad_field"),
        ('{"type":"message","conversation_id":null,"client_id":"c","text":"x"}', "bad_field"),
        ('{"type":"message","conversation_id":1,"client_id":"","text":"x"}', "bad_field"),
        ('{"type":"message","conversation_id":1,"client_id":"c","text":""}', "bad_field"),
        ('{"type":"message","conversation_id":1,"client_id":"c","text":["x"]}', "bad_field"),
        ('{"type":"message","conversation_id":1,"client_id":"c","text":"x","internal":1}',
         "bad_field"),
        ('{"type":"message","conversation_id":1,"client_id":"c","text":"x","evil":1}',
         "bad_field"),
        ('{"type":"presence","status":"busy"}', "bad_field"),
        ('{"type":"rate","conversation_id":1,"rating":6}', "bad_field"),
        ('{"type":"start_chat","client_id":"c","text":"x","answers":{"a":1}}', "bad_field"),
        ('{"type":"start_chat","client_id":"c","text":"x","answers":["a"]}', "bad_field"),
        ('{"type":"typing","conversation_id":1,"draft":null}', "bad_field"),
        ('{"type":"active_groups"}', "missing_field"),
        ('{"type":"active_groups","group_ids":3}', "bad_field"),
        ('{"type":"active_groups","group_ids":[3,true]}', "bad_field"),
        ('{"type":"active_groups","group_ids":[0]}', "bad_field"),
        ('{"type":"active_groups","group_ids":["3"]}', "bad_field"),
        ('{"type":"active_groups","group_ids":[' + ",".join(["1"] * 101) + "]}", "bad_field"),
    ],
)
def test_bad_frames_get_clear_codes(data: str, code: str) -> None:
    assert _code(data) == code


def test_long_fields_rejected() -> None:
    long_id = "c" * (p.CLIENT_ID_MAX + 1)
    assert _code(orjson.dumps({"type": "message", "conversation_id": 1, "client_id": long_id,
                               "text": "x"})) == "bad_field"
    text = "x" * (p.TEXT_MAX + 1)
    assert _code(orjson.dumps({"type": "message", "conversation_id": 1, "client_id": "c",
                               "text": text})) == "bad_field"
    answers = {str(i): "v" for i in range(p.ANSWERS_MAX + 1)}
    assert _code(orjson.dumps({"type": "start_chat", "client_id": "c", "text": "",
                               "answers": answers})) == "bad_field"


def test_oversize_frame_closes_1009() -> None:
    raw = orjson.dumps({"type": "message", "conversation_id": 1, "client_id": "c",
                        "text": "é" * 600})
    with pytest.raises(FrameTooLarge) as info:
        p.parse(raw, max_bytes=1024)
    assert info.value.close_code == CLOSE_TOO_BIG
    # str input is measured in UTF-8 bytes, not characters
    with pytest.raises(FrameTooLarge):
        p.parse(raw.decode(), max_bytes=1024)
    p.parse(raw, max_bytes=2048)


def test_invalid_utf8_closes_1007() -> None:
    with pytest.raises(BadEncoding) as info:
        p.parse(b'{"type":"ping","x":"\xff\xfe"}')
    assert info.value.close_code == CLOSE_BAD_DATA


def test_deep_nesting_is_rejected_without_crashing() -> None:
    assert _code("[" * 20_000 + "]" * 20_000) in {"not_json", "not_object"}
    assert _code('{"type":"ping","x":' + "[" * 20_000 + "]" * 20_000 + "}") == "not_json"


def test_serialize_puts_type_first_and_every_field() -> None:
    frame = p.Ack(conversation_id=3, client_id="c1", seq=9)
    assert p.serialize(frame) == b'{"type":"ack","conversation_id":3,"client_id":"c1","seq":9,' \
                                 b'"duplicate":false}'
    assert orjson.loads(p.serialize_text(frame)) == orjson.loads(p.serialize(frame))


def test_every_server_frame_serializes() -> None:
    msg = p.MessageOut(1, 2, "agent", "Ana", "public", "<b>hi</b>", "c", "2024-01-01T00:00:00Z")
    row = pv.VisitorRow(2, "https://a", "<b>A</b>", "", "en", 1, 1, 1, False, False, None, False)
    samples: list[p.ServerFrame] = [
        p.Welcome("visitor", "Ann", (1, 2), "e1"), p.Pong(), p.Error("bad_field", "m"),
        p.Ack(1, "c", 1), p.Started(1, "SB-1", "c"), p.Queued(1, 3, 60), p.Assigned(1, "Ana"),
        p.Offer(1, "SB-1", None, 30.0), p.OfferRevoked(1), p.Released(1, "resolved"), msg,
        p.Notification(1, "SB-1", "<b>look</b>", 7, 3),
        p.TaskReminder(4, "Call back", None, "2026-12-01T09:00:00+00:00"),
        p.TypingOut(1, "visitor", None, True, "he"),
        p.ReadOut(1, "agent", 2), p.ParticipantJoined(1, "Sue", "supervisor"),
        p.ParticipantLeft(1, "Sue", "supervisor"), p.Ended(1, "visitor"),
        p.ConversationRemoved(1, "no longer in its group"),
        p.State(1, "SB-1", "active", "Ana", 2), p.Transcript(1, "SB-1", (msg,)),
        p.Done("monitor", 1), p.Live((p.LiveConversation(1, "SB-1", "active", 2, "Ana", 5),)),
        p.PresenceOut(4, "away"), p.AgentState("away", (2, 3)), p.Reload("e2"),
        p.Board((p.BoardAgent(4, "Ana", "away", 1, 3, 0, 10, (2,)),), (p.BoardQueue(2, 3, 41),)),
        pv.Visitors(1, 1, 0, (row,), 5, (pv.SiteChoice(1, "Shop"),)),
        pv.VisitorsDelta(1, 1, (row,), (3,), (2,), 5), pv.Invitation("ab", "Ana", "Hi"),
        pv.InvitationOutcome("ab", 2, "accepted", 9),
        im.TeamThreads((im.TeamThread(1, "room", "Sales", 3, 1, (1, 2)),)),
        im.TeamMessageOut(1, 3, 2, "Bob", "hi", "c", "2024-01-01T00:00:00Z"), im.TeamAck(1, "c", 3),
    ]
    assert {type(s) for s in samples} == set(p.SERVER_FRAMES.values())
    for frame in samples:
        decoded = orjson.loads(p.serialize(frame))
        assert decoded["type"] == frame.TYPE
        assert set(decoded) == {"type"} | {f.name for f in fields(frame)}
    # Text is carried as data: markup is never interpreted by the server.
    assert orjson.loads(p.serialize(msg))["text"] == "<b>hi</b>"
