"""The wire protocol: every frame a client or the server may send, one parse, one serialize.

Pure module (no I/O). Every frame is a JSON object with a ``type`` member; the other members are the
fields of the frozen dataclass registered for that type. ``parse`` validates size, encoding, JSON
shape, the type and every field (type, bounds, unknown members) and raises ``ProtocolError`` with a
wire code; ``serialize`` turns a server frame into the bytes sent (orjson). docs/protocol.md is the
reader's copy of this file.
"""

from __future__ import annotations

import types
from dataclasses import MISSING, dataclass, field, fields
from typing import Any, ClassVar, Union, get_args, get_origin, get_type_hints

import orjson

from desk.limits import SEQ_MAX, is_id
from realtime import protocol_im as im
from realtime import protocol_visits as pv
from realtime.errors import BadEncoding, FrameTooLarge, ProtocolError, UnsupportedData
from realtime.frame_meta import ID as _ID
from realtime.frame_meta import bounds as _bounds

DEFAULT_MAX_BYTES = 64 * 1024
CLIENT_ID_MAX = 64
TEXT_MAX = 10_000
DRAFT_MAX = 2_000
NOTE_MAX = 2_000
ANSWERS_MAX = 32
GROUPS_MAX = 100


_CID = _bounds(1, CLIENT_ID_MAX)


# --- client -> server -------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Auth:
    """First frame on the visitor endpoint: the signed visitor token (never in the URL)."""

    TYPE: ClassVar[str] = "auth"
    token: str = field(metadata=_bounds(1, 4096))


@dataclass(frozen=True, slots=True)
class Ping:
    TYPE: ClassVar[str] = "ping"


@dataclass(frozen=True, slots=True)
class StartChat:
    TYPE: ClassVar[str] = "start_chat"
    client_id: str = field(metadata=_CID)
    text: str = field(metadata=_bounds(0, TEXT_MAX))
    department_id: int | None = field(default=None, metadata=_ID)
    topic: str | None = field(default=None, metadata=_bounds(0, 120))
    answers: dict[str, str] = field(default_factory=dict, metadata=_bounds(0, 1000))
    name: str | None = field(default=None, metadata=_bounds(0, 120))
    email: str | None = field(default=None, metadata=_bounds(3, 254))
    language: str | None = field(default=None, metadata=_bounds(2, 8))


@dataclass(frozen=True, slots=True)
class SendMessage:
    """A chat line; ``internal`` (agents only) makes it a note the visitor never sees."""

    TYPE: ClassVar[str] = "message"
    conversation_id: int = field(metadata=_ID)
    client_id: str = field(metadata=_CID)
    text: str = field(metadata=_bounds(1, TEXT_MAX))
    internal: bool = False


@dataclass(frozen=True, slots=True)
class Whisper:
    """Supervisor coaching: visible to the coached (assigned) agent and supervisors only."""

    TYPE: ClassVar[str] = "whisper"
    conversation_id: int = field(metadata=_ID)
    client_id: str = field(metadata=_CID)
    text: str = field(metadata=_bounds(1, TEXT_MAX))


@dataclass(frozen=True, slots=True)
class Typing:
    """Live draft; empty ``draft`` means stopped typing. ``note`` marks staff-only drafting."""

    TYPE: ClassVar[str] = "typing"
    conversation_id: int = field(metadata=_ID)
    draft: str = field(default="", metadata=_bounds(0, DRAFT_MAX))
    note: bool = False


@dataclass(frozen=True, slots=True)
class Read:
    TYPE: ClassVar[str] = "read"
    conversation_id: int = field(metadata=_ID)
    seq: int = field(metadata=_bounds(0, SEQ_MAX))


@dataclass(frozen=True, slots=True)
class End:
    """Visitor ends the chat."""

    TYPE: ClassVar[str] = "end"
    conversation_id: int = field(metadata=_ID)


@dataclass(frozen=True, slots=True)
class Resume:
    """After any reconnect: replay every message with seq > after_seq, then go live."""

    TYPE: ClassVar[str] = "resume"
    conversation_id: int = field(metadata=_ID)
    after_seq: int = field(default=0, metadata=_bounds(0, SEQ_MAX))


@dataclass(frozen=True, slots=True)
class TranscriptRequest:
    """Agents get a ``transcript`` frame; visitors give an ``email`` and get it by mail."""

    TYPE: ClassVar[str] = "transcript"
    conversation_id: int = field(metadata=_ID)
    email: str | None = field(default=None, metadata=_bounds(3, 254))


@dataclass(frozen=True, slots=True)
class Rate:
    """Visitor's exit survey."""

    TYPE: ClassVar[str] = "rate"
    conversation_id: int = field(metadata=_ID)
    rating: int = field(metadata=_bounds(1, 5))
    comment: str = field(default="", metadata=_bounds(0, NOTE_MAX))


@dataclass(frozen=True, slots=True)
class ListLive:
    TYPE: ClassVar[str] = "list_live"


@dataclass(frozen=True, slots=True)
class Monitor:
    TYPE: ClassVar[str] = "monitor"
    conversation_id: int = field(metadata=_ID)


@dataclass(frozen=True, slots=True)
class Unmonitor:
    TYPE: ClassVar[str] = "unmonitor"
    conversation_id: int = field(metadata=_ID)


@dataclass(frozen=True, slots=True)
class Join:
    """Supervisor (or invited agent) joins visibly: the visitor sees a second participant."""

    TYPE: ClassVar[str] = "join"
    conversation_id: int = field(metadata=_ID)


@dataclass(frozen=True, slots=True)
class Leave:
    TYPE: ClassVar[str] = "leave"
    conversation_id: int = field(metadata=_ID)


@dataclass(frozen=True, slots=True)
class Accept:
    TYPE: ClassVar[str] = "accept"
    conversation_id: int = field(metadata=_ID)


@dataclass(frozen=True, slots=True)
class Assign:
    """Take a queued ticket (``agent_id`` = me) or give it to a colleague of its group."""

    TYPE: ClassVar[str] = "assign"
    conversation_id: int = field(metadata=_ID)
    agent_id: int = field(metadata=_ID)


@dataclass(frozen=True, slots=True)
class Decline:
    TYPE: ClassVar[str] = "decline"
    conversation_id: int = field(metadata=_ID)


@dataclass(frozen=True, slots=True)
class Transfer:
    """To exactly one of ``agent_id`` or ``group_id``, with a note for the receiver."""

    TYPE: ClassVar[str] = "transfer"
    conversation_id: int = field(metadata=_ID)
    agent_id: int | None = field(default=None, metadata=_ID)
    group_id: int | None = field(default=None, metadata=_ID)
    note: str = field(default="", metadata=_bounds(0, NOTE_MAX))


@dataclass(frozen=True, slots=True)
class Invite:
    TYPE: ClassVar[str] = "invite"
    conversation_id: int = field(metadata=_ID)
    agent_id: int = field(metadata=_ID)


@dataclass(frozen=True, slots=True)
class Close:
    """Agent closes (resolves) the chat."""

    TYPE: ClassVar[str] = "close"
    conversation_id: int = field(metadata=_ID)


@dataclass(frozen=True, slots=True)
class SetPresence:
    TYPE: ClassVar[str] = "presence"
    status: str = field(metadata=_bounds(1, 16, ("online", "away")))


@dataclass(frozen=True, slots=True)
class ActiveGroups:
    """The agent's group toggles: the router offers chats of these groups only (all others off)."""

    TYPE: ClassVar[str] = "active_groups"
    group_ids: tuple[int, ...] = field(metadata=_bounds(0, GROUPS_MAX))


@dataclass(frozen=True, slots=True)
class BoardRequest:
    """Supervisor's live board: agents and queues of their groups (answered with ``board``);
    ``follow``: and push a fresh one whenever routing moves, for as long as the socket lives."""

    TYPE: ClassVar[str] = "board"
    follow: bool = False


ClientFrame = Union[  # noqa: UP007 - a runtime alias used by isinstance-free `match`
    Auth, Ping, StartChat, SendMessage, Whisper, Typing, Read, End, Resume, TranscriptRequest,
    Rate, ListLive, Monitor, Unmonitor, Join, Leave, Accept, Assign, Decline, Transfer, Invite,
    Close, SetPresence, ActiveGroups, BoardRequest,
    # Who's On (realtime.protocol_visits) and team messaging (realtime.protocol_im)
    pv.PageView, pv.WatchVisitors, pv.UnwatchVisitors, pv.InviteVisitor, pv.InvitationAnswer,
    im.TeamList, im.TeamOpenDm, im.TeamCreateRoom, im.TeamSend, im.TeamResume, im.TeamRead,
]
CLIENT_FRAMES: dict[str, type[Any]] = {cls.TYPE: cls for cls in get_args(ClientFrame)}
MESSAGE_LIKE = (StartChat, SendMessage, Whisper)  # frames that store text: the message bucket


# --- server -> client -------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Welcome:
    TYPE: ClassVar[str] = "welcome"
    role: str
    name: str
    conversations: tuple[int, ...]
    epoch: str
    typing_preview: bool = True


@dataclass(frozen=True, slots=True)
class Pong:
    TYPE: ClassVar[str] = "pong"


@dataclass(frozen=True, slots=True)
class Error:
    TYPE: ClassVar[str] = "error"
    code: str
    message: str
    ref: str | None = None  # the client frame type that caused it
    client_id: str | None = None
    conversation_id: int | None = None


@dataclass(frozen=True, slots=True)
class Ack:
    TYPE: ClassVar[str] = "ack"
    conversation_id: int
    client_id: str
    seq: int
    duplicate: bool = False


@dataclass(frozen=True, slots=True)
class Started:
    TYPE: ClassVar[str] = "started"
    conversation_id: int
    number: str
    client_id: str


@dataclass(frozen=True, slots=True)
class Queued:
    TYPE: ClassVar[str] = "queued"
    conversation_id: int
    position: int
    eta_s: int | None


@dataclass(frozen=True, slots=True)
class Assigned:
    TYPE: ClassVar[str] = "assigned"
    conversation_id: int
    agent_name: str


@dataclass(frozen=True, slots=True)
class Offer:
    TYPE: ClassVar[str] = "offer"
    conversation_id: int
    number: str
    topic: str | None
    expires_in_s: float
    channel: str = "chat"  # a ticket (email, portal) opens as a ticket, not as a live chat


@dataclass(frozen=True, slots=True)
class OfferRevoked:
    TYPE: ClassVar[str] = "offer_revoked"
    conversation_id: int


@dataclass(frozen=True, slots=True)
class Released:
    """To staff consoles of the conversation's group: it left routing (resolved, closed,
    merged, pending), so queue and live lists drop it now rather than at their next poll."""

    TYPE: ClassVar[str] = "released"
    conversation_id: int
    status: str


@dataclass(frozen=True, slots=True)
class Notification:
    """An automation rule's notice for this agent (``routing.events.AgentNotified``)."""

    TYPE: ClassVar[str] = "notification"
    conversation_id: int
    number: str
    text: str
    rule_id: int
    id: int  # the notice's (``routing.events.AgentNotified.notice_id``)


@dataclass(frozen=True, slots=True)
class TaskReminder:
    """A reminder of one of this agent's tasks (``routing.events.TaskReminded``); the console
    shows each (``task_id``, ``reminded_at``) once, however many times it hears it."""

    TYPE: ClassVar[str] = "task_reminder"
    task_id: int
    title: str
    due_at: str | None
    reminded_at: str


@dataclass(frozen=True, slots=True)
class MessageOut:
    """``files``: the message's attachments (``desk.attachments.file_ref``), or None."""

    TYPE: ClassVar[str] = "message"
    conversation_id: int
    seq: int
    author_kind: str
    author_name: str | None
    visibility: str
    text: str
    client_id: str | None
    created_at: str
    files: tuple[dict[str, Any], ...] | None = None


@dataclass(frozen=True, slots=True)
class TypingOut:
    """``draft`` is None when only the indicator may be shown (preview off, or visitor side)."""

    TYPE: ClassVar[str] = "typing"
    conversation_id: int
    author_kind: str
    author_name: str | None
    active: bool
    draft: str | None = None


@dataclass(frozen=True, slots=True)
class ReadOut:
    TYPE: ClassVar[str] = "read"
    conversation_id: int
    author_kind: str
    seq: int


@dataclass(frozen=True, slots=True)
class ParticipantJoined:
    TYPE: ClassVar[str] = "participant_joined"
    conversation_id: int
    name: str
    role: str


@dataclass(frozen=True, slots=True)
class ParticipantLeft:
    TYPE: ClassVar[str] = "participant_left"
    conversation_id: int
    name: str
    role: str


@dataclass(frozen=True, slots=True)
class Ended:
    TYPE: ClassVar[str] = "ended"
    conversation_id: int
    by: str


@dataclass(frozen=True, slots=True)
class ConversationRemoved:
    """This socket lost the conversation (its rights ended): nothing more of it arrives, and
    writes to it are refused."""

    TYPE: ClassVar[str] = "conversation_removed"
    conversation_id: int
    reason: str


@dataclass(frozen=True, slots=True)
class State:
    """Snapshot sent before a replay: where the conversation stands now."""

    TYPE: ClassVar[str] = "state"
    conversation_id: int
    number: str
    status: str
    agent_name: str | None
    last_seq: int


@dataclass(frozen=True, slots=True)
class Transcript:
    TYPE: ClassVar[str] = "transcript"
    conversation_id: int
    number: str
    messages: tuple[MessageOut, ...]


@dataclass(frozen=True, slots=True)
class Done:
    """Confirms a command with no other visible result (monitor, transfer, email transcript...)."""

    TYPE: ClassVar[str] = "done"
    op: str
    conversation_id: int | None = None


@dataclass(frozen=True, slots=True)
class LiveConversation:
    conversation_id: int
    number: str
    status: str
    group_id: int | None
    agent_name: str | None
    waiting_s: int
    channel: str = "chat"  # chat | email | portal (tickets sit beside the chats)
    sla_due: str | None = None  # ISO time the SLA falls due, when one is set
    subject: str | None = None


@dataclass(frozen=True, slots=True)
class Capacity:
    """The agent's own load against capacity, from the router's live state."""

    chats: int
    max_chats: int
    tickets: int
    max_tickets: int


@dataclass(frozen=True, slots=True)
class Live:
    TYPE: ClassVar[str] = "live"
    conversations: tuple[LiveConversation, ...]
    capacity: Capacity | None = None  # for an agent's console: whether "Take" can work


@dataclass(frozen=True, slots=True)
class PresenceOut:
    TYPE: ClassVar[str] = "presence"
    agent_id: int
    status: str


@dataclass(frozen=True, slots=True)
class AgentState:
    """The agent's own routing choices, as kept server-side (a console shows these, never its own
    guess): ``status`` online|away and the groups the agent wants on (while away the router has
    them all off and these wait for the return)."""

    TYPE: ClassVar[str] = "agent_state"
    status: str
    active_groups: tuple[int, ...]


@dataclass(frozen=True, slots=True)
class BoardAgent:
    agent_id: int
    name: str
    status: str  # online | away | offline
    chats: int
    max_chats: int
    tickets: int
    max_tickets: int
    active_groups: tuple[int, ...]


@dataclass(frozen=True, slots=True)
class BoardQueue:
    group_id: int
    length: int
    oldest_wait_s: int | None


@dataclass(frozen=True, slots=True)
class Board:
    TYPE: ClassVar[str] = "board"
    agents: tuple[BoardAgent, ...]
    queues: tuple[BoardQueue, ...]


@dataclass(frozen=True, slots=True)
class Reload:
    """The live state was rebuilt (Redis epoch changed): drop local state, reconnect, resume."""

    TYPE: ClassVar[str] = "reload"
    epoch: str


ServerFrame = Union[  # noqa: UP007
    Welcome, Pong, Error, Ack, Started, Queued, Assigned, Offer, OfferRevoked, Released,
    Notification, TaskReminder, MessageOut,
    TypingOut, ReadOut, ParticipantJoined, ParticipantLeft, Ended, ConversationRemoved, State,
    Transcript, Done, Live, PresenceOut, AgentState, Board, Reload,
    pv.Visitors, pv.VisitorsDelta, pv.Invitation, pv.InvitationOutcome,
    im.TeamThreads, im.TeamMessageOut, im.TeamAck,
]
SERVER_FRAMES: dict[str, type[Any]] = {cls.TYPE: cls for cls in get_args(ServerFrame)}


# --- parse / serialize ------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Spec:
    name: str
    kind: type  # int, str, bool, dict or tuple (of ids)
    optional: bool
    required: bool
    lo: int
    hi: int
    choices: tuple[str, ...]


def _specs(cls: type[Any]) -> tuple[_Spec, ...]:
    hints = get_type_hints(cls)
    out = []
    for f in fields(cls):
        hint = hints[f.name]
        args = get_args(hint)
        optional = (get_origin(hint) in (Union, types.UnionType)) and type(None) in args
        base = next(a for a in args if a is not type(None)) if optional else hint
        kind = get_origin(base) or base
        required = f.default is MISSING and f.default_factory is MISSING
        meta = f.metadata or _bounds(0, 2**63)
        out.append(_Spec(f.name, kind, optional, required, meta["lo"], meta["hi"],
                         meta["choices"]))
    return tuple(out)


_CLIENT_SPECS = {name: (cls, _specs(cls)) for name, cls in CLIENT_FRAMES.items()}


def _check(spec: _Spec, value: Any) -> Any:
    if value is None:
        if spec.optional:
            return None
        raise ProtocolError("bad_field", f"{spec.name} must not be null")
    kind = spec.kind
    # bool is an int subclass in Python; JSON true must not pass as an id.
    if kind is int and (type(value) is not int or not spec.lo <= value <= spec.hi):
        raise ProtocolError("bad_field",
                            f"{spec.name} must be an integer in [{spec.lo}, {spec.hi}]")
    if kind is bool and type(value) is not bool:
        raise ProtocolError("bad_field", f"{spec.name} must be true or false")
    if kind is str:
        if type(value) is not str or not spec.lo <= len(value) <= spec.hi:
            raise ProtocolError("bad_field",
                                f"{spec.name} must be a string of {spec.lo}..{spec.hi} chars")
        if spec.choices and value not in spec.choices:
            raise ProtocolError("bad_field", f"{spec.name} must be one of {spec.choices}")
    if kind is tuple:
        if type(value) is not list or not spec.lo <= len(value) <= spec.hi or not all(
                is_id(v) for v in value):
            raise ProtocolError("bad_field",
                                f"{spec.name} must be a list of <= {spec.hi} integer ids")
        return tuple(value)
    if kind is dict:
        if type(value) is not dict or len(value) > ANSWERS_MAX:
            raise ProtocolError("bad_field",
                                f"{spec.name} must be an object of <= {ANSWERS_MAX} members")
        for k, v in value.items():
            if len(k) > 64 or type(v) is not str or len(v) > spec.hi:
                raise ProtocolError("bad_field",
                                    f"{spec.name} members must be strings <= {spec.hi} chars")
    return value


def parse(data: bytes | str, max_bytes: int = DEFAULT_MAX_BYTES) -> ClientFrame:
    """Decode one client frame or raise ProtocolError (subclass says whether to close)."""
    if isinstance(data, bytes):
        if len(data) > max_bytes:
            raise FrameTooLarge(f"frame of {len(data)} bytes exceeds {max_bytes}")
        try:
            data.decode("utf-8")
        except UnicodeDecodeError:
            raise BadEncoding("frame is not valid UTF-8") from None
    elif len(data) > max_bytes // 4 and len(data.encode("utf-8", "surrogatepass")) > max_bytes:
        raise FrameTooLarge(f"frame exceeds {max_bytes} bytes")
    try:
        obj = orjson.loads(data)
    except orjson.JSONDecodeError:
        raise ProtocolError("not_json", "frame is not valid JSON") from None
    if type(obj) is not dict:
        raise ProtocolError("not_object", "frame must be a JSON object")
    kind = obj.pop("type", None)
    if type(kind) is not str:
        raise ProtocolError("missing_field", "frame needs a string 'type'")
    entry = _CLIENT_SPECS.get(kind)
    if entry is None:
        raise ProtocolError("unknown_type", f"unknown frame type {kind[:40]!r}")
    cls, specs = entry
    values: dict[str, Any] = {}
    for spec in specs:
        if spec.name in obj:
            values[spec.name] = _check(spec, obj.pop(spec.name))
        elif spec.required:
            raise ProtocolError("missing_field", f"{kind} needs {spec.name}")
    if obj:
        raise ProtocolError("bad_field", f"unknown member {next(iter(obj))[:40]!r} in {kind}")
    frame: ClientFrame = cls(**values)
    return frame


def reject_binary() -> UnsupportedData:
    return UnsupportedData("binary frames are not supported; send JSON text")


_SERVER_FIELDS = {cls: tuple(f.name for f in fields(cls)) for cls in SERVER_FRAMES.values()}


def serialize(frame: ServerFrame) -> bytes:
    payload: dict[str, Any] = {"type": frame.TYPE}
    for name in _SERVER_FIELDS[type(frame)]:
        payload[name] = getattr(frame, name)
    return orjson.dumps(payload)


def serialize_text(frame: ServerFrame) -> str:
    """The same bytes as ``serialize`` as str, for ASGI text frames."""
    return serialize(frame).decode()
