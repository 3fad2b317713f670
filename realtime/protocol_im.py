"""Team messaging frames: agents' direct messages and named rooms (never a customer's).

Pure module, registered in ``realtime.protocol`` (one ``parse``, one ``serialize``). A thread
(a room or a two-person direct thread) numbers its messages with a gap-free ``seq`` like a
conversation (``desk.seq``): ``team_ack`` answers a send with it, ``team_resume`` replays what
came after the client's last seq, so nothing is lost across a reconnect.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import ClassVar

from desk.limits import SEQ_MAX
from realtime.frame_meta import ID, bounds

TEAM_TEXT_MAX = 4000
ROOM_NAME_MAX = 80
MEMBERS_MAX = 200


# --- client -> server -------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class TeamList:
    """The threads I am in, with unread counts (answered with ``team_threads``)."""

    TYPE: ClassVar[str] = "team_list"


@dataclass(frozen=True, slots=True)
class TeamOpenDm:
    """Open (or find) my direct thread with a colleague."""

    TYPE: ClassVar[str] = "team_open_dm"
    agent_id: int = field(metadata=ID)


@dataclass(frozen=True, slots=True)
class TeamCreateRoom:
    """A named room of colleagues (the creator is a member)."""

    TYPE: ClassVar[str] = "team_create_room"
    name: str = field(metadata=bounds(1, ROOM_NAME_MAX))
    member_ids: tuple[int, ...] = field(default=(), metadata=bounds(0, MEMBERS_MAX))


@dataclass(frozen=True, slots=True)
class TeamSend:
    TYPE: ClassVar[str] = "team_send"
    thread_id: int = field(metadata=ID)
    client_id: str = field(metadata=bounds(1, 64))
    text: str = field(metadata=bounds(1, TEAM_TEXT_MAX))


@dataclass(frozen=True, slots=True)
class TeamResume:
    """Replay the thread's messages with seq > after_seq."""

    TYPE: ClassVar[str] = "team_resume"
    thread_id: int = field(metadata=ID)
    after_seq: int = field(default=0, metadata=bounds(0, SEQ_MAX))


@dataclass(frozen=True, slots=True)
class TeamRead:
    TYPE: ClassVar[str] = "team_read"
    thread_id: int = field(metadata=ID)
    seq: int = field(metadata=bounds(0, SEQ_MAX))


CLIENT = (TeamList, TeamOpenDm, TeamCreateRoom, TeamSend, TeamResume, TeamRead)


# --- server -> client -------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class TeamThread:
    thread_id: int
    kind: str  # room | dm
    name: str  # the room's name, or the other person's for a direct thread
    last_seq: int
    unread: int
    members: tuple[int, ...]


@dataclass(frozen=True, slots=True)
class TeamThreads:
    """``full``: every thread of mine (answering ``team_list``); else these threads are new or
    changed (a room I was added to, a direct thread opened)."""

    TYPE: ClassVar[str] = "team_threads"
    threads: tuple[TeamThread, ...]
    full: bool = False


@dataclass(frozen=True, slots=True)
class TeamMessageOut:
    TYPE: ClassVar[str] = "team_message"
    thread_id: int
    seq: int
    author_id: int
    author_name: str
    text: str
    client_id: str | None
    created_at: str


@dataclass(frozen=True, slots=True)
class TeamAck:
    TYPE: ClassVar[str] = "team_ack"
    thread_id: int
    client_id: str
    seq: int
    duplicate: bool = False


SERVER = (TeamThreads, TeamMessageOut, TeamAck)
