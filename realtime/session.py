"""Per-connection state machine, sans I/O.

A ``Session`` is fed raw client frames (``receive``) and hub events (``on_message``,
``typing_view``, ``sees``) with the current monotonic time, and answers with actions for the I/O
layer: send a frame, close the socket, verify a token, or execute a validated, permitted command.
It owns:

- the authentication phase (visitors must send ``auth`` first; nothing else is processed before);
- the role's allowed frames and the per-conversation participation that gates each command;
- token buckets (messages, typing previews, all frames) and the flood cut-off;
- visibility: which stored messages and live events this connection may see, including the
  whisper rule (coached agent and supervisors only, never a visitor, live or on replay);
- per-conversation delivery cursor (``last_seq``) so every message reaches this socket once, in
  order, whatever path it came by (local, Redis, replay, gap fill).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum, StrEnum
from typing import Union

from desk.visibility import readable
from realtime import protocol as p
from realtime import protocol_im as im
from realtime import protocol_visits as pv
from realtime.errors import (
    CLOSE_FLOOD,
    CLOSE_UNAUTHENTICATED,
    ProtocolError,
)


class Role(StrEnum):
    VISITOR = "visitor"
    AGENT = "agent"
    SUPERVISOR = "supervisor"


# A role's author and reader kind in the records (``Message.author_kind``, desk.visibility).
AUTHOR_KIND = {Role.VISITOR: "contact", Role.AGENT: "agent", Role.SUPERVISOR: "supervisor"}


class Part(StrEnum):
    """How a connection takes part in a conversation."""

    OWNER = "owner"  # the visitor whose conversation it is
    ASSIGNEE = "assignee"  # the assigned (coached) agent
    COCHAT = "cochat"  # invited agent, visible to the visitor
    MONITOR = "monitor"  # supervisor, silent and invisible
    JOINED = "joined"  # supervisor who joined visibly


class Phase(Enum):
    AWAIT_AUTH = "await_auth"
    AUTHENTICATING = "authenticating"
    OPEN = "open"
    CLOSED = "closed"


class Verdict(Enum):
    DELIVER = "deliver"  # next in order and visible: send it
    SKIP = "skip"  # next in order but not visible to this connection: advance only
    DROP = "drop"  # already delivered, or not a conversation of this connection
    GAP = "gap"  # later than the next one: fetch the missing ones from the records first


VISITOR_FRAMES = frozenset({
    p.Auth, p.Ping, p.StartChat, p.SendMessage, p.Typing, p.Read, p.End, p.Resume,
    p.TranscriptRequest, p.Rate, pv.PageView, pv.InvitationAnswer,
})
AGENT_FRAMES = frozenset({
    p.Ping, p.SendMessage, p.Typing, p.Read, p.Resume, p.TranscriptRequest, p.Accept, p.Assign,
    p.Decline, p.Transfer, p.Invite, p.Close, p.Join, p.Leave, p.SetPresence, p.ListLive,
    p.ActiveGroups, *im.CLIENT,
    pv.WatchVisitors, pv.UnwatchVisitors, pv.InviteVisitor,
})
SUPERVISOR_FRAMES = AGENT_FRAMES | {p.Monitor, p.Unmonitor, p.Whisper, p.BoardRequest}
ROLE_FRAMES = {
    Role.VISITOR: VISITOR_FRAMES, Role.AGENT: AGENT_FRAMES, Role.SUPERVISOR: SUPERVISOR_FRAMES,
}

_STAFF_ANY = frozenset({Part.ASSIGNEE, Part.COCHAT, Part.MONITOR, Part.JOINED})
_STAFF_VISIBLE = frozenset({Part.ASSIGNEE, Part.COCHAT, Part.JOINED})
_OWNERS = frozenset({Part.ASSIGNEE, Part.JOINED})
# Frames acting on a conversation the connection already takes part in, with the parts allowed.
# Frames absent here (accept, decline, monitor, join) are checked by the I/O layer against the
# records, since they are how a connection gains a part.
_NEEDS_PART: dict[type, frozenset[Part]] = {
    p.SendMessage: _STAFF_VISIBLE,
    p.Whisper: frozenset({Part.MONITOR, Part.JOINED}),
    p.Typing: _STAFF_ANY,
    p.Read: _STAFF_ANY,
    p.Resume: _STAFF_ANY,
    p.TranscriptRequest: _STAFF_ANY,
    p.Transfer: _OWNERS,
    p.Invite: _OWNERS,
    p.Close: _OWNERS,
    p.Leave: frozenset({Part.COCHAT, Part.JOINED}),
    p.Unmonitor: frozenset({Part.MONITOR}),
}


@dataclass(slots=True)
class TokenBucket:
    rate: float
    burst: float
    tokens: float = -1.0
    stamp: float = 0.0

    def take(self, now: float, n: float = 1.0) -> bool:
        if self.tokens < 0:  # first use: full bucket
            self.tokens, self.stamp = self.burst, now
        self.tokens = min(self.burst, self.tokens + (now - self.stamp) * self.rate)
        self.stamp = now
        if self.tokens >= n:
            self.tokens -= n
            return True
        return False


@dataclass(frozen=True, slots=True)
class Limits:
    max_bytes: int = p.DEFAULT_MAX_BYTES
    msg_rate: float = 10.0
    msg_burst: int = 30
    typing_rate: float = 5.0
    typing_burst: int = 5
    view_rate: float = 1.0  # page views: a burst of navigations passes, a flood is dropped
    view_burst: int = 5
    frame_rate: float = 50.0
    frame_burst: int = 100
    flood_close_after: int = 200  # consecutive refused frames before the socket is cut


@dataclass(frozen=True, slots=True)
class Identity:
    role: Role
    subject_id: int  # contact id (visitor) or agent id
    name: str
    site_id: int | None = None
    typing_preview: bool = True


@dataclass(frozen=True, slots=True)
class Send:
    frame: p.ServerFrame


@dataclass(frozen=True, slots=True)
class CloseSocket:
    code: int
    reason: str


@dataclass(frozen=True, slots=True)
class Authenticate:
    token: str


@dataclass(frozen=True, slots=True)
class Execute:
    frame: p.ClientFrame


Action = Union[Send, CloseSocket, Authenticate, Execute]  # noqa: UP007


def _error(code: str, message: str, frame: object | None = None) -> Send:
    return Send(p.Error(
        code=code,
        message=message,
        ref=getattr(frame, "TYPE", None),
        client_id=getattr(frame, "client_id", None),
        conversation_id=getattr(frame, "conversation_id", None),
    ))


class Session:
    """One WebSocket connection's protocol state. Time is passed in (monotonic seconds)."""

    # One per socket, ten thousand per process: no instance dict.
    __slots__ = ("_frames", "_messages", "_refused", "_typing", "_typing_active", "_views",
                 "identity", "kind", "last_seq", "limits", "parts", "phase", "role")

    def __init__(self, role: Role, limits: Limits, identity: Identity | None = None) -> None:
        self.role = role
        self.kind = AUTHOR_KIND[role]  # the reader's kind, for desk.visibility
        self.limits = limits
        self.identity = identity
        self.phase = Phase.OPEN if identity is not None else Phase.AWAIT_AUTH
        self.parts: dict[int, Part] = {}
        self.last_seq: dict[int, int] = {}
        self._messages = TokenBucket(limits.msg_rate, limits.msg_burst)
        self._typing = TokenBucket(limits.typing_rate, limits.typing_burst)
        self._views = TokenBucket(limits.view_rate, limits.view_burst)
        self._frames = TokenBucket(limits.frame_rate, limits.frame_burst)
        self._refused = 0
        self._typing_active: set[int] = set()

    # --- inbound ---------------------------------------------------------------------------

    def receive(self, data: str | bytes, now: float) -> list[Action]:
        if self.phase is Phase.CLOSED:
            return []
        if isinstance(data, bytes):
            return self._close_for(p.reject_binary())
        if not self._frames.take(now):
            return self._refuse("too many frames", None)
        try:
            frame = p.parse(data, self.limits.max_bytes)
        except ProtocolError as exc:
            if exc.close_code is not None:
                return self._close_for(exc)
            if self.phase is Phase.AWAIT_AUTH:
                return self._close(CLOSE_UNAUTHENTICATED, "authenticate first")
            return [_error(exc.code, exc.message)]
        if self.phase is not Phase.OPEN:
            return self._pre_auth(frame)
        if isinstance(frame, p.Auth):
            return [_error("conflict", "already authenticated", frame)]
        if type(frame) not in ROLE_FRAMES[self.role]:
            return [_error("forbidden", f"{frame.TYPE} is not allowed for {self.role}", frame)]
        denial = self._denial(frame)
        if denial:
            return [_error("forbidden", denial, frame)]
        if isinstance(frame, p.Typing):
            if not self._typing_passes(frame, now):
                return []  # previews are ephemeral: a throttled one is simply not sent
        elif isinstance(frame, pv.PageView) and not self._views.take(now):
            return []  # the next one that passes says where the visitor is now
        elif isinstance(frame, p.MESSAGE_LIKE) and not self._messages.take(now):
            return self._refuse("message rate exceeded", frame)
        self._refused = 0
        if isinstance(frame, p.Ping):
            return [Send(p.Pong())]
        return [Execute(frame)]

    def _typing_passes(self, frame: p.Typing, now: float) -> bool:
        # A "stopped typing" after an active preview always passes, once, so an indicator
        # never sticks because the last update was throttled.
        was_active = frame.conversation_id in self._typing_active
        if not frame.draft and was_active:
            self._typing_active.discard(frame.conversation_id)
            return True
        if not frame.draft or not self._typing.take(now):
            return False
        self._typing_active.add(frame.conversation_id)
        return True

    def _pre_auth(self, frame: p.ClientFrame) -> list[Action]:
        if self.phase is Phase.AWAIT_AUTH and isinstance(frame, p.Auth):
            self.phase = Phase.AUTHENTICATING
            return [Authenticate(frame.token)]
        if self.phase is Phase.AUTHENTICATING:
            return [_error("not_authenticated", "wait for welcome", frame)]
        return self._close(CLOSE_UNAUTHENTICATED, "authenticate first")

    def _denial(self, frame: p.ClientFrame) -> str | None:
        cid: int | None = getattr(frame, "conversation_id", None)
        if cid is None:
            return None
        part = self.parts.get(cid)
        if self.role is Role.VISITOR:
            if part is not Part.OWNER:
                return "not your conversation"
            # A visitor writes public messages only: notes and whispers are staff talk.
            return "visitors cannot write internal notes" \
                if isinstance(frame, p.SendMessage) and frame.internal else None
        allowed = _NEEDS_PART.get(type(frame))
        if isinstance(frame, p.SendMessage) and frame.internal:
            allowed = _STAFF_ANY
        if allowed is None or part in allowed:
            return None
        return "no such conversation" if part is None else f"not allowed while {part}"

    def _refuse(self, why: str, frame: object | None) -> list[Action]:
        self._refused += 1
        if self._refused >= self.limits.flood_close_after:
            return self._close(CLOSE_FLOOD, "rate limit")
        return [_error("rate_limited", why, frame)]

    def _close_for(self, exc: ProtocolError) -> list[Action]:
        assert exc.close_code is not None
        return self._close(exc.close_code, exc.code)

    def _close(self, code: int, reason: str) -> list[Action]:
        self.phase = Phase.CLOSED
        return [CloseSocket(code, reason)]

    # --- authentication outcome ------------------------------------------------------------

    def authenticated(self, identity: Identity, conversations: dict[int, Part],
                      epoch: str) -> list[Action]:
        self.identity = identity
        self.phase = Phase.OPEN
        self.parts.update(conversations)
        return [Send(p.Welcome(role=identity.role.value, name=identity.name,
                               conversations=tuple(sorted(conversations)), epoch=epoch,
                               typing_preview=identity.typing_preview))]

    def auth_failed(self, reason: str) -> list[Action]:
        return self._close(CLOSE_UNAUTHENTICATED, reason)

    def auth_deadline(self) -> list[Action]:
        """Called when Settings.ws_auth_timeout_s has passed since the socket was accepted."""
        if self.phase in (Phase.AWAIT_AUTH, Phase.AUTHENTICATING):
            return self._close(CLOSE_UNAUTHENTICATED, "auth timeout")
        return []

    def closed(self) -> None:
        self.phase = Phase.CLOSED

    # --- participation ---------------------------------------------------------------------

    def grant(self, conversation_id: int, part: Part) -> None:
        self.parts[conversation_id] = part

    def revoke(self, conversation_id: int) -> None:
        self.parts.pop(conversation_id, None)
        self.last_seq.pop(conversation_id, None)

    # --- outbound --------------------------------------------------------------------------

    def synced(self, conversation_id: int, seq: int) -> None:
        """Everything up to ``seq`` has been delivered (or skipped) on this connection."""
        if self.last_seq.get(conversation_id, -1) < seq:
            self.last_seq[conversation_id] = seq

    def on_message(self, conversation_id: int, seq: int, visibility: str,
                   whisper_to: int | None = None) -> Verdict:
        part = self.parts.get(conversation_id)
        last = self.last_seq.get(conversation_id)
        if part is None or last is None or seq <= last:
            # No cursor yet means a replay for this conversation is pending and will cover it.
            return Verdict.DROP
        if seq > last + 1:
            return Verdict.GAP
        self.last_seq[conversation_id] = seq
        return Verdict.DELIVER if self.may_see(part, visibility, whisper_to) else Verdict.SKIP

    def may_see(self, part: Part | None, visibility: str, whisper_to: int | None) -> bool:
        """May this socket, taking ``part``, see a message of ``visibility``?"""
        target = self.identity is not None and whisper_to == self.identity.subject_id
        return part is not None and readable(self.kind, visibility, target)

    def sees(self, conversation_id: int, staff_only: bool) -> bool:
        """May this connection see a live (unsequenced) event of the conversation?"""
        part = self.parts.get(conversation_id)
        return part is not None and not (staff_only and part is Part.OWNER)

    def typing_view(self, conversation_id: int, author_role: Role, author_visible: bool,
                    note: bool, draft: str, preview: bool) -> tuple[bool, str | None]:
        """(deliver?, draft to show) for a typing event, from the recipient's point of view.

        Visitors see a plain indicator from visible staff only, never a draft, never a note or a
        silent monitor typing; staff see the visitor's draft when the site allows the preview.
        """
        part = self.parts.get(conversation_id)
        if part is None:
            return False, None
        if part is Part.OWNER:
            return (author_role is not Role.VISITOR and author_visible and not note), None
        if author_role is Role.VISITOR and preview:
            return True, draft
        return True, None
