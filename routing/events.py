"""Router events on ``keys.events_channel(db)`` for the realtime hub (shapes in docs/routing.md).

One frozen dataclass per event type; ``dump`` and ``parse`` are the only (de)serialisers.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import orjson

LEFT_GROUP = "left_group"  # reason: the agent lost the group (their rights changed)


@dataclass(frozen=True, slots=True)
class Queued:
    """A conversation entered (or re-entered) a queue; its position and wait estimate."""

    conversation_id: int
    group_id: int
    position: int
    eta_s: float | None


@dataclass(frozen=True, slots=True)
class QueueChanged:
    """A group's queue moved: the first conversations in order (position = index + 1)."""

    group_id: int
    conversation_ids: list[int]
    eta_per_position_s: float | None


@dataclass(frozen=True, slots=True)
class Offer:
    conversation_id: int
    group_id: int
    agent_id: int
    expires_at_ms: int


@dataclass(frozen=True, slots=True)
class Assigned:
    conversation_id: int
    group_id: int
    agent_id: int
    via: str  # auto | accepted | picked | transferred


@dataclass(frozen=True, slots=True)
class OfferExpired:
    conversation_id: int
    agent_id: int
    reason: str  # timeout | declined | offline | left_group


@dataclass(frozen=True, slots=True)
class Requeued:
    conversation_id: int
    group_id: int
    agent_id: int  # who held it
    reason: str  # agent_lost | agent_offline | transferred | left_group


@dataclass(frozen=True, slots=True)
class Released:
    conversation_id: int
    agent_id: int | None
    status: str


@dataclass(frozen=True, slots=True)
class Rebuilt:
    """Live state was rebuilt from the records: clients should reload what they show."""

    epoch: str


@dataclass(frozen=True, slots=True)
class AgentNotified:
    """An automation rule's notice for one agent's console (``ingest.rule_outbox``).
    ``notice_id`` names it: a notice published again after a worker died before marking it
    done is the same notice (the hub shows it once)."""

    agent_id: int
    conversation_id: int
    number: str
    text: str
    rule_id: int
    notice_id: int


@dataclass(frozen=True, slots=True)
class TaskReminded:
    """A task's reminder for its owner's consoles (``ingest.task_reminders.sweep``, after the
    commit that stamped it): ``reminded_at`` names this reminder, so a console shows it once."""

    agent_id: int
    task_id: int
    title: str
    due_at: str | None
    reminded_at: str


Event = (Queued | QueueChanged | Offer | Assigned | OfferExpired | Requeued | Released | Rebuilt
         | AgentNotified | TaskReminded)

_TYPES: dict[str, type[Any]] = {
    "queued": Queued, "queue": QueueChanged, "offer": Offer, "assigned": Assigned,
    "offer_expired": OfferExpired, "requeued": Requeued, "released": Released,
    "rebuilt": Rebuilt, "agent_notified": AgentNotified, "task_reminded": TaskReminded,
}
_NAMES = {cls: name for name, cls in _TYPES.items()}


def dump(event: Event) -> bytes:
    return orjson.dumps({"type": _NAMES[type(event)], **asdict(event)})


def parse(raw: bytes | str) -> Event:
    """Inverse of ``dump``; raises ValueError on anything else."""
    data = orjson.loads(raw)
    if not isinstance(data, dict):
        raise ValueError("event must be a JSON object")
    match data.pop("type", None):
        case str(name) if name in _TYPES:
            try:
                event: Event = _TYPES[name](**data)
            except TypeError as exc:
                raise ValueError(f"bad {name} event: {exc}") from None
            return event
        case other:
            raise ValueError(f"unknown event type {other!r}")
