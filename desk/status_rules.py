"""Which status a conversation may move to, and what each move asks of routing: one home.

Every path that changes a status asks here: the HTTP API (an agent's status change), the agent
socket (closing or ending a chat) and mail ingest (a customer writing into a ticket). The
records keep ``active`` for an open, assigned conversation; people read it as "open".

Staff moves:

* ``queued`` / ``offered`` (nobody works it yet): resolved or closed (answered elsewhere, spam).
  Taking it is the router's (accept, pick, assign), never a status change.
* ``active`` (open): pending (a ticket waiting for the customer; a chat never waits), resolved,
  closed.
* ``pending``: resolved, closed, or reopened (back to the queue: the agent's slot was freed
  when it went pending, so the router decides again who takes it).
* ``resolved``: closed, or reopened (back to the queue).
* ``closed``: final for staff; only the customer writing again reopens a ticket.
* ``noise``: only ``promote`` (its own endpoint) makes it work.

Mail into a resolved or closed ticket queues it again; so does a person (not an auto-reply)
writing into a pending or noise ticket; into an open one it changes nothing. A chat ends
``closed`` when the visitor ends it and ``resolved`` when staff do.
"""

from __future__ import annotations

from dataclasses import dataclass

from desk.errors import Conflict

WAITING = ("queued", "offered")
OPEN = ("queued", "offered", "active", "pending")
FREES_AGENT = ("pending", "resolved", "closed")  # the router releases the slot
ENDED = ("resolved", "closed")
STAFF_STATUSES = ("queued", "active", "pending", "resolved", "closed")  # what the API accepts
LABELS = {"queued": "queued", "offered": "offered", "active": "open",
          "pending": "pending (waiting for the customer)", "resolved": "resolved",
          "closed": "closed", "noise": "noise"}

_STAFF: dict[str, tuple[str, ...]] = {
    "queued": ("resolved", "closed"),
    "offered": ("resolved", "closed"),
    "active": ("pending", "resolved", "closed"),
    "pending": ("queued", "resolved", "closed"),
    "resolved": ("queued", "closed"),
    "closed": (),
    "noise": (),
}


class InvalidTransition(Conflict):
    """A status move the rules do not allow from where the conversation is (HTTP 409)."""


@dataclass(frozen=True, slots=True)
class Move:
    """A permitted move: the new status, and what routing must do about it."""

    status: str
    release: bool  # the router frees the holder's slot (or takes it out of the queue)
    route: bool  # the router queues it again
    ends: bool  # closed_at is stamped (resolved, closed)


def _move(status: str) -> Move:
    return Move(status, release=status in FREES_AGENT, route=status == "queued",
                ends=status in ENDED)


def staff_targets(current: str, channel: str) -> tuple[str, ...]:
    """The statuses staff may set from ``current`` (what the console offers)."""
    targets = _STAFF.get(current, ())
    if channel == "chat":  # a chat neither waits for the visitor nor comes back from the queue
        targets = tuple(t for t in targets if t not in ("pending", "queued"))
    return targets


def staff_move(current: str, target: str, channel: str) -> Move:
    """Staff set ``target``: the move, or InvalidTransition saying what is allowed."""
    allowed = staff_targets(current, channel)
    if target not in allowed:
        if current == "noise":
            why = "promote it to a ticket first"
        elif target == "active" and current in WAITING:
            why = "take it (accept, pick or assign) to open it"
        elif allowed:
            why = "it can go to " + ", ".join(LABELS[t] for t in allowed)
        else:
            why = "it is final"
        raise InvalidTransition(f"a {LABELS.get(current, current)} {channel} conversation "
                                f"cannot be set {LABELS.get(target, target)}: {why}")
    return _move(target)


def customer_wrote(current: str, *, person: bool = True) -> Move | None:
    """A customer's mail or portal message joined the ticket: the move, or None to stay."""
    if current in ENDED or (current in ("pending", "noise") and person):
        return _move("queued")
    return None


def ended_status(*, by_visitor: bool) -> str:
    """How a conversation its customer or staff ended reads: closed by the customer (chat
    socket, case page), resolved by staff."""
    return "closed" if by_visitor else "resolved"


def chat_end(current: str, *, by_visitor: bool) -> Move | None:
    """A chat ended from the socket: the move, or None when it is no longer open."""
    if current not in OPEN:
        return None
    return _move(ended_status(by_visitor=by_visitor))
