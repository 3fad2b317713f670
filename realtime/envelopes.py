"""Hub envelopes: what a web process tells the others (and itself) through the hub channel.

One typed value per kind, one ``encode`` and one ``decode``; the wire keeps the short keys
(``k`` names the kind) because every envelope of every process crosses Redis and every
subscriber. A stored message travels as ``StoredMessage`` itself (kind ``m``), so the message
path builds nothing it did not already hold.

Kinds: ``m`` stored message, ``t`` typing, ``e`` unsequenced event frame for a conversation
(``audience``: 0 all, 1 staff, 2 visitor), ``g`` grant/revoke a part to an agent's sockets,
``o`` frame for one agent's sockets, ``v`` frame for one visitor's widget sockets on a site,
``s`` frame for every supervisor socket, ``x`` control (session ended, rights changed,
conversation changed, beat again), carried out by ``realtime.rights``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import orjson

from realtime.connection import StoredMessage

AUDIENCE_ALL, AUDIENCE_STAFF, AUDIENCE_VISITOR = 0, 1, 2


@dataclass(frozen=True, slots=True)
class Typing:
    conversation_id: int
    sender: int  # the typing socket's conn_id (it hears nothing of its own typing)
    role: str
    author_kind: str
    author_name: str
    author_visible: bool  # the typist is visible to the visitor (owner, assignee, co-chat...)
    note: bool
    draft: str  # empty: stopped typing
    preview: bool  # the site lets the visitor's draft be previewed


@dataclass(frozen=True, slots=True)
class Event:
    conversation_id: int
    audience: int
    invalidate: bool  # the conversation's facts changed: processes drop their cached copy
    text: str  # a serialized server frame


@dataclass(frozen=True, slots=True)
class ToAgent:
    agent_id: int
    text: str


@dataclass(frozen=True, slots=True)
class ToVisitor:
    contact_id: int
    site_id: int
    text: str


@dataclass(frozen=True, slots=True)
class ToSupervisors:
    text: str


@dataclass(frozen=True, slots=True)
class Grant:
    agent_id: int
    conversation_id: int
    part: str | None  # a ``session.Part`` value; None revokes


@dataclass(frozen=True, slots=True)
class SessionEnded:
    agent_id: int
    session_id: str | None  # None: every session of the agent


@dataclass(frozen=True, slots=True)
class RightsChanged:
    agent_id: int


@dataclass(frozen=True, slots=True)
class ConversationChanged:
    conversation_id: int


@dataclass(frozen=True, slots=True)
class Beat:
    """A process dropped the agent's heartbeat: beat again where a console socket is open."""

    agent_id: int


Control = SessionEnded | RightsChanged | ConversationChanged | Beat
Envelope = (StoredMessage | Typing | Event | ToAgent | ToVisitor | ToSupervisors | Grant
            | Control)


def encode(env: Envelope, node: str) -> bytes:
    """The envelope as JSON, with the sending process's node id."""
    out: dict[str, Any]
    match env:
        case StoredMessage(cid, seq, visibility, whisper_to, text):
            out = {"k": "m", "c": cid, "q": seq, "v": visibility, "w": whisper_to, "f": text}
        case Event(cid, audience, invalidate, text):
            out = {"k": "e", "c": cid, "a": audience, "i": invalidate, "f": text}
        case Typing(cid, sender, role, kind, name, visible, note, draft, preview):
            out = {"k": "t", "c": cid, "s": sender, "r": role, "ak": kind, "an": name,
                   "av": visible, "note": note, "d": draft, "pv": preview}
        case ToAgent(agent_id, text):
            out = {"k": "o", "a": agent_id, "f": text}
        case ToVisitor(contact_id, site_id, text):
            out = {"k": "v", "a": contact_id, "st": site_id, "f": text}
        case ToSupervisors(text):
            out = {"k": "s", "f": text}
        case Grant(agent_id, cid, part):
            out = {"k": "g", "a": agent_id, "c": cid, "p": part}
        case SessionEnded(agent_id, session_id):
            out = {"k": "x", "op": "end", "a": agent_id, "sid": session_id}
        case RightsChanged(agent_id):
            out = {"k": "x", "op": "rights", "a": agent_id}
        case ConversationChanged(cid):
            out = {"k": "x", "op": "conv", "c": cid}
        case Beat(agent_id):
            out = {"k": "x", "op": "beat", "a": agent_id}
    out["n"] = node
    return orjson.dumps(out)


def decode(raw: dict[str, Any]) -> Envelope:
    """An envelope from its JSON object; ``ValueError`` for one this process cannot read."""
    try:
        match raw["k"]:
            case "m":
                return StoredMessage(raw["c"], raw["q"], raw["v"], raw["w"], raw["f"])
            case "e":
                return Event(raw["c"], raw["a"], raw["i"], raw["f"])
            case "t":
                return Typing(raw["c"], raw["s"], raw["r"], raw["ak"], raw["an"], raw["av"],
                              raw["note"], raw["d"], raw["pv"])
            case "o":
                return ToAgent(raw["a"], raw["f"])
            case "v":
                return ToVisitor(raw["a"], raw["st"], raw["f"])
            case "s":
                return ToSupervisors(raw["f"])
            case "g":
                return Grant(raw["a"], raw["c"], raw["p"])
            case "x":
                return _control(raw)
    except (KeyError, TypeError) as exc:
        raise ValueError(f"envelope without {exc}") from None
    raise ValueError(f"unknown envelope kind {raw.get('k')!r}")


def _control(raw: dict[str, Any]) -> Control:
    match raw["op"]:
        case "end":
            return SessionEnded(raw["a"], raw["sid"])
        case "rights":
            return RightsChanged(raw["a"])
        case "conv":
            return ConversationChanged(raw["c"])
        case "beat":
            return Beat(raw["a"])
    raise ValueError(f"unknown control {raw['op']!r}")
