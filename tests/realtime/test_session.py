"""Pure tests of the per-connection state machine: auth, rights, limits, visibility, ordering."""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from typing import Any

import orjson
import pytest

from realtime import protocol as p
from realtime.errors import (
    CLOSE_BAD_DATA,
    CLOSE_FLOOD,
    CLOSE_TOO_BIG,
    CLOSE_UNAUTHENTICATED,
    CLOSE_UNSUPPORTED,
)
from realtime.session import (
    Authenticate,
    CloseSocket,
    Execute,
    Identity,
    Limits,
    Part,
    Phase,
    Role,
    Send,
    Session,
    TokenBucket,
    Verdict,
)

LIMITS = Limits(max_bytes=4096, msg_rate=1.0, msg_burst=3, typing_rate=2.0, typing_burst=2,
                frame_rate=100.0, frame_burst=100, flood_close_after=5)
ANN = Identity(Role.VISITOR, 7, "Ann", site_id=1)
ANA = Identity(Role.AGENT, 3, "Ana")
SUE = Identity(Role.SUPERVISOR, 4, "Sue")


def j(**obj: object) -> str:
    return orjson.dumps(obj).decode()


def visitor(conversations: dict[int, Part] | None = None) -> Session:
    s = Session(Role.VISITOR, LIMITS)
    assert s.receive(j(type="auth", token="tok"), 0.0) == [Authenticate("tok")]
    s.authenticated(ANN, conversations or {1: Part.OWNER}, "e1")
    return s


def staff(identity: Identity, parts: dict[int, Part]) -> Session:
    s = Session(identity.role, LIMITS, identity)
    for cid, part in parts.items():
        s.grant(cid, part)
    return s


def error_code(actions: Sequence[object]) -> str:
    [action] = actions
    assert isinstance(action, Send) and isinstance(action.frame, p.Error), action
    return action.frame.code


# --- authentication ---------------------------------------------------------------------------


def test_visitor_must_authenticate_first() -> None:
    s = Session(Role.VISITOR, LIMITS)
    before = s.phase  # a copy: asserting on s.phase would narrow it for the check below
    assert before is Phase.AWAIT_AUTH
    assert s.receive(j(type="ping"), 0.0) == [CloseSocket(CLOSE_UNAUTHENTICATED,
                                                          "authenticate first")]
    assert s.phase is Phase.CLOSED
    assert s.receive(j(type="auth", token="t"), 0.0) == []


def test_bad_first_frame_closes() -> None:
    s = Session(Role.VISITOR, LIMITS)
    assert s.receive('{"type":"auth"}', 0.0) == [CloseSocket(CLOSE_UNAUTHENTICATED,
                                                             "authenticate first")]


def test_frames_while_authenticating_are_refused_not_executed() -> None:
    s = Session(Role.VISITOR, LIMITS)
    s.receive(j(type="auth", token="t"), 0.0)
    assert error_code(s.receive(j(type="end", conversation_id=1), 0.0)) == "not_authenticated"


def test_authenticated_sends_welcome_and_grants_conversations() -> None:
    s = Session(Role.VISITOR, LIMITS)
    s.receive(j(type="auth", token="t"), 0.0)
    [welcome] = s.authenticated(ANN, {5: Part.OWNER, 2: Part.OWNER}, "epoch-1")
    assert welcome == Send(p.Welcome("visitor", "Ann", (2, 5), "epoch-1", True))
    assert s.phase is Phase.OPEN and s.parts == {2: Part.OWNER, 5: Part.OWNER}


def test_auth_failure_and_deadline_close_4401() -> None:
    s = Session(Role.VISITOR, LIMITS)
    assert s.auth_deadline() == [CloseSocket(CLOSE_UNAUTHENTICATED, "auth timeout")]
    s2 = Session(Role.VISITOR, LIMITS)
    s2.receive(j(type="auth", token="t"), 0.0)
    assert s2.auth_failed("bad token") == [CloseSocket(CLOSE_UNAUTHENTICATED, "bad token")]
    assert visitor().auth_deadline() == []


def test_second_auth_is_an_error() -> None:
    assert error_code(visitor().receive(j(type="auth", token="x"), 1.0)) == "conflict"


def test_staff_sessions_start_open() -> None:
    s = Session(Role.AGENT, LIMITS, ANA)
    assert s.phase is Phase.OPEN
    assert s.receive(j(type="ping"), 0.0) == [Send(p.Pong())]


# --- bad input --------------------------------------------------------------------------------


def test_bad_json_gets_error_frame_and_session_lives_on() -> None:
    s = visitor()
    assert error_code(s.receive("not json", 0.0)) == "not_json"
    assert error_code(s.receive("[1,2]", 0.0)) == "not_object"
    assert error_code(s.receive(j(type="bogus"), 0.0)) == "unknown_type"
    assert s.receive(j(type="ping"), 0.0) == [Send(p.Pong())]


def test_binary_oversize_and_bad_utf8_close() -> None:
    assert visitor().receive(b"{}", 0.0) == [CloseSocket(CLOSE_UNSUPPORTED,
                                                         "binary_unsupported")]
    big = j(type="message", conversation_id=1, client_id="c", text="x" * 5000)
    assert visitor().receive(big, 0.0) == [CloseSocket(CLOSE_TOO_BIG, "too_large")]
    # A str with a lone surrogate cannot come from a valid UTF-8 text frame; parse as bytes.
    with pytest.raises(UnicodeEncodeError):
        "\udcff".encode()
    s = visitor()
    assert s.receive(j(type="ping"), 0.0) == [Send(p.Pong())]
    assert CLOSE_BAD_DATA == 1007


# --- roles and parts --------------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["monitor", "whisper", "accept", "transfer", "list_live",
                                  "presence", "invite", "close", "join"])
def test_visitor_cannot_send_staff_frames(kind: str) -> None:
    table: dict[str, dict[str, Any]] = {"monitor": {"conversation_id": 1},
              "whisper": {"conversation_id": 1, "client_id": "c", "text": "x"},
              "accept": {"conversation_id": 1}, "transfer": {"conversation_id": 1},
              "list_live": {}, "presence": {"status": "away"},
              "invite": {"conversation_id": 1, "agent_id": 2}, "close": {"conversation_id": 1},
              "join": {"conversation_id": 1}}
    assert error_code(visitor().receive(j(type=kind, **table[kind]), 0.0)) == "forbidden"


def test_agent_cannot_monitor_or_whisper() -> None:
    s = staff(ANA, {1: Part.ASSIGNEE})
    assert error_code(s.receive(j(type="monitor", conversation_id=1), 0.0)) == "forbidden"
    assert error_code(s.receive(j(type="whisper", conversation_id=1, client_id="c",
                                   text="x"), 0.0)) == "forbidden"


def test_visitor_only_acts_on_own_conversations() -> None:
    s = visitor({1: Part.OWNER})
    msg = {"type": "message", "client_id": "c", "text": "hi"}
    assert s.receive(j(**msg, conversation_id=1), 0.0) == [
        Execute(p.SendMessage(1, "c", "hi"))]
    for kind in ("message", "resume", "typing", "read", "end", "transcript"):
        extras: dict[str, dict[str, Any]] = {"message": {"client_id": "c", "text": "x"},
                                             "read": {"seq": 1}}
        extra = extras.get(kind, {})
        assert error_code(s.receive(j(type=kind, conversation_id=2, **extra), 0.0)) \
            == "forbidden", kind


def test_staff_parts_gate_commands() -> None:
    sue = staff(SUE, {1: Part.MONITOR})
    say = {"type": "message", "conversation_id": 1, "client_id": "c", "text": "hi"}
    # A silent monitor cannot speak to the visitor, but may whisper and write internal notes.
    assert error_code(sue.receive(j(**say), 0.0)) == "forbidden"
    assert sue.receive(j(**say, internal=True), 0.0) == [
        Execute(p.SendMessage(1, "c", "hi", internal=True))]
    assert sue.receive(j(type="whisper", conversation_id=1, client_id="w", text="psst"), 0.0) \
        == [Execute(p.Whisper(1, "w", "psst"))]
    assert error_code(sue.receive(j(type="close", conversation_id=1), 0.0)) == "forbidden"
    # Monitor/join of a conversation without a part yet is decided by the I/O layer.
    assert sue.receive(j(type="join", conversation_id=9), 0.0) == [Execute(p.Join(9))]
    ana = staff(ANA, {1: Part.COCHAT})
    assert error_code(ana.receive(j(type="transfer", conversation_id=1, agent_id=5), 0.0)) \
        == "forbidden"
    assert ana.receive(j(type="leave", conversation_id=1), 0.0) == [Execute(p.Leave(1))]
    assert error_code(ana.receive(j(type="read", conversation_id=2, seq=1), 0.0)) == "forbidden"
    assert ana.receive(j(type="accept", conversation_id=2), 0.0) == [Execute(p.Accept(2))]


def test_revoke_removes_part_and_cursor() -> None:
    s = staff(ANA, {1: Part.ASSIGNEE})
    s.synced(1, 4)
    s.revoke(1)
    assert s.on_message(1, 5, "public") is Verdict.DROP
    assert error_code(s.receive(j(type="read", conversation_id=1, seq=1), 0.0)) == "forbidden"


# --- rate limits ------------------------------------------------------------------------------


def test_token_bucket_refills_at_rate() -> None:
    b = TokenBucket(rate=2.0, burst=2)
    assert b.take(0.0) and b.take(0.0) and not b.take(0.0)
    assert not b.take(0.4)
    assert b.take(0.5)
    assert b.take(10.0) and b.take(10.0) and not b.take(10.0)  # never above burst


def test_message_flood_gets_errors_then_close() -> None:
    s = visitor()
    frames = (j(type="message", conversation_id=1, client_id=f"c{i}", text="x")
              for i in itertools.count())
    executed = [s.receive(next(frames), 0.0) for _ in range(3)]
    assert all(isinstance(a[0], Execute) for a in executed)
    for _ in range(LIMITS.flood_close_after - 1):
        assert error_code(s.receive(next(frames), 0.0)) == "rate_limited"
    assert s.receive(next(frames), 0.0) == [CloseSocket(CLOSE_FLOOD, "rate limit")]
    assert s.receive(next(frames), 0.0) == []


def test_refusals_reset_after_an_accepted_frame() -> None:
    s = visitor()
    msg = j(type="message", conversation_id=1, client_id="c", text="x")
    for _ in range(3):
        s.receive(msg, 0.0)
    for _ in range(LIMITS.flood_close_after - 1):
        s.receive(msg, 0.0)
    assert isinstance(s.receive(msg, 1.0)[0], Execute)  # one token refilled
    assert error_code(s.receive(msg, 1.0)) == "rate_limited"


def test_all_frames_share_a_bucket() -> None:
    s = Session(Role.AGENT, Limits(frame_rate=1.0, frame_burst=2), ANA)
    assert s.receive(j(type="ping"), 0.0) == [Send(p.Pong())]
    assert s.receive("garbage", 0.0)[0] != Send(p.Pong())
    assert error_code(s.receive(j(type="ping"), 0.0)) == "rate_limited"


def test_typing_is_throttled_silently_and_stop_always_passes() -> None:
    s = visitor()
    typing = [s.receive(j(type="typing", conversation_id=1, draft="h" * (i + 1)), 0.0)
              for i in range(4)]
    assert [len(a) for a in typing] == [1, 1, 0, 0]
    assert s.receive(j(type="typing", conversation_id=1, draft=""), 0.0) == [
        Execute(p.Typing(1, ""))]
    # A second stop with nothing active is dropped.
    assert s.receive(j(type="typing", conversation_id=1, draft=""), 0.0) == []
    assert len(s.receive(j(type="typing", conversation_id=1, draft="x"), 1.0)) == 1


# --- visibility (the rule is desk.visibility's: tests/desk/test_visibility.py) ----------------


@pytest.mark.parametrize(
    ("part", "role", "target", "public", "internal", "whisper"),
    [
        (Part.OWNER, Role.VISITOR, False, True, False, False),
        (Part.OWNER, Role.VISITOR, True, True, False, False),  # never, even if "targeted"
        (Part.ASSIGNEE, Role.AGENT, True, True, True, True),
        (Part.ASSIGNEE, Role.AGENT, False, True, True, False),  # whisper for a previous agent
        (Part.COCHAT, Role.AGENT, False, True, True, False),
        (Part.MONITOR, Role.SUPERVISOR, False, True, True, True),
        (Part.JOINED, Role.SUPERVISOR, False, True, True, True),
        (None, Role.SUPERVISOR, False, False, False, False),
    ],
)
def test_visibility_table(part: Part | None, role: Role, target: bool, public: bool,
                          internal: bool, whisper: bool) -> None:
    s = Session(role, Limits(), Identity(role, 5, "x"))
    to = 5 if target else 6
    assert s.may_see(part, "public", to) is public
    assert s.may_see(part, "internal", to) is internal
    assert s.may_see(part, "whisper", to) is whisper
    assert s.may_see(part, "bogus", to) is False


def test_whisper_never_delivered_to_visitor_but_cursor_advances() -> None:
    s = visitor()
    s.synced(1, 0)
    assert s.on_message(1, 1, "public") is Verdict.DELIVER
    assert s.on_message(1, 2, "whisper", whisper_to=7) is Verdict.SKIP
    assert s.on_message(1, 3, "internal") is Verdict.SKIP
    assert s.on_message(1, 4, "public") is Verdict.DELIVER


def test_whisper_reaches_coached_agent_and_supervisor() -> None:
    ana = staff(ANA, {1: Part.ASSIGNEE})
    sue = staff(SUE, {1: Part.MONITOR})
    bob = staff(Identity(Role.AGENT, 9, "Bob"), {1: Part.COCHAT})
    for s in (ana, sue, bob):
        s.synced(1, 0)
    assert ana.on_message(1, 1, "whisper", whisper_to=3) is Verdict.DELIVER
    assert sue.on_message(1, 1, "whisper", whisper_to=3) is Verdict.DELIVER
    assert bob.on_message(1, 1, "whisper", whisper_to=3) is Verdict.SKIP


# --- ordering ---------------------------------------------------------------------------------


def test_cursor_gives_exactly_once_in_order() -> None:
    s = staff(ANA, {1: Part.ASSIGNEE})
    assert s.on_message(1, 1, "public") is Verdict.DROP  # no cursor: a replay is pending
    s.synced(1, 3)
    assert s.on_message(1, 2, "public") is Verdict.DROP  # duplicate of the replay
    assert s.on_message(1, 3, "public") is Verdict.DROP
    assert s.on_message(1, 5, "public") is Verdict.GAP
    assert s.last_seq[1] == 3  # a gap does not move the cursor
    assert s.on_message(1, 4, "public") is Verdict.DELIVER
    assert s.on_message(1, 5, "public") is Verdict.DELIVER
    assert s.on_message(2, 1, "public") is Verdict.DROP  # not ours
    s.synced(1, 2)
    assert s.last_seq[1] == 5  # never moves back


# --- live events ------------------------------------------------------------------------------


def test_staff_only_events_never_reach_visitor() -> None:
    s = visitor()
    assert s.sees(1, staff_only=False)
    assert not s.sees(1, staff_only=True)
    assert not s.sees(2, staff_only=False)
    assert staff(SUE, {1: Part.MONITOR}).sees(1, staff_only=True)


def test_typing_views() -> None:
    ann = visitor()
    ana = staff(ANA, {1: Part.ASSIGNEE})
    # Visitor's draft reaches staff when the site allows the preview, else a plain indicator.
    assert ana.typing_view(1, Role.VISITOR, True, False, "hel", preview=True) == (True, "hel")
    assert ana.typing_view(1, Role.VISITOR, True, False, "hel", preview=False) == (True, None)
    # The visitor sees only "agent is typing", never the agent's draft...
    assert ann.typing_view(1, Role.AGENT, True, False, "draft", preview=True) == (True, None)
    # ...and nothing from a silent monitor or a staff note.
    assert ann.typing_view(1, Role.SUPERVISOR, False, False, "x", preview=True) == (False, None)
    assert ann.typing_view(1, Role.AGENT, True, True, "x", preview=True) == (False, None)
    assert ana.typing_view(2, Role.VISITOR, True, False, "x", preview=True) == (False, None)
